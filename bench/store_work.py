"""One question's store work as Retriever.candidates does it: dense top 30, BM25 top 30, the
exact scores of the union, the chunks of the best five. Kept apart from bench/scale.py so that
the memory probe's process imports only this and the store."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from embeddings.lexical import tokenize

DEPTH = 30


def store_work(store, question: str, vector: np.ndarray) -> float:
    """Does the work; returns the seconds the dense search alone took."""
    started = time.perf_counter()
    dense, _ = store.dense_search("dense", vector, DEPTH)
    dense_seconds = time.perf_counter() - started
    terms = Counter(tokenize(question))
    lexical, _ = store.lexical_search(terms, DEPTH)
    union = np.union1d(dense, lexical)
    store.dense_scores("dense", vector, union)
    store.lexical_scores(terms, union)
    store.chunks_at(union[:5].tolist())
    return dense_seconds
