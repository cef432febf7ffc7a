"""The store seam: what the retriever reads and the indexer writes, whichever backend holds it."""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pytest

from embeddings.errors import QAError
from embeddings.lexical import LexicalIndex, tokenize
from embeddings.store import LocalWriter, open_store, open_writer
from embeddings.store.local import IndexStore


def test_a_folder_location_opens_the_folder_store(seed_index):
    store = open_store(seed_index)
    assert isinstance(store, IndexStore) and store.location == str(seed_index)
    assert isinstance(open_writer(seed_index), LocalWriter)
    assert store.chunk_count() == store.manifest.chunk_count > 0
    assert store.has_space("dense") and store.has_space("crosslingual")


def test_lexical_search_is_the_best_bm25_scores_ties_by_position(seed_index):
    store = open_store(seed_index)
    terms = Counter(tokenize("镇江提出哪一年实现碳峰值？"))
    every = store.lexical.weighted_scores(terms)
    positions, scores = store.lexical_search(terms, 7)
    expected = sorted(np.flatnonzero(every > 0), key=lambda p: (-every[p], p))[:7]
    assert positions.tolist() == expected
    assert scores.tolist() == every[expected].tolist()
    assert store.lexical_scores(terms, positions).tolist() == scores.tolist()
    assert store.idf("镇江") == store.lexical.idf("镇江")
    assert "镇江" in store.vocabulary()


def _reference_best(every: np.ndarray, depth: int) -> tuple[list[int], list[float]]:
    """The ranking as the stores computed it before: a stable argsort of every chunk."""
    top = np.argsort(-every, kind="stable")[:depth]
    top = top[every[top] > 0]
    return top.tolist(), every[top].tolist()


def test_bm25_by_postings_ranks_and_scores_as_every_chunk_summed_with_ties(
    seed_index, seed_questions
):
    store = open_store(seed_index)
    # every real chunk twice, the copies apart: each score is tied at least twice, and the
    # copy nearer the start must win each tie
    tokens = [t for doc_id in store.manifest.documents for t in store.tokens_of(doc_id)]
    lexical = LexicalIndex.build(tokens + tokens[::-1])
    questions = [q["question"] for q in seed_questions] + ["镇江 镇江 碳峰值 Zhenjiang"]
    queries = [Counter(tokenize(q)) for q in questions]
    queries += [{"镇江": 0.5, "碳": 2.0, "峰值": 1.25}, {"镇江": 0.1, "没有这个词": 3.0}, {}]
    ties = 0
    for terms in queries:
        every = lexical.weighted_scores(terms)
        summed = lexical.query_scores(terms)
        for depth in (1, 2, 7, 30, len(every)):
            want_positions, want_scores = _reference_best(every, depth)
            positions, scores = summed.best(depth)
            assert positions.tolist() == want_positions
            assert scores.tolist() == want_scores  # bit for bit: the same float32 additions
            ties += len(scores) - len(set(scores.tolist()))
        everywhere = np.arange(len(every))
        assert summed.at(everywhere).tolist() == every.tolist()
        assert summed.at(everywhere[::-1][:50]).tolist() == every[::-1][:50].tolist()
    assert ties > 100  # the rankings did break ties
    positions, scores = store.lexical_search(queries[0], 30)
    assert (positions.tolist(), scores.tolist()) == _reference_best(
        store.lexical.weighted_scores(queries[0]), 30
    )


def test_dense_search_gives_positions_best_first_and_exact_scores(seed_index, embedder):
    store = open_store(seed_index)
    query = embedder.embed_queries(["镇江提出哪一年实现碳峰值？"])[0]
    positions, scores = store.dense_search("dense", query, 5)
    assert positions.dtype == np.int64 and len(positions) == 5
    assert list(scores) == sorted(scores, reverse=True)
    assert np.allclose(store.dense_scores("dense", query, positions), scores, atol=1e-5)
    chunks = store.chunks_at(positions.tolist())
    assert [c.doc_id for c in chunks][0] in store.manifest.documents
    everything, _ = store.dense_search("dense", query, 10**6)
    assert sorted(everything.tolist()) == list(range(store.chunk_count()))


def test_a_database_location_without_the_extra_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "embeddings.store.postgres", None)  # as if not installed
    for opener in (open_store, open_writer):
        with pytest.raises(QAError, match=r"pip install 'qa\[postgres\]'"):
            opener("postgresql://qa:secret@localhost/qa")
