"""A document is searchable by its words within seconds of `qa index` starting on it,
while its vectors are still being computed, and `qa ask` says so; the whole index that follows
is the one a run without that first commit gives. Real `qa` processes on CMRC documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from embeddings.indexer import EMBED_BATCH, embedded_texts, tokenized_text
from embeddings.lexical import tokenize
from embeddings.store.local import MANIFEST, IndexStore

DOCUMENTS = 30  # long enough to embed that a second process can ask meanwhile
QUESTION, DOC_ID = "莱昂德罗·内托的职业是什么？", "cmrc-dev-0004"
NOTE = "段暂时只按词语检索"


def _qa(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "qa", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


@pytest.fixture
def corpus(tmp_path, cmrc_documents) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for record in cmrc_documents[:DOCUMENTS]:
        (folder / f"{record['doc_id']}.txt").write_text(
            f"{record['title']}\n{record['text']}", encoding="utf-8"
        )
    return folder


def _words_first(root: Path, run: subprocess.Popen) -> dict:
    """The manifest of the run's first commit, as soon as it is live."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and run.poll() is None:
        try:
            manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
        if manifest.get("vectors_pending"):
            return manifest
        time.sleep(0.05)
    raise AssertionError(f"no words-first generation went live: {run.communicate()[1]}")


def _chunk_count(manifest: dict) -> int:
    return sum(entry["count"] for entry in manifest["documents"].values())


def _assert_whole_as_a_plain_run_makes_it(root: Path, embedder) -> None:
    """Every chunk's vectors those of its embedded text in the indexer's batches, its tokens
    those of its titled text: what the index held before it committed words first."""
    store = IndexStore.open(root)
    assert store.manifest.vectors_pending == [] and store.damage() == {}
    chunks = store.chunks_at(range(store.chunk_count()))
    texts = embedded_texts(chunks)
    expected = np.concatenate(
        [
            embedder.embed_passages(texts[begin : begin + EMBED_BATCH])
            for begin in range(0, len(texts), EMBED_BATCH)
        ]
    )
    stored = store.vectors.reconstruct_n(0, len(chunks))
    assert np.abs(stored - expected).max() <= 1e-5
    assert np.abs(store.crosslingual.reconstruct_n(0, len(chunks))).sum(axis=1).min() > 0
    by_doc = {d: store.tokens_of(d) for d in store.manifest.documents}
    assert [t for d in store.manifest.documents for t in by_doc[d]] == [
        tokenize(tokenized_text(c)) for c in chunks
    ]


@pytest.mark.slow
def test_a_document_is_answered_by_its_words_while_its_vectors_are_computed(
    tmp_path, corpus, embedder
):
    root = tmp_path / "ix"
    run = _qa("index", str(corpus), "--index", str(root))
    manifest = _words_first(root, run)
    assert len(manifest["vectors_pending"]) == DOCUMENTS
    asked = _qa("ask", QUESTION, "--index", str(root), "--backend", "extractive")
    out, err = asked.communicate(timeout=300)
    indexing_meanwhile = run.poll() is None
    assert asked.returncode == 0, err
    assert NOTE in err and f"（索引仍在建立：{_chunk_count(manifest)} 段中有" in err
    assert DOC_ID in out and "足球运动员" in out  # found and answered by BM25 alone
    assert indexing_meanwhile, "the index finished first: make the corpus larger"
    _, index_err = run.communicate(timeout=600)
    assert run.returncode == 0, index_err
    _assert_whole_as_a_plain_run_makes_it(root, embedder)
    again = _qa("ask", QUESTION, "--index", str(root), "--backend", "extractive")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0 and NOTE not in err and DOC_ID in out


def test_a_chunk_without_vectors_is_ranked_by_its_words_beside_the_embedded():
    from qa.retrieve.fusion import partly_embedded, weighted_zscore
    from qa.retrieve.retriever import LEXICAL
    from qa.rules import RetrievalRules

    weights = RetrievalRules().fusion_weights["zh"]
    # the third candidate is still being embedded: its dense score is a zero vector's
    scores = {"dense": np.array([0.90, 0.80, 0.0, 0.70]), "bm25": np.array([4.0, 1.0, 9.0, 0.5])}
    pending = np.array([False, False, True, False])
    fused = partly_embedded(scores, weights, pending, LEXICAL)
    assert list(np.argsort(-fused)) == [2, 0, 1, 3]  # best words first; the rest as fused alone
    embedded = weighted_zscore({n: s[~pending] for n, s in scores.items()}, weights)
    assert np.allclose(fused[~pending], embedded)
    scores["bm25"][2] = 0.1  # a pending chunk with few of the words ranks below the embedded
    fused = partly_embedded(scores, weights, pending, LEXICAL)  # that have more of them
    assert list(np.argsort(-fused))[:3] == [0, 1, 2]
