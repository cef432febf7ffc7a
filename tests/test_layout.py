"""The indexing side (embeddings/) never reaches into the question side (qa/)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_embeddings_never_imports_qa():
    sources = sorted((ROOT / "embeddings").rglob("*.py"))
    assert sources, "no embeddings/ sources found"
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path) if m.split(".")[0] == "qa"
        )
        for path in sources
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}
