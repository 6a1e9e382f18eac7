"""Rules of the layout: pages hold UI only, so tensors stay in explorer/."""

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_no_page_imports_torch():
    for page in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        assert not {m for m in imported(page) if m.split(".")[0] == "torch"}, page.name
