"""Question → the k most similar passages of the index (cosine similarity of normalised vectors)."""

from __future__ import annotations

import os
from pathlib import Path

from embeddings.embedders import Embedder, load_embedder
from embeddings.store import IndexMismatch, IndexStore
from qa.cleaning import clean_text
from qa.records import Passage


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

    def search(self, question: str, k: int = 5) -> list[Passage]:
        # The dense model reads the question's own characters: on a traditional-Chinese set it did
        # better on the originals than on their simplified conversion.
        vector = self.embedder.embed_queries([clean_text(question)])
        scores, positions = self.store.search(vector, k)
        hits = [(float(s), int(p)) for s, p in zip(scores[0], positions[0], strict=True) if p >= 0]
        chunks = self.store.chunks_at([p for _, p in hits])
        return [
            Passage(n, c.doc_id, c.title, c.text, c.start, c.end, score)
            for n, ((score, _), c) in enumerate(zip(hits, chunks, strict=True), start=1)
        ]
