"""docs/design.md's module map and layer rule, checked against the tree.

Why: the map is how a contributor finds the one home of a job; a module added without a row, or a
row naming a module that was moved away, makes it lie. The layer rule (nothing below `engine/`
imports it) is what keeps the storage seam and the upstream layer reusable by maintenance and the
wrapper, so an import that breaks it fails here rather than in review.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "mirror_tool"
DESIGN = REPO / "docs" / "design.md"

# Layers below engine/ (design.md, "Layers, top to bottom").
LOWER_LAYERS = ("upstream", "index", "filters", "config", "net", "storage")
LOWER_MODULES = ("state.py", "names.py", "records.py")


def _module_table() -> list[str]:
    """First cells of the rows of the "## Modules" table."""
    text = DESIGN.read_text(encoding="utf-8")
    section = text.split("\n## Modules\n", 1)[1].split("\n## ", 1)[0]
    cells = []
    for line in section.splitlines():
        if line.startswith("| `"):
            cells.append(line.split("|")[1])
    return cells


def _named_paths() -> set[str]:
    """Paths the map names, relative to mirror_tool/ (a bare name follows the cell's last folder)."""
    named: set[str] = set()
    for cell in _module_table():
        folder = ""
        for token in re.findall(r"`([^`]+)`", cell):
            if "/" in token:
                folder = token.rsplit("/", 1)[0] + "/" if not token.endswith("/") else token
                named.add(token)
            else:
                named.add(folder + token)
    return named


def _modules() -> list[str]:
    return sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    )


def test_every_module_has_a_row_in_the_map() -> None:
    named = _named_paths()
    folders = {n for n in named if n.endswith("/")}
    missing = [m for m in _modules() if m not in named and not any(m.startswith(f) for f in folders)]
    assert missing == [], f"modules without a row in docs/design.md's module map: {missing}"


def test_every_row_of_the_map_names_something_that_exists() -> None:
    absent = sorted(n for n in _named_paths() if not (PACKAGE / n).exists())
    assert absent == [], f"docs/design.md names modules that are not in mirror_tool/: {absent}"


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["mirror_tool", *path.relative_to(PACKAGE).parts[:-1]]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_nothing_below_the_engine_imports_it() -> None:
    lower = [p for layer in LOWER_LAYERS for p in (PACKAGE / layer).rglob("*.py")]
    lower += [PACKAGE / name for name in LOWER_MODULES]
    offenders = []
    for path in lower:
        for module in _imports(path):
            if module.startswith(("mirror_tool.engine", "mirror_tool.maintenance", "mirror_tool.wrapper")):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert offenders == [], "layer rule of docs/design.md broken: " + "; ".join(sorted(offenders))
