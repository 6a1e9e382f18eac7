"""The server's launcher: the modules the pages use are loaded, and frozen, before the first user comes."""

import ast
import subprocess
import sys
from pathlib import Path

from explorer.serve import PRELOADED

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(script: Path) -> set[str]:
    """Modules a script imports at its top level: ``from explorer import ui`` counts as ``explorer.ui``."""
    names = set()
    for node in ast.parse(script.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names.add(node.module)
            if node.module == "explorer":
                names.update(f"explorer.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] not in sys.stdlib_module_names}


def test_every_module_a_page_imports_is_preloaded():
    scripts = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    imported = set().union(*map(imported_modules, scripts))
    assert "explorer.fewshot" in imported and "plotly.graph_objects" in imported
    # the drawing pad registers its component with the running server, so only a page can import it
    assert imported - {"explorer", "streamlit_drawable_canvas"} <= set(PRELOADED)


def test_preload_freezes_the_libraries_so_a_full_collection_skips_them():
    code = ("import gc; from explorer.serve import preload; frozen = preload(); "
            "gc.collect(); print(frozen, len(gc.get_objects()))")
    frozen, left = map(int, subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                           check=True).stdout.split())
    assert frozen > 100_000  # torch, pandas, plotly and Streamlit: about 430,000 objects
    assert left < frozen / 20  # what a collection still walks
