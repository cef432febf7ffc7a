"""What every index store is: its manifest, its errors, and the two protocols the rest of qa sees.

Retrieval and answering read through `Store`; the indexer writes through `StoreWriter`. Which
backend sits behind them (a folder, PostgreSQL) is decided once, in embeddings.store.open_store
and open_writer; nothing else knows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from embeddings.errors import QAError
from embeddings.records import Chunk, Document

# 3: chunks and documents carry their locations (page, slide, sheet and row, section).
FORMAT_VERSION = 3

# The dense vector spaces of an index: the embedder's, and the cross-lingual embedder's for
# English questions over Chinese text.
Space = Literal["dense", "crosslingual"]


def unusable_vectors(vectors: np.ndarray) -> np.ndarray:
    """Which rows no embedder gives: a stored vector is of unit length (every embedder
    normalises) or zero (a chunk whose vectors are still being computed)."""
    with np.errstate(all="ignore"):  # garbage may overflow; it is reported, not warned about
        lengths = np.linalg.norm(np.asarray(vectors, dtype=np.float32), axis=1)
    whole = np.isfinite(lengths) & ((np.abs(lengths - 1) <= 1e-3) | (lengths == 0))
    unusable: np.ndarray = ~whole
    return unusable


class IndexMissing(QAError):
    pass


class IndexCorrupt(QAError):
    """A file of the index is damaged or gone: the message names it and the way out."""


class ManifestDamaged(IndexCorrupt):
    """The manifest is lost or unreadable; the writer restores it from a generation's copy."""


class NotAnIndexFolder(QAError):
    """The folder holds things qa did not make: qa will not write among them."""


class IndexMismatch(QAError):
    """The index was built another way (embedder, cleaner, chunker): mixing would corrupt it."""


@dataclass
class DocumentEntry:
    source: str
    content_hash: str
    title: str
    first: int  # chunks of a document sit at positions first .. first+count-1
    count: int


@dataclass
class Manifest:
    embedder: str
    dim: int
    cleaner_version: int
    chunker_version: int
    chunk_chars: int
    tokenizer_version: int
    titles_indexed: bool  # chunks are embedded with their document's title
    crosslingual: str | None  # the second embedder's name, None when there is none
    generation: int = 0
    format_version: int = FORMAT_VERSION
    documents: dict[str, DocumentEntry] = field(default_factory=dict)
    # Documents whose chunks are searchable by BM25 while their vectors are still being computed
    # (zeros stand in): the generation `qa index` commits before embedding, so that new
    # documents are found by their words within seconds.
    vectors_pending: list[str] = field(default_factory=list)
    # The sha256 of each file of the generation as it was written, by its path in the generation
    # folder: `qa index --check` and `qa index` find any byte changed since. Empty for an index
    # written before they were recorded, whose files are checked by their structure alone.
    checksums: dict[str, str] = field(default_factory=dict)
    # The files and folders given to `qa index`, absolute: a run given none reads them again (new
    # files in a folder included), and a rebuild needs no paths.
    sources: list[str] = field(default_factory=list)

    @property
    def chunk_count(self) -> int:
        return sum(entry.count for entry in self.documents.values())

    def pending_positions(self) -> np.ndarray:
        """The positions of the chunks of vectors_pending's documents, ascending."""
        spans = [self.documents[doc_id] for doc_id in self.vectors_pending]
        if not spans:
            return np.zeros(0, dtype=np.int64)
        return np.sort(
            np.concatenate([np.arange(e.first, e.first + e.count, dtype=np.int64) for e in spans])
        )

    def recipe(self) -> dict[str, Any]:
        """Everything that must match for two runs to share one index."""
        return {
            "embedder": self.embedder,
            "dim": self.dim,
            "cleaner_version": self.cleaner_version,
            "chunker_version": self.chunker_version,
            "chunk_chars": self.chunk_chars,
            "tokenizer_version": self.tokenizer_version,
            "titles_indexed": self.titles_indexed,
            "crosslingual": self.crosslingual,
            "format_version": self.format_version,
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        documents = {k: DocumentEntry(**v) for k, v in data.pop("documents").items()}
        return cls(**data, documents=documents)


def _describe(recipe: dict[str, Any]) -> str:
    return (
        f"embedder {recipe['embedder']} ({recipe['dim']}-d), cleaner v{recipe['cleaner_version']}, "
        f"chunker v{recipe['chunker_version']} at {recipe['chunk_chars']} characters, "
        f"tokenizer v{recipe['tokenizer_version']}"
        + (", titles embedded" if recipe["titles_indexed"] else "")
        + (f", cross-lingual {recipe['crosslingual']}" if recipe["crosslingual"] else "")
    )


def check_recipe(manifest: Manifest, wanted: Manifest, location: str | Path) -> None:
    have, want = manifest.recipe(), wanted.recipe()
    if have != want:
        raise IndexMismatch(
            f"the index at {location} was built with {_describe(have)}, but this run uses "
            f"{_describe(want)}; run `qa index --rebuild` to rebuild it"
        )


class Store(Protocol):
    """What retrieval and answering read; the retrieval code never knows which backend it has.

    Positions are opaque ints naming chunks (the folder store uses 0..N-1)."""

    manifest: Manifest  # recipe + documents (source, content_hash, title, first, count)
    location: str  # a folder path or a postgresql:// URL (password masked), for messages

    def has_space(self, space: Space) -> bool: ...

    def interrupted(self) -> bool:
        """Whether vectors are pending while no `qa index` runs to compute them: the run that
        committed words first was stopped, and the next `qa index` finishes it."""
        ...

    def dense_search(
        self, space: Space, query: np.ndarray, depth: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(positions int64, inner-product scores float32), best first, at most depth."""
        ...

    def dense_scores(self, space: Space, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Exact inner products of the stored vectors at these positions with query."""
        ...

    def lexical_search(
        self, terms: Mapping[str, float], depth: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """BM25: (positions, scores) of the best `depth` chunks with score > 0, best first (ties
        by position ascending); a chunk's score is the sum over terms of weight * BM25 weight of
        the term in the chunk, exactly as embeddings.lexical.LexicalIndex.weighted_scores
        computes it; plain tokens are passed as Counter(tokens)."""
        ...

    def lexical_scores(self, terms: Mapping[str, float], positions: np.ndarray) -> np.ndarray:
        """The BM25 scores lexical_search gives, at these positions (0 where no term is)."""
        ...

    def idf(self, token: str) -> float:
        """As embeddings.lexical.LexicalIndex.idf."""
        ...

    def vocabulary(self) -> Collection[str]:
        """Every BM25 term of the index."""
        ...

    def chunk_count(self) -> int: ...

    def chunks_at(self, positions: Sequence[int]) -> list[Chunk]: ...

    def document_text(self, doc_id: str) -> str | None: ...

    def document(self, doc_id: str) -> Document | None: ...

    def damage(self) -> dict[str, str]:
        """Every damaged part ("vectors", "crosslingual", "chunks", "bm25") with a one-line
        message naming it; empty when the index is whole."""
        ...

    def close(self) -> None: ...


class VectorCacheLike(Protocol):
    """Vectors a stopped run already embedded, by VectorCache.key(embedder, text)."""

    # What was found damaged and moved aside for a new cache, in one line for the run's
    # warning; None when nothing was.
    set_aside: str | None

    def get(self, keys: list[str], dim: int) -> dict[str, np.ndarray]: ...

    def put(self, keys: list[str], vectors: np.ndarray) -> None: ...

    def clear(self) -> None: ...


class StoreWriter(Protocol):
    """What the indexer writes through. One writer at a time per index / knowledge base; readers
    are never shown a half-written index."""

    location: str  # as Store.location, for messages
    # What existing() mended before the index could be read (a lost or unreadable manifest made
    # live again from a generation's copy), for the run's report; None when nothing was.
    restored: str | None
    # Whether replace_all can commit a generation whose manifest names vectors_pending (zeros in
    # their place) that readers search by words alone; a backend that cannot writes vectors
    # before its one commit.
    words_first: bool

    def writing(self, on_wait: Callable[[], None] | None = None) -> AbstractContextManager[None]:
        """Held for the whole run: a second writer waits (told once through on_wait)."""
        ...

    def existing(self) -> Store | None:
        """The live index to reuse unchanged documents from; None when there is none or it
        cannot be read (see refuse_unreadable)."""
        ...

    def refuse_unreadable(self) -> None:
        """Raises the precise reason (IndexCorrupt, IndexMismatch) when an index is there that
        cannot be read; the indexer calls it unless rebuilding, so nothing is replaced unasked."""
        ...

    def vectors_of(self, doc_id: str, space: Space) -> np.ndarray:
        """The stored vectors of the existing index's chunks of doc_id, in chunk order."""
        ...

    def tokens_of(self, doc_id: str) -> list[list[str]]:
        """The stored BM25 tokens of the existing index's chunks of doc_id, in chunk order."""
        ...

    def vector_cache(self) -> VectorCacheLike: ...

    def replace_all(
        self,
        manifest: Manifest,
        documents: list[Document],
        chunks_by_doc: dict[str, list[Chunk]],
        vectors_by_doc: dict[str, np.ndarray],
        tokens_by_doc: dict[str, list[list[str]]],
        crosslingual_by_doc: dict[str, np.ndarray] | None,
    ) -> Manifest:
        """Make the index hold exactly `documents`, atomically: all of it or nothing. Returns
        the manifest now live."""
        ...
