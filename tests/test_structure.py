"""Rules of the layout: pages hold UI only, so tensors stay in explorer/; no folder Streamlit would take for a menu."""

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_no_page_imports_torch():
    for page in [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py"))]:
        assert not {m for m in imported(page) if m.split(".")[0] == "torch"}, page.name


def test_no_pages_folder_beside_the_entry_point():
    """Streamlit takes ``pages/`` beside app.py for its older automatic menu, and a server whose first visitor opens
    a page's own address would show it above the app's menu for everyone (tests/e2e checks the browser's view)."""
    assert not (ROOT / "pages").exists()
