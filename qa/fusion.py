"""Ways to merge the dense and BM25 views of the same candidate chunks into one ranking.

Each takes, per candidate, the dense cosine, the BM25 score and the 1-based rank in each list
(0 when the candidate was not in that list), and returns one score per candidate, higher better.
bench/fusion.py compares them; qa/retrieval.py uses the one named by FUSION.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

RRF_K = 60


def reciprocal_rank(dense, lexical, dense_rank, lexical_rank, weight: float) -> np.ndarray:
    """Cormack et al.'s RRF, weighted: scores are thrown away, only ranks count."""
    dense_part = np.where(dense_rank > 0, 1.0 / (RRF_K + dense_rank), 0.0)
    lexical_part = np.where(lexical_rank > 0, 1.0 / (RRF_K + lexical_rank), 0.0)
    return weight * dense_part + (1 - weight) * lexical_part


def _minmax(values: np.ndarray) -> np.ndarray:
    spread = values.max() - values.min() if len(values) else 0.0
    return (values - values.min()) / spread if spread > 0 else np.zeros_like(values)


def minmax(dense, lexical, dense_rank, lexical_rank, weight: float) -> np.ndarray:
    """Both scores rescaled to 0..1 over the candidates, then mixed. A question that shares no
    term with the corpus (English over Chinese) has BM25 all zero and falls back to dense alone."""
    return weight * _minmax(dense) + (1 - weight) * _minmax(lexical)


def _zscore(values: np.ndarray) -> np.ndarray:
    spread = values.std() if len(values) else 0.0
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def zscore(dense, lexical, dense_rank, lexical_rank, weight: float) -> np.ndarray:
    """Both scores standardised over the candidates, then mixed: less swayed by one outlier."""
    return weight * _zscore(dense) + (1 - weight) * _zscore(lexical)


def weighted_zscore(scores: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Any number of retrievers' scores, each standardised over the candidates, then mixed."""
    mixed = np.zeros(len(next(iter(scores.values()))), dtype=np.float64)
    for name, w in weights.items():
        mixed = mixed + w * _zscore(np.asarray(scores[name], dtype=np.float64))
    return mixed


def dense_only(dense, lexical, dense_rank, lexical_rank, weight: float) -> np.ndarray:
    return np.asarray(dense, dtype=np.float64)


def lexical_only(dense, lexical, dense_rank, lexical_rank, weight: float) -> np.ndarray:
    # dense breaks ties among chunks BM25 cannot tell apart (all zero for an English question)
    return np.asarray(lexical, dtype=np.float64) + 1e-6 * np.asarray(dense)


FUSIONS: dict[str, Callable[..., np.ndarray]] = {
    "dense": dense_only,
    "bm25": lexical_only,
    "rrf": reciprocal_rank,
    "minmax": minmax,
    "zscore": zscore,
}
