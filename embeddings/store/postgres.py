"""The index in PostgreSQL with pgvector: many knowledge bases in one database, for a team's
documents or a cluster (Citus: every table is distributed by `kb`).

Every write builds a complete new generation of a knowledge base's rows in one transaction and
switches the kb's row in qa_kbs to it on commit, so a reader sees the old index or the new one,
never half of each. As in the folder store, the generation before the live one is kept until
the next write, so a reader that read the pointer just before a switch still finds its rows.
One writer per kb at a time (an advisory lock that a killed writer's session releases); readers
take no locks.

BM25 is stored as the local index stores it, per term: the positions of the chunks holding it
and its bm25s weight in each, computed by LexicalIndex.build on write. A question's scores are
summed in numpy from the rows of its terms, so both backends rank exactly alike.

Dense search: exact (a scan) below HNSW_FROM chunks, where it is fast and agrees with FAISS
exactly; above, through a per-generation HNSW index (vector_ip_ops), partial on the kb and the
generation so that no other kb's rows are filtered out after the scan.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

import numpy as np

# Missing (no `postgres` extra), this raises the ImportError that embeddings.store turns into
# the line naming the extra. pg8000 (BSD-3) is pure Python: no libpq, no binary wheel.
import pg8000.native
from pg8000.native import Connection

from embeddings.errors import QAError
from embeddings.lexical import LastQueryScores, LexicalIndex, QueryScores
from embeddings.records import Chunk, Document
from embeddings.store.base import (
    FORMAT_VERSION,
    DocumentEntry,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    Manifest,
    Space,
)
from embeddings.store.local import (
    _TOKEN_SEPARATOR,
    _chunk,
    _location_json,
    _sections_from_json,
    _sections_json,
)
from embeddings.store.postgres_url import BadURL, connection_arguments
from embeddings.urls import masked_url

# Below this many chunks an exact scan is fast (about 5 ms at 20k × 384) and equals FAISS's
# ranking; above it the HNSW index keeps a question's search in milliseconds.
HNSW_FROM = 20_000
# The search beam grows with the kb: at a fixed ef_search recall falls as the graph grows. ef_search
# 400 found 0.976 of the exact top 10 at 100k chunks of realistic vectors and 0.970 at 300k,
# but 0.910 at 1M, where 800 found 0.951 in a question's store work of 44.6 ms p50
# (bench/scale.py, BENCHMARKS.md). So 400 up to 250k chunks, then as the square root of the
# size (800 at 1M), at most pgvector's 1,000.
HNSW_EF_SEARCH = 400
HNSW_EF_SEARCH_GROWS_FROM = 250_000
HNSW_EF_SEARCH_MAX = 1000
# The graph's links per node and its build-time beam. At 300k chunks, ef_search 400, pgvector's
# defaults (16, 64) found 0.913 of the exact top 10, ef_construction 200 0.970 at about the same
# search time, built in 3× the time (bench/scale.py --graph, BENCHMARKS.md). A kb's graph built
# before keeps working, with its lower recall, until the kb's next write or `qa index --rebuild`.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
# The graph is built in memory while it fits maintenance_work_mem (64 MB by default); past it
# pgvector goes on inserting on disk, many times slower. A node holds its vector and 2·m
# neighbours of 16 bytes on the bottom layer, with some slack (pgvector's hnsw.h): at a million
# 384-d chunks and m 16, 2.3 GB.
HNSW_BUILD_MEMORY_MIN = 2**30
HNSW_NODE_OVERHEAD = 256
# Rows go to the server in COPY statements of about this many bytes, each encoded whole first
_COPY_BLOCK_BYTES = 8 * 2**20
_CHUNK_COLUMNS = [
    ("kb", "text"),
    ("generation", "int8"),
    ("pos", "int4"),
    ("doc_id", "text"),
    ("title", "text"),
    ("text", "text"),
    ("start", "int4"),
    ("end", "int4"),
    ("location", "text"),
    ("sections", "text"),
    ("tokens", "text"),
    ("vector", "vector"),
    ("crosslingual", "vector"),
]
_DOCUMENT_COLUMNS = [
    ("kb", "text"),
    ("generation", "int8"),
    ("doc_id", "text"),
    ("source", "text"),
    ("content_hash", "text"),
    ("title", "text"),
    ("text", "text"),
    ("sections", "text"),
    ("kind", "text"),
    ("pages", "int4"),
    ("ocr_pages", "int4"),
    ("first", "int4"),
    ("count", "int4"),
]
_TERM_COLUMNS = [
    ("kb", "text"),
    ("generation", "int8"),
    ("term", "text"),
    ("positions", "bytea"),
    ("weights", "bytea"),
]

# The schema, one step per version; a database is brought to the newest by the steps it lacks.
MIGRATIONS: list[str] = [
    """
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE qa_kbs (
        kb text PRIMARY KEY,
        generation bigint NOT NULL,
        recipe jsonb NOT NULL
    );
    CREATE TABLE qa_documents (
        kb text NOT NULL, generation bigint NOT NULL, doc_id text NOT NULL,
        source text NOT NULL, content_hash text NOT NULL, title text NOT NULL, text text NOT NULL,
        sections text NOT NULL, kind text, pages integer, ocr_pages integer,
        first integer NOT NULL, count integer NOT NULL,
        PRIMARY KEY (kb, generation, doc_id)
    );
    CREATE TABLE qa_chunks (
        kb text NOT NULL, generation bigint NOT NULL, pos integer NOT NULL,
        doc_id text NOT NULL, title text NOT NULL, text text NOT NULL,
        start integer NOT NULL, "end" integer NOT NULL, location text NOT NULL,
        sections text NOT NULL, tokens text NOT NULL,
        vector vector NOT NULL, crosslingual vector,
        PRIMARY KEY (kb, generation, pos)
    );
    CREATE TABLE qa_terms (
        kb text NOT NULL, generation bigint NOT NULL, term text NOT NULL,
        positions bytea NOT NULL, weights bytea NOT NULL,
        PRIMARY KEY (kb, generation, term)
    );
    CREATE TABLE qa_vector_cache (
        kb text NOT NULL, key text NOT NULL, vector bytea NOT NULL,
        PRIMARY KEY (kb, key)
    );
    """,
    # Vectors inline in the row: pgvector stores them EXTERNAL, and a row of two vectors
    # (384 + 512 floats) passes the 2 kB TOAST threshold, so an exact scan read every vector
    # from the TOAST table (22 ms a question at 3,271 chunks). MAIN keeps them in the row unless
    # it passes 8,160 bytes even with its texts moved out; rows written before keep theirs until
    # the next write of their kb.
    """
    ALTER TABLE qa_chunks ALTER COLUMN vector SET STORAGE MAIN,
        ALTER COLUMN crosslingual SET STORAGE MAIN;
    ALTER TABLE qa_chunks SET (toast_tuple_target = 8160);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
# Any 64-bit number of qa's own: the lock that makes one session at a time migrate the schema.
_MIGRATION_LOCK = 0x7161_0000_0001


# SQLSTATE classes of a connection the server lost or ended (08 connection exception, 53
# insufficient resources, 57 operator intervention, 58 system error)
_LOST_CLASSES = ("08", "53", "57", "58")


def _reason(exc: BaseException) -> str:
    """One line from a pg8000 error: the server's own message, or the socket's."""
    if isinstance(exc, pg8000.native.DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        reason = exc.args[0].get("M", "")
    else:
        reason = str(exc)
        if exc.__cause__ is not None:  # pg8000 says "communication error"; the cause says why
            reason = f"{reason}: {exc.__cause__}"
    return " ".join(reason.split())[:300] or type(exc).__name__


def _connect(url: str) -> Connection:
    try:
        arguments = connection_arguments(url)
    except BadURL as exc:
        raise QAError(f"cannot use the PostgreSQL store at {masked_url(url)}: {exc}") from None
    try:
        connection = Connection(**arguments)
    except (pg8000.native.Error, OSError) as exc:
        reason = _reason(exc)
        if arguments["password"]:
            reason = reason.replace(arguments["password"], "***")
        raise QAError(f"cannot reach the PostgreSQL store at {masked_url(url)}: {reason}") from None
    # pg8000's timeout stays on the socket; it bounds reaching the server, not statements (an
    # HNSW build runs for minutes)
    connection._usock.settimeout(None)
    return connection


def _is_lost(exc: pg8000.native.Error) -> bool:
    if isinstance(exc, pg8000.native.InterfaceError):
        return True
    details = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return str(details.get("C", "")).startswith(_LOST_CLASSES)


def _close(connection: Connection) -> None:
    # a server already gone has nothing left to be told
    with suppress(pg8000.native.Error, OSError):
        connection.close()


@contextmanager
def _transaction(connection: Connection) -> Iterator[None]:
    connection.run("BEGIN")
    try:
        yield
    except BaseException:
        with suppress(pg8000.native.Error, OSError):  # a lost connection rolled back itself
            connection.run("ROLLBACK")
        raise
    connection.run("COMMIT")


def _one(rows: list[list[Any]] | None) -> list[Any]:
    """The row of a query that always gives one (an aggregate, a function call)."""
    if not rows:
        raise QAError("the PostgreSQL server gave no row where one is always given")
    return rows[0]


def _string_constant(value: str) -> str:
    """A string constant for SQL that takes no parameters (DDL), read alike whatever the
    server's standard_conforming_strings."""
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _text_array(values: Collection[str]) -> str:
    """A text[] parameter with every element quoted: pg8000 leaves a term such as null unquoted,
    which PostgreSQL reads as NULL."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def _vector_text(vector: np.ndarray) -> str:
    """pgvector's text form; each float32 written as the shortest decimal that reads back to it."""
    return "[" + ",".join(map(repr, np.asarray(vector, dtype=np.float32).tolist())) + "]"


def _vector_from_binary(data: bytes) -> np.ndarray:
    """vector_send's form: dimension and a reserved int16, then big-endian float32s."""
    return np.frombuffer(data, dtype=">f4", offset=4)


class _BinaryCopy:
    """Rows written by COPY … FROM STDIN (FORMAT binary), the fastest way in through pg8000 (it
    sends parameters as text). Each block of rows is encoded whole before its COPY starts: an
    encoding error mid-stream would leave the connection inside a COPY that pg8000 cannot end."""

    _HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    _TRAILER = struct.pack(">h", -1)
    _NULL = struct.pack(">i", -1)

    def __init__(self, connection: Connection, table: str, columns: Sequence[tuple[str, str]]):
        names = ", ".join(f'"{name}"' for name, _ in columns)
        self._statement = f"COPY {table} ({names}) FROM STDIN (FORMAT binary)"
        self._connection = connection
        self._encoders = [getattr(self, f"_{kind}") for _, kind in columns]
        self._count = struct.pack(">h", len(columns))
        self._block = bytearray()

    @staticmethod
    def _text(value: str) -> bytes:
        return value.encode("utf-8")

    @staticmethod
    def _int4(value: int) -> bytes:
        return struct.pack(">i", value)

    @staticmethod
    def _int8(value: int) -> bytes:
        return struct.pack(">q", value)

    @staticmethod
    def _bytea(value: bytes) -> bytes:
        return value

    @staticmethod
    def _vector(value: np.ndarray) -> bytes:
        values = np.asarray(value, dtype=">f4")
        return struct.pack(">HH", len(values), 0) + values.tobytes()

    def write_row(self, row: Sequence[Any]) -> None:
        block = self._block
        block += self._count
        for encode, value in zip(self._encoders, row, strict=True):
            if value is None:
                block += self._NULL
            else:
                field = encode(value)
                block += struct.pack(">i", len(field))
                block += field
        if len(block) >= _COPY_BLOCK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._block:
            self._connection.run(
                self._statement, stream=[self._HEADER + bytes(self._block) + self._TRAILER]
            )
            self._block = bytearray()


def _schema_version(connection: Connection) -> int:
    exists = _one(connection.run("SELECT to_regclass('qa_schema') IS NOT NULL"))[0]
    if not exists:
        return 0
    # The catalog is read as of now, the table as of the reader's snapshot: a schema made by a
    # writer after the snapshot has a table but, to this reader, no row yet.
    rows = connection.run("SELECT version FROM qa_schema")
    return int(rows[0][0]) if rows else 0


def migrate(connection: Connection, location: str) -> None:
    """Bring the database's qa tables to SCHEMA_VERSION; refuse one a newer qa wrote."""
    with _transaction(connection):
        connection.run("SELECT pg_advisory_xact_lock(:key)", key=_MIGRATION_LOCK)
        connection.run("CREATE TABLE IF NOT EXISTS qa_schema (version integer NOT NULL)")
        rows = connection.run("SELECT version FROM qa_schema")
        version = int(rows[0][0]) if rows else 0
        if version > SCHEMA_VERSION:
            raise _newer_schema(location, version)
        for step in MIGRATIONS[version:]:
            connection.run(step)  # no parameters: the simple protocol, many statements at once
        if not rows:
            connection.run("INSERT INTO qa_schema VALUES (:version)", version=SCHEMA_VERSION)
        else:
            connection.run("UPDATE qa_schema SET version = :version", version=SCHEMA_VERSION)


def _newer_schema(location: str, version: int) -> IndexMismatch:
    return IndexMismatch(
        f"the PostgreSQL store at {location} has qa schema v{version}, newer than this qa's "
        f"v{SCHEMA_VERSION}: upgrade qa"
    )


def _recipe_manifest(recipe: dict, generation: int) -> Manifest:
    if recipe.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch("written by another version of qa")
    return Manifest(**recipe, generation=generation)


class PostgresStore:
    """A read-only view of the live generation of one knowledge base."""

    def __init__(self, url: str, kb: str, connection: Connection | None = None):
        self.url, self.kb = url, kb
        self.location = f"{masked_url(url)} (kb {kb})"
        self._owns_connection = connection is None
        if connection is None:
            connection = _connect(url)
            # Every read of this store in one snapshot, taken at its first: two writes while a
            # question is answered cannot remove the generation it is reading, nor mix two.
            # Readers still take no locks, and writers never wait for them.
            connection.run("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        self._connection = connection
        self._ef_search = 0
        self._last_query = LastQueryScores()
        self.manifest = self._read_manifest()
        # summed over the manifest's documents once: it is asked several times a question
        self._chunk_count = self.manifest.chunk_count
        # Constants, not parameters, so that every plan can prove the HNSW index's partial
        # predicate (kb and generation) holds
        self._generation_filter = (
            f"kb = {_string_constant(kb)} AND generation = {int(self.manifest.generation)}"
        )
        self._document_frequencies: dict[str, int] | None = None
        self._postings: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}

    def _read_manifest(self) -> Manifest:
        version = _schema_version(self._connection)
        if version > SCHEMA_VERSION:
            raise _newer_schema(masked_url(self.url), version)
        rows = []
        if version:
            rows = self._connection.run(
                "SELECT generation, recipe FROM qa_kbs WHERE kb = :kb", kb=self.kb
            )
        if not rows:
            raise IndexMissing(
                f"no knowledge base {self.kb!r} in the PostgreSQL store at {masked_url(self.url)}: run "
                f"`qa index PATH... --store URL --kb {self.kb}` first"
            )
        generation, recipe = rows[0]
        try:
            manifest = _recipe_manifest(recipe, generation)
        except (TypeError, IndexMismatch):
            raise IndexMismatch(
                f"the knowledge base {self.kb!r} at {masked_url(self.url)} was written by another "
                "version of qa; run `qa index --rebuild`"
            ) from None
        rows = self._connection.run(
            "SELECT doc_id, source, content_hash, title, first, count FROM qa_documents"
            " WHERE kb = :kb AND generation = :generation ORDER BY first, doc_id",
            kb=self.kb,
            generation=generation,
        )
        manifest.documents = {
            doc_id: DocumentEntry(source, content_hash, title, first, count)
            for doc_id, source, content_hash, title, first, count in rows
        }
        return manifest

    def _rows(self, statement: str, **parameters: Any) -> list[list[Any]]:
        try:
            rows: list[list[Any]] = self._connection.run(statement, **parameters) or []
        except pg8000.native.Error as exc:
            if not _is_lost(exc):
                raise
            raise QAError(f"lost the PostgreSQL store at {self.location}: {_reason(exc)}") from None
        return rows

    def _where(self, extra: str = "") -> str:
        return self._generation_filter + extra

    def has_space(self, space: Space) -> bool:
        return space == "dense" or (space == "crosslingual" and bool(self.manifest.crosslingual))

    def interrupted(self) -> bool:
        return False  # a kb's generation is committed with its vectors: none is left pending

    def chunk_count(self) -> int:
        return self._chunk_count

    @staticmethod
    def _column(space: Space) -> str:
        return {"dense": '"vector"', "crosslingual": '"crosslingual"'}[space]

    def dense_search(
        self, space: Space, query: np.ndarray, depth: int, exact: bool | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """exact: a scan; None chooses it below HNSW_FROM chunks, as the writer does."""
        depth = min(depth, self.chunk_count())
        if depth <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        vector = np.ascontiguousarray(query, dtype=np.float32)
        dim = len(vector)
        column = self._column(space)
        if exact is None:
            exact = self.chunk_count() < HNSW_FROM
        if not exact:
            # the HNSW index is on the column cast to its dimension (columns of a kb of any
            # embedder share one table); the same expression in ORDER BY lets the planner use it
            column = f"({column}::vector({dim}))"
        statement = (
            f"SELECT pos, ({column} <#> CAST(:query AS vector({dim}))) FROM qa_chunks"
            f" WHERE {self._where()} ORDER BY {column} <#> CAST(:query AS vector({dim})), pos"
            f" LIMIT {int(depth)}"
        )
        # HNSW returns at most ef_search rows: at least the depth asked for
        ef_search = max(hnsw_ef_search(self.chunk_count()), depth)
        if not exact and self._ef_search != ef_search:
            self._rows("SELECT set_config('hnsw.ef_search', :value, false)", value=str(ef_search))
            self._ef_search = ef_search
        rows = self._rows(statement, query=_vector_text(vector))
        positions = np.array([r[0] for r in rows], dtype=np.int64)
        return positions, -np.array([r[1] for r in rows], dtype=np.float32)

    def dense_scores(self, space: Space, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
        stored = self._vectors_at(space, positions)
        return (stored @ np.asarray(query, dtype=np.float32)).astype(np.float32)

    def _vectors_at(self, space: Space, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        wanted = [int(p) for p in positions]
        # vector_send: the binary form, as bytea, instead of a float's decimal text each
        rows = self._rows(
            f"SELECT pos, vector_send({self._column(space)}) FROM qa_chunks"
            f" WHERE {self._where()} AND pos = ANY(CAST(:positions AS integer[]))",
            positions=wanted,
        )
        by_pos = {pos: data for pos, data in rows if data is not None}
        if len(by_pos) != len(set(wanted)):
            raise self._damaged("chunks are missing")
        return np.stack([_vector_from_binary(by_pos[p]) for p in wanted]).astype(np.float32)

    def _damaged(self, reason: str) -> IndexCorrupt:
        return IndexCorrupt(
            f"the knowledge base at {self.location} is damaged ({reason}); run "
            f"`qa index --store URL --kb {self.kb}` to repair it, or `qa index --rebuild`"
        )

    def _term_postings(self, terms: Collection[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        wanted = [t for t in terms if t not in self._postings]
        if wanted:
            rows = self._rows(
                f"SELECT term, positions, weights FROM qa_terms WHERE {self._where()}"
                " AND term = ANY(CAST(:terms AS text[]))",
                terms=_text_array(wanted),
            )
            for term, positions, weights in rows:
                self._postings[term] = (
                    np.frombuffer(positions, dtype=np.int32),
                    np.frombuffer(weights, dtype=np.float32),
                )
            for term in wanted:
                self._postings.setdefault(term, None)
        found = {}
        for term in terms:
            posting = self._postings.get(term)
            if posting is not None:
                found[term] = posting
        return found

    def _summed(self, terms: Mapping[str, float]) -> QueryScores:
        """Each term's BM25 weights times the term's weight, summed per chunk, in the order and
        precision of LexicalIndex.weighted_scores."""
        postings = self._term_postings(list(terms))
        return QueryScores.summed(
            [(*postings[token], weight) for token, weight in terms.items() if token in postings],
            self.chunk_count(),
        )

    def lexical_search(
        self, terms: Mapping[str, float], depth: int
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._last_query.of(terms, lambda: self._summed(terms)).best(depth)

    def lexical_scores(self, terms: Mapping[str, float], positions: np.ndarray) -> np.ndarray:
        return self._last_query.of(terms, lambda: self._summed(terms)).at(positions)

    def _frequencies(self) -> dict[str, int]:
        if self._document_frequencies is None:
            rows = self._rows(
                f"SELECT term, length(positions) / 4 FROM qa_terms WHERE {self._where()}"
            )
            self._document_frequencies = {term: count for term, count in rows}
        return self._document_frequencies

    def idf(self, token: str) -> float:
        held = self._frequencies().get(token, 0)
        count = self.chunk_count()
        return float(np.log(1 + (count - held + 0.5) / (held + 0.5)))

    def vocabulary(self) -> Collection[str]:
        return self._frequencies().keys()

    def chunks_at(self, positions: Sequence[int]) -> list[Chunk]:
        wanted = [int(p) for p in positions]
        rows = self._rows(
            'SELECT pos, doc_id, title, text, start, "end", location, sections FROM qa_chunks'
            f" WHERE {self._where()} AND pos = ANY(CAST(:positions AS integer[]))",
            positions=wanted,
        )
        by_pos = {row[0]: _chunk(row[1:]) for row in rows}
        if len(by_pos) != len(set(wanted)):
            raise self._damaged("chunks are missing")
        return [by_pos[p] for p in wanted]

    def document_text(self, doc_id: str) -> str | None:
        rows = self._rows(
            f"SELECT text FROM qa_documents WHERE {self._where()} AND doc_id = :doc_id",
            doc_id=doc_id,
        )
        return rows[0][0] if rows else None

    def document(self, doc_id: str) -> Document | None:
        rows = self._rows(
            "SELECT title, text, sections, kind, pages, ocr_pages, source, content_hash"
            f" FROM qa_documents WHERE {self._where()} AND doc_id = :doc_id",
            doc_id=doc_id,
        )
        if not rows:
            return None
        title, text, sections, kind, pages, ocr_pages, source, content_hash = rows[0]
        return Document(
            doc_id,
            title,
            text,
            source,
            content_hash,
            _sections_from_json(sections),
            kind,
            pages,
            ocr_pages,
        )

    def tokens_of(self, doc_id: str) -> list[list[str]]:
        entry = self.manifest.documents[doc_id]
        rows = self._rows(
            f"SELECT tokens FROM qa_chunks WHERE {self._where()}"
            " AND pos >= :first AND pos < :end ORDER BY pos",
            first=entry.first,
            end=entry.first + entry.count,
        )
        return [row[0].split(_TOKEN_SEPARATOR) if row[0] else [] for row in rows]

    def vectors_of(self, doc_id: str, space: Space = "dense") -> np.ndarray:
        entry = self.manifest.documents[doc_id]
        return self._vectors_at(space, range(entry.first, entry.first + entry.count))

    def damage(self) -> dict[str, str]:
        """The parts whose rows do not add up to the manifest (a generation is written in one
        transaction, so only a hand-edited database gets here)."""
        (chunks, dense, crosslingual) = self._rows(
            "SELECT count(*), count(vector), count(crosslingual) FROM qa_chunks"
            f" WHERE {self._where()}"
        )[0]
        want = self.chunk_count()
        found = {}
        if chunks != want:
            found["chunks"] = str(self._damaged(f"{chunks} chunks, the manifest says {want}"))
        if dense != want:
            found["vectors"] = str(self._damaged(f"{dense} vectors for {want} chunks"))
        if self.manifest.crosslingual and crosslingual != want:
            found["crosslingual"] = str(
                self._damaged(f"{crosslingual} cross-lingual vectors for {want} chunks")
            )
        return found

    def close(self) -> None:
        if self._owns_connection:
            _close(self._connection)


class PostgresVectorCache:
    """Vectors a stopped run embedded, by embedder and text, kept per kb until a generation
    holding them is live (as the folder store's VectorCache)."""

    def __init__(self, connection: Connection, kb: str):
        self._connection, self._kb = connection, kb
        self.set_aside: str | None = None  # a table is kept whole by PostgreSQL, never set aside

    @staticmethod
    def key(embedder: str, text: str) -> str:
        return hashlib.sha256(f"{embedder}\0{text}".encode()).hexdigest()

    def get(self, keys: list[str], dim: int) -> dict[str, np.ndarray]:
        rows = self._connection.run(
            "SELECT key, vector FROM qa_vector_cache"
            " WHERE kb = :kb AND key = ANY(CAST(:keys AS text[]))",
            kb=self._kb,
            keys=_text_array(keys),
        )
        return {k: np.frombuffer(v, dtype=np.float32) for k, v in rows if len(v) == 4 * dim}

    def put(self, keys: list[str], vectors: np.ndarray) -> None:
        vectors_by_key = {  # one row per key: a batch may hold one text twice
            k: np.asarray(v, dtype=np.float32).tobytes().hex()
            for k, v in zip(keys, vectors, strict=True)
        }
        self._connection.run(
            "INSERT INTO qa_vector_cache"
            " SELECT :kb, key, decode(vector, 'hex')"
            " FROM unnest(CAST(:keys AS text[]), CAST(:vectors AS text[])) AS new (key, vector)"
            " ON CONFLICT (kb, key) DO UPDATE SET vector = excluded.vector",
            kb=self._kb,
            keys=_text_array(vectors_by_key),
            vectors=_text_array(vectors_by_key.values()),
        )

    def clear(self) -> None:
        self._connection.run("DELETE FROM qa_vector_cache WHERE kb = :kb", kb=self._kb)


class PostgresWriter:
    """The one writer of a knowledge base: it holds the kb's advisory lock while writing."""

    # A kb's new documents are searchable once their vectors are written too (docs/SCALE.md).
    words_first = False

    def __init__(self, url: str, kb: str):
        self.url, self.kb = url, kb
        self.location = f"{masked_url(url)} (kb {kb})"
        self._connection: Connection | None = None
        self.restored: str | None = None  # a kb's state is one transaction: nothing to restore
        self._existing: PostgresStore | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = _connect(self.url)
            migrate(self._connection, masked_url(self.url))
        return self._connection

    def _lock_key(self) -> int:
        digest = hashlib.sha256(f"qa-kb\0{self.kb}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextmanager
    def writing(self, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        connection = self.connection
        key = self._lock_key()
        (got,) = _one(connection.run("SELECT pg_try_advisory_lock(:key)", key=key))
        if not got:
            if on_wait:
                on_wait()
            connection.run("SELECT pg_advisory_lock(:key)", key=key)
        try:
            yield
        finally:
            if self._existing is not None:
                self._existing.close()
                self._existing = None
            connection.run("SELECT pg_advisory_unlock(:key)", key=key)

    def existing(self) -> PostgresStore | None:
        if self._existing is None:
            try:
                self._existing = PostgresStore(self.url, self.kb)
            except (IndexMissing, IndexMismatch):
                return None  # an unreadable old kb is only ever replaced when rebuilding
        return self._existing

    def refuse_unreadable(self) -> None:
        if self.existing() is None:
            try:
                PostgresStore(self.url, self.kb).close()
            except IndexMissing:
                return

    def _reused(self) -> PostgresStore:
        store = self.existing()
        if store is None:  # the indexer reuses documents only from an index it could read
            raise IndexMissing(f"no readable index at {self.location} to reuse documents from")
        return store

    def vectors_of(self, doc_id: str, space: Space) -> np.ndarray:
        return self._reused().vectors_of(doc_id, space)

    def tokens_of(self, doc_id: str) -> list[list[str]]:
        return self._reused().tokens_of(doc_id)

    def vector_cache(self) -> PostgresVectorCache:
        return PostgresVectorCache(self.connection, self.kb)

    def replace_all(
        self,
        manifest: Manifest,
        documents: list[Document],
        chunks_by_doc: dict[str, list[Chunk]],
        vectors_by_doc: dict[str, np.ndarray],
        tokens_by_doc: dict[str, list[list[str]]],
        crosslingual_by_doc: dict[str, np.ndarray] | None = None,
    ) -> Manifest:
        """Write a complete new generation holding `documents` and make it live, in one
        transaction."""
        connection = self.connection
        with _transaction(connection):
            # a row lock on the kb as well as the advisory lock: a writer that bypassed
            # writing() still cannot interleave with another
            rows = connection.run(
                "SELECT generation FROM qa_kbs WHERE kb = :kb FOR UPDATE", kb=self.kb
            )
            previous = rows[0][0] if rows else 0
            (newest,) = _one(
                connection.run(
                    "SELECT coalesce(max(generation), 0) FROM qa_chunks WHERE kb = :kb", kb=self.kb
                )
            )
            generation = max(previous, newest, manifest.generation) + 1
            written = replace(manifest, generation=generation, documents={})
            all_tokens = self._copy_rows(
                generation,
                written,
                documents,
                chunks_by_doc,
                vectors_by_doc,
                tokens_by_doc,
                crosslingual_by_doc,
            )
            if all_tokens:  # bm25s cannot index nothing; an empty kb has no terms
                self._copy_terms(generation, LexicalIndex.build(all_tokens))
            if written.chunk_count >= HNSW_FROM:
                self._build_hnsw(generation, written, crosslingual_by_doc)
            recipe = json.dumps(written.recipe())
            connection.run(
                "INSERT INTO qa_kbs VALUES (:kb, :generation, CAST(:recipe AS jsonb))"
                " ON CONFLICT (kb) DO UPDATE SET generation = excluded.generation,"
                " recipe = excluded.recipe",
                kb=self.kb,
                generation=generation,
                recipe=recipe,
            )
            self._remove_stale(keep=(generation, previous))
        return written

    def _copy_rows(
        self,
        generation,
        manifest,
        documents,
        chunks_by_doc,
        vectors_by_doc,
        tokens_by_doc,
        crosslingual_by_doc,
    ) -> list[list[str]]:
        connection = self.connection
        position = 0
        all_tokens: list[list[str]] = []
        copy = _BinaryCopy(connection, "qa_chunks", _CHUNK_COLUMNS)
        for doc in documents:
            chunks = chunks_by_doc[doc.doc_id]
            vectors = vectors_by_doc[doc.doc_id]
            tokens = tokens_by_doc[doc.doc_id]
            crosslingual = (
                crosslingual_by_doc[doc.doc_id] if crosslingual_by_doc is not None else None
            )
            if not len(vectors) == len(tokens) == len(chunks):
                raise ValueError(f"{doc.doc_id}: chunks, vectors and tokens differ in number")
            all_tokens.extend(tokens)
            for i, (chunk, chunk_tokens) in enumerate(zip(chunks, tokens, strict=True)):
                copy.write_row(
                    (
                        self.kb,
                        generation,
                        position + i,
                        chunk.doc_id,
                        chunk.title,
                        chunk.text,
                        chunk.start,
                        chunk.end,
                        _location_json(chunk.location),
                        _sections_json(chunk.sections),
                        _TOKEN_SEPARATOR.join(chunk_tokens),
                        np.asarray(vectors[i], dtype=np.float32),
                        None if crosslingual is None else np.asarray(crosslingual[i], np.float32),
                    )
                )
            manifest.documents[doc.doc_id] = DocumentEntry(
                doc.source, doc.content_hash, doc.title, position, len(chunks)
            )
            position += len(chunks)
        copy.flush()
        copy = _BinaryCopy(connection, "qa_documents", _DOCUMENT_COLUMNS)
        for doc in documents:
            entry = manifest.documents[doc.doc_id]
            copy.write_row(
                (
                    self.kb,
                    generation,
                    doc.doc_id,
                    doc.source,
                    doc.content_hash,
                    doc.title,
                    doc.text,
                    _sections_json(doc.sections),
                    doc.kind,
                    doc.pages,
                    doc.ocr_pages,
                    entry.first,
                    entry.count,
                )
            )
        copy.flush()
        return all_tokens

    def _copy_terms(self, generation: int, lexical: LexicalIndex) -> None:
        starts, chunks, weights = lexical._starts, lexical._chunks, lexical._weights
        copy = _BinaryCopy(self.connection, "qa_terms", _TERM_COLUMNS)
        for term, t in lexical._vocab.items():
            # bm25s's vocabulary ends with "", a term of no chunk and without a column
            span = slice(int(starts[t]), int(starts[t + 1])) if t + 1 < len(starts) else None
            if span is None:
                span = slice(0, 0)
            copy.write_row(
                (
                    self.kb,
                    generation,
                    term,
                    np.asarray(chunks[span], dtype=np.int32).tobytes(),
                    np.asarray(weights[span], dtype=np.float32).tobytes(),
                )
            )
        copy.flush()

    def _index_name(self, generation: int, space: str) -> str:
        digest = hashlib.sha256(self.kb.encode()).hexdigest()[:12]
        return f"qa_hnsw_{space}_{digest}_{generation}"

    def _build_hnsw(self, generation: int, manifest: Manifest, crosslingual_by_doc) -> None:
        spaces = [("vector", manifest.dim)]
        if crosslingual_by_doc:
            spaces.append(("crosslingual", next(iter(crosslingual_by_doc.values())).shape[1]))
        for column, dim in spaces:
            memory = hnsw_build_memory(manifest.chunk_count, dim) // 2**20
            self.connection.run(f"SET LOCAL maintenance_work_mem = '{int(memory)}MB'")
            self.connection.run(
                f'CREATE INDEX "{self._index_name(generation, column)}" ON qa_chunks'
                f' USING hnsw (("{column}"::vector({int(dim)})) vector_ip_ops)'
                f" WITH (m = {int(HNSW_M)}, ef_construction = {int(HNSW_EF_CONSTRUCTION)})"
                f" WHERE kb = {_string_constant(self.kb)} AND generation = {int(generation)}"
            )

    def _remove_stale(self, keep: tuple[int, int]) -> None:
        connection = self.connection
        for table in ("qa_chunks", "qa_documents", "qa_terms"):
            connection.run(
                f"DELETE FROM {table} WHERE kb = :kb"
                " AND NOT generation = ANY(CAST(:keep AS bigint[]))",
                kb=self.kb,
                keep=[int(g) for g in keep],
            )
        prefix = f"qa_hnsw_%_{hashlib.sha256(self.kb.encode()).hexdigest()[:12]}_%"
        stale = connection.run(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'qa_chunks'"
            " AND indexname LIKE :prefix",
            prefix=prefix,
        )
        for (name,) in stale:
            if int(name.rsplit("_", 1)[1]) not in keep:
                connection.run(f'DROP INDEX "{name}"')

    def close(self) -> None:
        if self._existing is not None:
            self._existing.close()
            self._existing = None
        if self._connection is not None:
            _close(self._connection)
            self._connection = None


def hnsw_build_memory(chunks: int, dim: int) -> int:
    """The bytes of maintenance_work_mem an HNSW graph of this many vectors is built in."""
    node = 4 * dim + 2 * HNSW_M * 16 + HNSW_NODE_OVERHEAD
    return max(HNSW_BUILD_MEMORY_MIN, chunks * node)


def hnsw_ef_search(chunks: int) -> int:
    """The HNSW search beam for a kb of this many chunks."""
    grown = round(HNSW_EF_SEARCH * math.sqrt(chunks / HNSW_EF_SEARCH_GROWS_FROM))
    return min(HNSW_EF_SEARCH_MAX, max(HNSW_EF_SEARCH, grown))


def open_store(url: str, kb: str = "default") -> PostgresStore:
    return PostgresStore(url, kb)


def open_writer(url: str, kb: str = "default") -> PostgresWriter:
    return PostgresWriter(url, kb)
