"""An optional second look at the fused passages by a cross-encoder, which reads question and
passage together. None ships offline, so it is off unless the user names a model."""

from __future__ import annotations

from dataclasses import replace

from embeddings.errors import QAError
from qa.records import Passage


class CrossEncoderReranker:
    """Any sentence-transformers CrossEncoder by hub name or local folder, e.g.
    BAAI/bge-reranker-v2-m3."""

    def __init__(self, model: str):
        try:
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(model, device="cpu")
        except Exception as exc:  # the library raises many kinds for a missing or bad model
            raise QAError(f"cannot load reranker {model!r}: {exc}") from exc
        self.name = model

    def rerank(self, question: str, passages: list[Passage]) -> list[Passage]:
        """The passages, best first by the cross-encoder, renumbered from 1."""
        if not passages:
            return []
        scores = self._model.predict([(question, p.text) for p in passages], batch_size=16)
        ranked = sorted(zip(passages, scores, strict=True), key=lambda pair: -float(pair[1]))
        return [replace(p, n=n, rerank_score=float(s)) for n, (p, s) in enumerate(ranked, start=1)]
