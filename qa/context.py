"""What the stages of one question share: its query vectors and the documents read for it.

The pipeline makes one per question and hands it to retrieval, the answerer and the checks, so
the question is embedded once and each document read once, whichever stage asks first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from embeddings.cleaning import clean_text
from embeddings.embedders import Embedder
from embeddings.store import Store
from qa.records import Passage


@dataclass
class QuestionContext:
    store: Store
    embedder: Embedder
    _vectors: dict[str, np.ndarray] = field(default_factory=dict)
    _documents: dict[str, str | None] = field(default_factory=dict)

    def query_vector(self, text: str) -> np.ndarray:
        """The dense vector of a question (a chat follow-up has two: its words, its rewrite)."""
        if text not in self._vectors:
            self._vectors[text] = self.embedder.embed_queries([clean_text(text)])[0]
        return self._vectors[text]

    def document_text(self, doc_id: str) -> str | None:
        """The document's cleaned text as indexed; None when the index has no such document."""
        if doc_id not in self._documents:
            self._documents[doc_id] = self.store.document_text(doc_id)
        return self._documents[doc_id]

    def passage_holding(self, doc_id: str, start: int, end: int, n: int) -> Passage | None:
        """The index's chunk of the document that holds its text[start:end], as passage n (for
        a sentence an answer quotes that retrieval did not return); None when none holds it."""
        entry = self.store.manifest.documents.get(doc_id)
        if entry is None:
            return None
        chunks = self.store.chunks_at(range(entry.first, entry.first + entry.count))
        holding = next((c for c in chunks if c.start <= start and end <= c.end), None)
        if holding is None:
            return None
        return Passage.of_chunk(n, holding, 0.0, entry.source)
