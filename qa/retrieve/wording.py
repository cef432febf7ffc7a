"""Retrieval's second look at its first passages: how much of the question's own wording each one
holds (qa.question's IDF-weighted coverage, the title read with the text).

The fused score rates a passage as a whole, by one vector and by BM25 over whole words. Paragraphs
of one article share its names and its subject, so those signals rank them close; the one that
also says the question's rarer words is the likelier answer. On the development sets
(bench/lookalike.py, docs/BENCHMARKS.md) re-sorting the fused top 5 by fused score + 2 × coverage
took recall@1 from 0.984 to 0.990 on DRCD (0.971 to 0.981 where paragraphs of one article
compete) and from 0.994 to 0.998 on CMRC; every weight from 1.5 to 3 gave the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from embeddings.records import real_title
from qa.question import analyse, coverage
from qa.records import Passage
from qa.rules import Rules


def reorder_by_wording(
    question: str, passages: list[Passage], idf: Callable[[str], float], rules: Rules = Rules()
) -> list[Passage]:
    """The first wording_depth passages re-sorted by fused score + wording_weight × coverage, the
    others after them as they were; renumbered from 1. Only the first are re-sorted because
    only that depth was measured: a deeper passage that says every word stays where it is."""
    terms = analyse(question, idf, rules=rules.question).terms
    if not terms:
        return passages
    depth, weight = rules.retrieval.wording_depth, rules.retrieval.wording_weight
    first = [(p, coverage(terms, _read(p))) for p in passages[:depth]]
    first.sort(key=lambda pair: -(pair[0].score + weight * pair[1]))
    head = [replace(p, wording=held) for p, held in first]
    return [replace(p, n=n) for n, p in enumerate(head + passages[depth:], start=1)]


def _read(passage: Passage) -> str:
    if real_title(passage.title, passage.doc_id):
        return f"{passage.title}\n{passage.text}"
    return passage.text  # a file name standing in for a title says nothing the question asks
