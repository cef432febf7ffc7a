"""Question → the k best passages: dense (FAISS) and BM25 candidates, fused into one ranking."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.cleaning import clean_text, has_cjk
from embeddings.embedders import Embedder, load_embedder
from embeddings.lexical import tokenize
from embeddings.store import IndexMismatch, Space, Store, open_store
from qa.bridge import EnglishBridge
from qa.fusion import weighted_zscore
from qa.records import Passage

# Weights of each retriever's z-scored candidates scores. Chosen on the CMRC dev subset
# (bench/fusion.py, docs/BENCHMARKS.md). Chinese, 500 questions in simplified and traditional
# characters: 0.6 dense / 0.4 BM25 reached recall@1 0.990, recall@5 0.998 (dense alone
# 0.970 / 0.990, BM25 alone 0.954 / 0.994, reciprocal-rank fusion 0.982 / 0.996). English, 120
# questions: four signals in equal parts reached recall@5 0.867 (dense alone 0.592, dense and
# USE 0.767); equal parts, since 120 questions cannot tell finer weights apart.
WEIGHTS = {
    "zh": {"dense": 0.6, "bm25": 0.4},
    "en": {"dense": 0.25, "use": 0.25, "dict_bm25": 0.25, "dict_dense": 0.25},
}
# Each list contributes this many candidates: deep enough that the right chunk is almost always
# among them, shallow enough that normalising over them stays about the question's neighbourhood.
CANDIDATES = 30
# A reranker reorders this many of the fused passages, then the best k are kept.
RERANK_DEPTH = 20
# Dictionary terms added to the English question for the dict_dense signal: those with at least
# this share of one English word, the strongest first.
DICT_TERM_MIN_WEIGHT = 0.25
DICT_TERMS_IN_QUERY = 8


@dataclass
class Candidates:
    """Every chunk some retriever proposed, with every retriever's score and 1-based rank (0:
    not in that retriever's list).

    A question with Chinese characters is read by dense and BM25. One without (English over
    Chinese text, where BM25 finds nothing real) by dense, the cross-lingual embedder (use),
    BM25 over the Chinese terms a dictionary gives for its words (dict_bm25, qa/bridge.py), and
    dense again on the question with those terms added (dict_dense).
    """

    positions: np.ndarray
    scores: dict[str, np.ndarray]
    ranks: dict[str, np.ndarray]

    def fused(self, weights: dict[str, float]) -> np.ndarray:
        return weighted_zscore(self.scores, weights)


def _ranks(positions: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    rank_of = {int(p): r for r, p in enumerate(ranked, start=1)}
    return np.array([rank_of.get(int(p), 0) for p in positions], dtype=np.int64)


class Retriever:
    def __init__(self, store: Store, embedder: Embedder):
        if embedder.name != store.manifest.embedder or embedder.dim != store.manifest.dim:
            raise IndexMismatch(
                f"the index at {store.location} was built with embedder {store.manifest.embedder} "
                f"({store.manifest.dim}-d), not {embedder.name} ({embedder.dim}-d); "
                "run `qa index --rebuild` or choose the index's embedder"
            )
        self.store = store
        self.embedder = embedder
        self.reranker = None
        self._crosslingual_model = None
        self._bridge: EnglishBridge | None = None
        self._last_query: tuple[str, np.ndarray] | None = None

    @classmethod
    def open(
        cls, index: str | Path, embedder: Embedder | str | None = None, kb: str = "default"
    ) -> Retriever:
        """index: a folder or a postgresql:// URL, where kb names the knowledge base."""
        store = open_store(index, kb)
        embedder = embedder or os.environ.get("QA_EMBEDDER")
        if not hasattr(embedder, "embed_queries"):
            if embedder and embedder != store.manifest.embedder:
                raise IndexMismatch(
                    f"the index at {store.location} was built with embedder "
                    f"{store.manifest.embedder}, "
                    f"not {embedder}; run `qa index --rebuild --embedder {embedder}`"
                )
            embedder = load_embedder(store.manifest.embedder)
        return cls(store, embedder)

    def candidates(self, question: str, depth: int = CANDIDATES) -> Candidates:
        # The dense model reads the question's own characters: on a traditional-Chinese set it
        # did better on the originals than on their simplified conversion. BM25 reads the
        # matching form, where 鎮江 and 镇江 are one term.
        store = self.store
        vector = self.query_vector(question)
        dense: dict[str, tuple[Space, np.ndarray]] = {"dense": ("dense", vector)}
        lexical: dict[str, Mapping[str, float]] = {}
        if self.language(question) == "zh":
            lexical["bm25"] = Counter(tokenize(question))
        else:
            dense["use"] = (
                "crosslingual",
                self._crosslingual_embedder().embed_queries([question])[0],
            )
            terms = self.bridge().terms(question)
            lexical["dict_bm25"] = terms
            strongest = sorted(
                (t for t, w in terms.items() if w >= DICT_TERM_MIN_WEIGHT), key=lambda t: -terms[t]
            )[:DICT_TERMS_IN_QUERY]
            with_terms = f"{clean_text(question)} {' '.join(strongest)}"
            dense["dict_dense"] = ("dense", self.embedder.embed_queries([with_terms])[0])
        listed = {
            name: store.dense_search(space, query, depth)[0]
            for name, (space, query) in dense.items()
        }
        listed |= {name: store.lexical_search(terms, depth)[0] for name, terms in lexical.items()}
        positions = np.unique(np.concatenate(list(listed.values())))
        # exact scores for the candidates only some lists proposed, from the stored vectors
        scores = {
            name: store.dense_scores(space, query, positions)
            for name, (space, query) in dense.items()
        }
        scores |= {name: store.lexical_scores(terms, positions) for name, terms in lexical.items()}
        ranks = {name: _ranks(positions, top) for name, top in listed.items()}
        return Candidates(positions, scores, ranks)

    def language(self, question: str) -> str:
        """Which retrievers read the question: "zh" for one with Chinese characters (or any
        question when the index has no cross-lingual vectors), else "en"."""
        return "zh" if has_cjk(question) or not self.store.has_space("crosslingual") else "en"

    def bridge(self) -> EnglishBridge:
        if self._bridge is None:
            self._bridge = EnglishBridge(self.store.vocabulary())
        return self._bridge

    def query_vector(self, question: str) -> np.ndarray:
        """The question's dense vector, kept for the answerer that asks next (one embedding
        per question on `qa ask`, not two)."""
        if self._last_query is None or self._last_query[0] != question:
            self._last_query = (question, self.embedder.embed_queries([clean_text(question)])[0])
        return self._last_query[1]

    def _crosslingual_embedder(self) -> Embedder:
        if self._crosslingual_model is None:
            self._crosslingual_model = load_embedder(self.store.manifest.crosslingual)
        return self._crosslingual_model

    def _source(self, doc_id: str) -> str:
        entry = self.store.manifest.documents.get(doc_id)
        return entry.source if entry else ""

    def search(self, question: str, k: int = 5) -> list[Passage]:
        if self.store.chunk_count() == 0:
            return []
        found = self.candidates(question, max(CANDIDATES, k))
        fused = found.fused(WEIGHTS[self.language(question)])
        keep = max(k, RERANK_DEPTH) if self.reranker is not None else k
        order, chunks = self._distinct(found, np.argsort(-fused, kind="stable"), keep)
        passages = [
            Passage(
                n,
                c.doc_id,
                c.title,
                c.text,
                c.start,
                c.end,
                score=float(fused[i]),
                signals={
                    name: (float(found.scores[name][i]), int(found.ranks[name][i]) or None)
                    for name in found.scores
                },
                location=c.location,
                sections=c.sections,
                source=self._source(c.doc_id),
            )
            for n, (i, c) in enumerate(zip(order, chunks, strict=True), start=1)
        ]
        if self.reranker is not None:
            passages = self.reranker.rerank(question, passages)[:k]
        return passages

    def _distinct(self, found: Candidates, ranked: np.ndarray, keep: int):
        """The best `keep` candidates whose texts differ, with their chunks: a file indexed
        twice (or a paragraph pasted into many) would otherwise fill every place with one text."""
        order, chunks, seen = [], [], set()
        for begin in range(0, len(ranked), keep):
            batch = ranked[begin : begin + keep]
            for i, chunk in zip(
                batch, self.store.chunks_at([int(found.positions[i]) for i in batch]), strict=True
            ):
                text = " ".join(chunk.text.split())
                if text not in seen and len(order) < keep:
                    seen.add(text)
                    order.append(i)
                    chunks.append(chunk)
            if len(order) == keep:
                break
        return order, chunks

    def search_followup(
        self,
        standalone: str,
        own_words: str,
        k: int = 5,
        merge: str = "max",
        own_weight: float = 1.0,
    ) -> list[Passage]:
        """Passages for a chat follow-up that was made standalone: retrieved with the rewrite and
        with the user's own words, so a rewrite that kept the wrong subject cannot hide what the
        user named. merge "max" (the default): each chunk at the better of its two fused scores,
        so the more decided of the two searches leads; "rrf": reciprocal-rank fusion of the two
        rankings, the user's words weighted own_weight. On the dialogues of bench/followup.py
        "max" ranked the right document first most often (docs/BENCHMARKS.md)."""
        from dataclasses import replace

        from qa.fusion import RRF_K

        depth = max(CANDIDATES, k)
        reranker, self.reranker = self.reranker, None
        try:  # the rewrite last: its query vector stays cached for the answerer
            lists = [
                (own_weight, self.search(own_words, depth)),
                (1.0, self.search(standalone, depth)),
            ]
        finally:
            self.reranker = reranker
        score: dict[tuple[str, int], float] = {}
        passage: dict[tuple[str, int], Passage] = {}
        for weight, passages in lists:
            for rank, p in enumerate(passages, start=1):
                key = (p.doc_id, p.start)
                if merge == "max":
                    value = p.score
                    if key not in score or value > score[key]:
                        score[key], passage[key] = value, p
                else:
                    score[key] = score.get(key, 0.0) + weight / (RRF_K + rank)
                    passage.setdefault(key, p)
        order = sorted(score, key=lambda key: -score[key])
        keep = max(k, RERANK_DEPTH) if self.reranker is not None else k
        merged = [
            replace(passage[key], n=n, score=score[key])
            for n, key in enumerate(order[:keep], start=1)
        ]
        if self.reranker is not None:
            merged = self.reranker.rerank(standalone, merged)[:k]
        return merged
