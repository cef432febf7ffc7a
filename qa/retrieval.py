"""Question → the k best passages: dense (FAISS) and BM25 candidates, fused into one ranking."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.embedders import Embedder, load_embedder
from embeddings.lexical import tokenize
from embeddings.store import IndexMismatch, IndexStore
from qa.cleaning import clean_text, has_cjk
from qa.fusion import FUSIONS
from qa.records import Passage

# Chosen on the CMRC dev subset, 500 questions in simplified and in traditional Chinese and 120
# in English (bench/fusion.py, docs/BENCHMARKS.md): z-scores mixed 0.6 dense / 0.4 BM25 reach
# recall@1 0.990 and recall@5 0.998 (dense alone 0.970 / 0.990, BM25 alone 0.954 / 0.994,
# reciprocal-rank fusion 0.982 / 0.996). For English, mixing dense with the cross-lingual
# signal 0.4 / 0.6 did best (recall@5 0.725; dense alone 0.583).
FUSION = "zscore"
DENSE_WEIGHT = {"bm25": 0.6, "use": 0.4}
# Each list contributes this many candidates: deep enough that the right chunk is almost always
# among them, shallow enough that normalising over them stays about the question's neighbourhood.
CANDIDATES = 30
# A reranker reorders this many of the fused passages, then the best k are kept.
RERANK_DEPTH = 20


@dataclass
class Candidates:
    """Every chunk either list proposed, with both scores and both ranks (0: not in that list).

    The second list is BM25 for a question with Chinese characters; for one without (English
    over Chinese text, where BM25 finds nothing real) it is the cross-lingual embedder.
    """

    positions: np.ndarray
    dense: np.ndarray
    second: np.ndarray
    dense_rank: np.ndarray
    second_rank: np.ndarray
    second_name: str  # "bm25" or "use"


def _ranks(positions: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    rank_of = {int(p): r for r, p in enumerate(ranked, start=1)}
    return np.array([rank_of.get(int(p), 0) for p in positions], dtype=np.int64)


class Retriever:
    def __init__(self, store: IndexStore, embedder: Embedder):
        if embedder.name != store.manifest.embedder or embedder.dim != store.manifest.dim:
            raise IndexMismatch(
                f"the index at {store.root} was built with embedder {store.manifest.embedder} "
                f"({store.manifest.dim}-d), not {embedder.name} ({embedder.dim}-d); "
                "run `qa index --rebuild` or choose the index's embedder"
            )
        self.store = store
        self.embedder = embedder
        self.reranker = None
        self._crosslingual_model = None
        self._last_query: tuple[str, np.ndarray] | None = None

    @classmethod
    def open(cls, index: Path, embedder: Embedder | str | None = None) -> Retriever:
        store = IndexStore.open(index)
        embedder = embedder or os.environ.get("QA_EMBEDDER")
        if not hasattr(embedder, "embed_queries"):
            if embedder and embedder != store.manifest.embedder:
                raise IndexMismatch(
                    f"the index at {index} was built with embedder {store.manifest.embedder}, "
                    f"not {embedder}; run `qa index --rebuild --embedder {embedder}`"
                )
            embedder = load_embedder(store.manifest.embedder)
        return cls(store, embedder)

    def candidates(self, question: str, depth: int = CANDIDATES) -> Candidates:
        # The dense model reads the question's own characters: on a traditional-Chinese set it
        # did better on the originals than on their simplified conversion. BM25 reads the
        # matching form, where 鎮江 and 镇江 are one term.
        vector = self.query_vector(question)
        _, dense_positions = self.store.search(vector[None, :], depth)
        dense_positions = dense_positions[0][dense_positions[0] >= 0]
        crosslingual = self.store.crosslingual
        if has_cjk(question) or crosslingual is None:
            second_name = "bm25"
            second_all = self.store.lexical.scores(tokenize(question))
            second_positions = np.argsort(-second_all, kind="stable")[:depth]
            second_positions = second_positions[second_all[second_positions] > 0]
        else:
            second_name = "use"
            query = self._crosslingual_embedder().embed_queries([question])[0]
            _, found = crosslingual.search(query[None, :], min(depth, crosslingual.ntotal))
            second_positions = found[0][found[0] >= 0]
        positions = np.unique(np.concatenate([dense_positions, second_positions]))
        # exact scores for the candidates only one list proposed, from the stored vectors
        dense = np.stack([self.store.vectors.reconstruct(int(p)) for p in positions]) @ vector
        if second_name == "bm25":
            second = second_all[positions]
        else:
            second = np.stack([crosslingual.reconstruct(int(p)) for p in positions]) @ query
        return Candidates(
            positions,
            dense,
            second,
            _ranks(positions, dense_positions),
            _ranks(positions, second_positions),
            second_name,
        )

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

    def search(self, question: str, k: int = 5) -> list[Passage]:
        if self.store.vectors.ntotal == 0:
            return []
        found = self.candidates(question, max(CANDIDATES, k))
        fused = FUSIONS[FUSION](
            found.dense,
            found.second,
            found.dense_rank,
            found.second_rank,
            DENSE_WEIGHT[found.second_name],
        )
        keep = max(k, RERANK_DEPTH) if self.reranker is not None else k
        order = np.argsort(-fused, kind="stable")[:keep]
        chunks = self.store.chunks_at([int(found.positions[i]) for i in order])
        passages = [
            Passage(
                n,
                c.doc_id,
                c.title,
                c.text,
                c.start,
                c.end,
                score=float(fused[i]),
                dense_score=float(found.dense[i]),
                dense_rank=int(found.dense_rank[i]) or None,
                second=found.second_name,
                second_score=float(found.second[i]),
                second_rank=int(found.second_rank[i]) or None,
            )
            for n, (i, c) in enumerate(zip(order, chunks, strict=True), start=1)
        ]
        if self.reranker is not None:
            passages = self.reranker.rerank(question, passages)[:k]
        return passages
