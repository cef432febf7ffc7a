"""One ranking from several retrievers' scores of the same candidates, and reciprocal-rank
fusion's term for merging two rankings (a chat follow-up's two searches). bench/fusion.py
compares these with the other fusions it tried."""

from __future__ import annotations

import numpy as np


def reciprocal_rank(ranks: np.ndarray | int, weight: float = 1.0, *, k: int) -> np.ndarray:
    """Cormack et al.'s RRF term for 1-based ranks, weighted, with constant k
    (RetrievalRules.rrf_k); rank 0 (not ranked) earns 0."""
    ranks = np.asarray(ranks, dtype=np.int64)
    return np.where(ranks > 0, weight / (k + ranks), 0.0)


def zscored(values: np.ndarray) -> np.ndarray:
    """Scores standardised over the candidates: mixing them is less swayed by one outlier."""
    spread = values.std() if len(values) else 0.0
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def weighted_zscore(scores: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Any number of retrievers' scores, each standardised over the candidates, then mixed."""
    mixed = np.zeros(len(next(iter(scores.values()))), dtype=np.float64)
    for name, w in weights.items():
        mixed = mixed + w * zscored(np.asarray(scores[name], dtype=np.float64))
    return mixed


def partly_embedded(
    scores: dict[str, np.ndarray],
    weights: dict[str, float],
    words_only: np.ndarray,
    lexical: frozenset[str],
) -> np.ndarray:
    """weighted_zscore where some candidates have no vectors yet (words_only): the others are
    fused as ever, among themselves; those are ranked by their lexical scores alone, z-scored
    over all candidates and weighted as if every signal agreed with them, so that a chunk
    still being embedded competes on the same scale."""
    embedded = ~words_only
    mixed = np.zeros(len(words_only), dtype=np.float64)
    if embedded.any():
        mixed[embedded] = weighted_zscore({n: s[embedded] for n, s in scores.items()}, weights)
    by_words = {name: w for name, w in weights.items() if name in lexical}
    if by_words:
        scale = sum(weights.values()) / sum(by_words.values())
        mixed[words_only] = scale * weighted_zscore(scores, by_words)[words_only]
    return mixed
