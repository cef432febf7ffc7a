"""Imports point one way: the indexing side (embeddings/) never reaches into the question side
(qa/), and each stage of qa/ never reaches into the stages after it."""

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


# Each stage folder of qa/ and the modules it must never import: the flow runs retrieve → answer
# → verify → pipeline → the doors (api, chat, cli, evaluation), and imports point back along it.
_LATER = {
    "qa/retrieve": ("qa.answering", "qa.verify", "qa.pipeline", "qa.api", "qa.chat", "qa.cli"),
    "qa/answering": ("qa.verify", "qa.pipeline", "qa.api", "qa.chat", "qa.cli"),
    "qa/verify": ("qa.pipeline", "qa.api", "qa.chat", "qa.cli"),
}


def _reaches(module: str, banned: tuple[str, ...]) -> bool:
    return any(module == b or module.startswith(f"{b}.") for b in banned)


def test_each_stage_imports_only_the_stages_before_it():
    offenders = {}
    for folder, banned in _LATER.items():
        sources = sorted((ROOT / folder).rglob("*.py"))
        assert sources, f"no {folder}/ sources found"
        for path in sources:
            found = sorted(m for m in _imported_modules(path) if _reaches(m, banned))
            if found:
                offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}
