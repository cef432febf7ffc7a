"""Question → the k best passages: dense (FAISS) and BM25 candidates, fused into one ranking."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embeddings.cleaning import clean_text, question_language
from embeddings.embedders import (
    Embedder,
    EmbedderChoice,
    RememberingEmbedder,
    chosen_name,
    load_embedder,
    resolve_embedder,
)
from embeddings.lexical import tokenize
from embeddings.records import Chunk
from embeddings.store import IndexMismatch, Space, Store, open_store
from qa.context import QuestionContext
from qa.question import asked_apart
from qa.records import Passage
from qa.retrieve.bridge import EnglishBridge
from qa.retrieve.fusion import partly_embedded, reciprocal_rank, weighted_zscore
from qa.retrieve.wording import reorder_by_wording
from qa.rules import Rules

if TYPE_CHECKING:
    from qa.retrieve.rerank import CrossEncoderReranker


@dataclass
class Candidates:
    """Every chunk some retriever proposed, with every retriever's score and 1-based rank (0:
    not in that retriever's list).

    A question with Chinese characters is read by dense and BM25. One without (English over
    Chinese text, where BM25 finds nothing real) by dense, the cross-lingual embedder (use),
    BM25 over the Chinese terms a dictionary gives for its words (dict_bm25, qa/retrieve/bridge.py), and
    dense again on the question with those terms added (dict_dense).
    """

    positions: np.ndarray
    scores: dict[str, np.ndarray]
    ranks: dict[str, np.ndarray]
    # True at the candidates whose vectors are still being computed (Manifest.vectors_pending):
    # their dense scores mean nothing yet
    words_only: np.ndarray | None = None

    def is_words_only(self, i: int) -> bool:
        return self.words_only is not None and bool(self.words_only[i])

    def fused(self, weights: dict[str, float]) -> np.ndarray:
        if self.words_only is None or not self.words_only.any():
            return weighted_zscore(self.scores, weights)
        return partly_embedded(self.scores, weights, self.words_only, LEXICAL)


# The retrievers that read words, not vectors: all a chunk still being embedded has.
LEXICAL = frozenset({"bm25", "dict_bm25"})


def _embedded(ranked: np.ndarray, waiting: np.ndarray) -> np.ndarray:
    """A dense list without the chunks whose stored vectors are zeros standing in."""
    return ranked[~np.isin(ranked, waiting)] if len(waiting) else ranked


def _ranks(positions: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    rank_of = {int(p): r for r, p in enumerate(ranked, start=1)}
    return np.array([rank_of.get(int(p), 0) for p in positions], dtype=np.int64)


class Retriever:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        threads: int | None = None,
        reranker: CrossEncoderReranker | None = None,
        rules: Rules = Rules(),
    ):
        if embedder.name != store.manifest.embedder or embedder.dim != store.manifest.dim:
            raise IndexMismatch(
                f"the index at {store.location} was built with embedder {store.manifest.embedder} "
                f"({store.manifest.dim}-d), not {embedder.name} ({embedder.dim}-d); "
                "run `qa index --rebuild` or choose the index's embedder"
            )
        self.store = store
        self.embedder = (
            embedder if isinstance(embedder, RememberingEmbedder) else RememberingEmbedder(embedder)
        )
        self.rules = rules
        self._threads = threads
        self.reranker = reranker  # set once: search_followup reranks its merged list itself
        self._crosslingual_model: Embedder | None = None
        self._bridge: EnglishBridge | None = None

    @classmethod
    def open(
        cls,
        location: str | Path,
        embedder: EmbedderChoice = None,
        threads: int | None = None,
        kb: str = "default",
        reranker: str | None = None,
        rules: Rules = Rules(),
    ) -> Retriever:
        """The index at location, read with embedder (loaded, by name, or None: the index's);
        reranker: a sentence-transformers CrossEncoder's name or folder."""
        store = open_store(location, kb)
        name = chosen_name(embedder, store.manifest.embedder)
        if isinstance(embedder, str) and name != store.manifest.embedder:
            raise IndexMismatch(
                f"the index at {store.location} was built with embedder "
                f"{store.manifest.embedder}, not {name}; run `qa index --rebuild --embedder {name}`"
            )
        loaded = resolve_embedder(embedder, name, threads)
        if reranker:
            from qa.retrieve.rerank import CrossEncoderReranker

            return cls(store, loaded, threads, CrossEncoderReranker(reranker), rules)
        return cls(store, loaded, threads, rules=rules)

    def context(self) -> QuestionContext:
        """A new question's context: its vectors and documents, shared with the answerer."""
        return QuestionContext(self.store, self.embedder)

    def candidates(
        self, question: str, depth: int | None = None, context: QuestionContext | None = None
    ) -> Candidates:
        # The dense model reads the question's own characters: on a traditional-Chinese set it
        # did better on the originals than on their simplified conversion. BM25 reads the
        # matching form, where 鎮江 and 镇江 are one term.
        store = self.store
        depth = depth or self.rules.retrieval.candidates
        vector = (context or self.context()).query_vector(question)
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
            rules = self.rules.retrieval
            strongest = sorted(
                (t for t, w in terms.items() if w >= rules.dict_term_min_weight),
                key=lambda t: -terms[t],
            )[: rules.dict_terms_in_query]
            with_terms = f"{clean_text(question)} {' '.join(strongest)}"
            dense["dict_dense"] = ("dense", self.embedder.embed_queries([with_terms])[0])
        waiting = store.manifest.pending_positions()
        listed = {
            name: _embedded(store.dense_search(space, query, depth)[0], waiting)
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
        words_only = np.isin(positions, waiting) if len(waiting) else None
        return Candidates(positions, scores, ranks, words_only)

    def words_only(self) -> int:
        """How many chunks have no vectors yet: while `qa index` computes them (or after it
        stopped before it had), they are searched by their words alone."""
        return len(self.store.manifest.pending_positions())

    def language(self, question: str) -> str:
        """Which retrievers read the question: "zh" for one with Chinese characters (or any
        question when the index has no cross-lingual vectors), else "en"."""
        if question_language(question) == "zh" or not self.store.has_space("crosslingual"):
            return "zh"
        return "en"

    def bridge(self) -> EnglishBridge:
        if self._bridge is None:
            self._bridge = EnglishBridge(self.store.vocabulary())
        return self._bridge

    def _crosslingual_embedder(self) -> Embedder:
        if self._crosslingual_model is None:
            self._crosslingual_model = load_embedder(
                self.store.manifest.crosslingual, self._threads
            )
        return self._crosslingual_model

    def _source(self, doc_id: str) -> str:
        entry = self.store.manifest.documents.get(doc_id)
        return entry.source if entry else ""

    def search(
        self, question: str, k: int = 5, context: QuestionContext | None = None
    ) -> list[Passage]:
        """The k best passages, reordered by the reranker when there is one. A question that
        asks the same of several subjects apart (镇江和深圳分别…) gets k for each: its own best and
        each subject's, taken in turn, since asked whole the subject with more text took all five
        places."""
        context = context or self.context()
        parts = asked_apart(question) if question_language(question) == "zh" else []
        found = self._searched(question, k, context)
        if not parts:
            return found
        lists = [found] + [self._searched(part.question, k, context) for part in parts]
        merged: dict[tuple[str, int], Passage] = {}
        for rank in range(k):
            for passages in lists:
                if rank < len(passages):
                    passage = passages[rank]
                    merged.setdefault((passage.doc_id, passage.start), passage)
        kept = list(merged.values())[: k * len(parts)]
        return [replace(p, n=n) for n, p in enumerate(kept, start=1)]

    def _searched(self, question: str, k: int, context: QuestionContext) -> list[Passage]:
        passages = self._fused(question, self._keep(k), context)
        return self._second_look(question, passages)[:k]

    def _keep(self, k: int) -> int:
        """How many fused passages the second look reads to return k."""
        rules = self.rules.retrieval
        return max(k, rules.rerank_depth if self.reranker is not None else rules.wording_depth)

    def _second_look(self, question: str, passages: list[Passage]) -> list[Passage]:
        """The fused passages re-sorted by their wording, then by the reranker if there is one."""
        # An English question's words are not the Chinese passages' (the bridge's terms are).
        if self.language(question) == "zh":
            passages = reorder_by_wording(question, passages, self.store.idf, self.rules)
        if self.reranker is not None:
            passages = self.reranker.rerank(question, passages)
        return passages

    def _fused(self, question: str, keep: int, context: QuestionContext) -> list[Passage]:
        """The `keep` best passages by fused score, numbered from 1."""
        if self.store.chunk_count() == 0:
            return []
        found = self.candidates(question, max(self.rules.retrieval.candidates, keep), context)
        fused = found.fused(self.rules.retrieval.fusion_weights[self.language(question)])
        order, chunks = self._distinct(found, np.argsort(-fused, kind="stable"), keep)
        return [
            Passage.of_chunk(
                n,
                c,
                float(fused[i]),
                self._source(c.doc_id),
                signals={
                    name: (float(found.scores[name][i]), int(found.ranks[name][i]) or None)
                    for name in found.scores
                    if name in LEXICAL or not found.is_words_only(i)
                },
            )
            for n, (i, c) in enumerate(zip(order, chunks, strict=True), start=1)
        ]

    def _distinct(self, found: Candidates, ranked: np.ndarray, keep: int):
        """The best `keep` candidates whose texts differ, with their chunks: a file indexed
        twice (or a paragraph pasted into many) would otherwise fill every place with one text."""
        order: list[int] = []
        chunks: list[Chunk] = []
        seen: set[str] = set()
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
        context: QuestionContext | None = None,
    ) -> list[Passage]:
        """Passages for a chat follow-up that was made standalone: retrieved with the rewrite and
        with the user's own words, so a rewrite that kept the wrong subject cannot hide what the
        user named. merge "max" (the default): each chunk at the better of its two fused scores,
        so the more decided of the two searches leads; "rrf": reciprocal-rank fusion of the two
        rankings, the user's words weighted own_weight. On the dialogues of bench/followup.py
        "max" ranked the right document first most often (docs/BENCHMARKS.md)."""
        depth = max(self.rules.retrieval.candidates, k)
        context = context or self.context()
        # Fused only: the second look reads the merged list once, against the rewrite.
        lists = [
            (own_weight, self._fused(own_words, depth, context)),
            (1.0, self._fused(standalone, depth, context)),
        ]
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
                    score[key] = score.get(key, 0.0) + float(
                        reciprocal_rank(rank, weight, k=self.rules.retrieval.rrf_k)
                    )
                    passage.setdefault(key, p)
        order = sorted(score, key=lambda key: -score[key])
        merged = [
            replace(passage[key], n=n, score=score[key])
            for n, key in enumerate(order[: self._keep(k)], start=1)
        ]
        return self._second_look(standalone, merged)[:k]
