"""answer() in a loop: the index and models opened once for the same settings, opened again when
the index is rebuilt, never another index's."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from embeddings.indexer import build_index
from qa.api import answer
from qa.retrieve.retriever import Retriever

OLD = "镇江市的低碳城市建设始于2010年。镇江提出2020年实现碳排放峰值。\n"
NEW = "镇江市的低碳城市建设始于2010年。镇江提出2035年实现碳排放峰值。\n"
OTHER = "深圳国际低碳城论坛在深圳市龙岗区举办。论坛征集了两百个绿色技术。\n"
QUESTION = "镇江提出哪一年实现碳排放峰值？"


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The index locations answer() opens, in order."""
    locations: list[str] = []
    real_open = Retriever.open.__func__

    def counting_open(cls, location, *args, **kwargs):
        locations.append(str(location))
        return real_open(cls, location, *args, **kwargs)

    monkeypatch.setattr(Retriever, "open", classmethod(counting_open))
    return locations


def _index(root: Path, text: str, embedder) -> Path:
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "report.txt").write_text(text, encoding="utf-8")
    build_index(root / "index", [docs], embedder=embedder)
    return root / "index"


def test_answer_opens_the_index_once_for_the_same_settings(tmp_path, embedder, opened):
    index = _index(tmp_path, OLD, embedder)
    first = answer(QUESTION, index=index, backend="extractive")
    second = answer(QUESTION, index=index, backend="extractive")
    assert opened == [str(index)]
    assert "2020年" in first.answer and second.answer == first.answer


def test_answer_sees_a_rebuilt_index(tmp_path, embedder, opened):
    index = _index(tmp_path, OLD, embedder)
    assert "2020年" in answer(QUESTION, index=index, backend="extractive").answer
    _index(tmp_path, NEW, embedder)
    rebuilt = answer(QUESTION, index=index, backend="extractive")
    assert "2035年" in rebuilt.answer and "2020年" not in rebuilt.answer
    assert opened == [str(index), str(index)]


def test_answer_never_answers_from_another_index(tmp_path, embedder, opened):
    ours = _index(tmp_path / "ours", OLD, embedder)
    other = _index(tmp_path / "other", OTHER, embedder)
    assert "2020年" in answer(QUESTION, index=ours, backend="extractive").answer
    from_other = answer(QUESTION, index=other, backend="extractive")
    assert "2020" not in from_other.answer + "".join(p.text for p in from_other.passages)
    assert opened == [str(ours), str(other)]


def test_questions_from_several_threads_share_one_opening(tmp_path, embedder, opened):
    index = _index(tmp_path, OLD, embedder)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: answer(QUESTION, index=index).answer, range(4)))
    assert opened == [str(index)]
    assert len(set(answers)) == 1 and "2020年" in answers[0]
