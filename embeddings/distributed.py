"""Indexing spread over a Ray cluster (`qa index --ray`, the `ray` extra).

Reading and embedding are the costs of indexing; both run on the cluster. Each file is read,
cleaned, chunked and tokenized in a Ray task of one CPU; then one actor per CPU loads each
embedder once and embeds batches of chunk texts. The driver sends the local run's batches
(EMBED_BATCH texts, in the same order) and takes every result back in file and batch order, so
the index, its messages and its exit status are those of a local run; it writes the index itself
through its StoreWriter.

What travels: a file goes to its task as a path when every node of the cluster is this machine
(`--ray local`, or `ray start --head` here and `--ray auto`), since the workers then see the
driver's files; to any other cluster it goes as its bytes, since a remote worker cannot see the
driver's paths (it reads them from a temporary copy of the same name). Back come the document
(cleaned text, sections), its chunks and tokens, and the vectors.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.errors import QAError
from embeddings.loading import load_file, load_warnings
from embeddings.records import Chunk, Document

# What the workers must see as the driver does. Their threads are not passed on: each task and
# actor holds one CPU and runs one thread, as two workers sharing two cores must.
_PASSED_ON = ("OMP_WAIT_POLICY", "HF_HUB_OFFLINE")
_WORKER_THREADS = 1
# Files in flight per CPU: enough to keep every worker busy while the driver takes results in
# order, few enough that a large corpus's bytes are not all in the object store at once.
_FILES_IN_FLIGHT = 4
LOCAL = "local"

# A document's chunks and each chunk's BM25 tokens, made where the document was read.
Chunked = tuple[list[Chunk], list[list[str]]]
Chunker = Callable[[Document], Chunked]
# unchanged(path, doc_id): the indexed document of a file whose bytes are unchanged, else None
Unchanged = Callable[[Path, str], Document | None]
# skip(path, why) and partly(path, what): the indexer's messages, as a local read gives them
Told = Callable[[Path, str], None]
Reading = Callable[[Path, int, int], None]


def require_ray() -> None:
    """Refuse `--ray` before any work when the extra is missing."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise QAError("`qa index --ray` needs `pip install 'qa[ray]'`") from None


@dataclass
class ReadFile:
    """What a worker made of one file: the document and its chunks, or why it was skipped; and
    every message a local read would have given, in the order it would have given them."""

    document: Document | None = None
    chunked: Chunked = ([], [])
    skipped: str | None = None
    # what the reader read only in part, as load_file's warn heard it
    partly: list[str] = field(default_factory=list)
    # the LoadWarnings (path, what) raised while reading, such as replaced bytes
    load_warnings: list[tuple[str, str]] = field(default_factory=list)


def read_file(
    given: str, source: str, doc_id: str, chunker: Chunker, data: bytes | None = None
) -> ReadFile:
    """Read, clean, chunk and tokenize one file, as the indexer reads it locally. given: the path
    as the user named it (messages say it); source: its resolved path (the document's source);
    data: its bytes, when the worker cannot see the path."""
    if data is None:
        return _read_at(Path(given).absolute(), given, source, doc_id, chunker)
    with tempfile.TemporaryDirectory(prefix="qa-ray-") as folder:
        copy = Path(folder, Path(given).name)
        copy.write_bytes(data)
        return _read_at(copy, given, source, doc_id, chunker)


def _read_at(at: Path, given: str, source: str, doc_id: str, chunker: Chunker) -> ReadFile:
    def as_given(message: str) -> str:
        return message.replace(str(at), given)

    read = ReadFile()
    with load_warnings() as found:
        try:
            doc = load_file(at, doc_id, warn=read.partly.append)
        except (OSError, ValueError) as exc:
            read.skipped = as_given(str(exc))
        else:
            read.document = replace(doc, source=source)
            read.chunked = chunker(read.document)
    read.partly = [as_given(m) for m in read.partly]
    read.load_warnings = [(given if p == str(at) else p, as_given(w)) for p, w in found]
    return read


class _EmbedWorker:
    """One per CPU of the cluster: the embedders it has loaded, by name."""

    def __init__(self):
        self._embedders = {}

    def embed(self, name: str, texts: list[str]) -> np.ndarray:
        from embeddings.embedders import load_embedder

        if name not in self._embedders:
            self._embedders[name] = load_embedder(name, _WORKER_THREADS)
        return np.asarray(self._embedders[name].embed_passages(texts), dtype=np.float32)


@contextmanager
def _failures_told(ray) -> Iterator[None]:
    """A worker's failure as one line: its own QAError's (an embedder it cannot load), else
    Ray's."""
    try:
        yield
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, QAError):
            raise QAError(str(exc.cause)) from None
        raise QAError(f"a Ray worker failed: {_one_line(exc)}") from None
    except ray.exceptions.RayError as exc:
        raise QAError(f"a Ray worker failed: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


class RayCluster:
    """Reads files and embeds texts on a Ray cluster: address "local" starts one on this machine
    (of num_cpus CPUs, default all), any other is handed to ray.init (auto, ray://host:10001).
    Nothing starts until the first file or text is sent."""

    def __init__(self, address: str, num_cpus: int | None = None):
        require_ray()
        self.address = address
        self._num_cpus = num_cpus
        self._ray: Any = None
        self._started = False
        self._pool: Any = None
        self._workers = 0
        self.start_seconds = 0.0

    @property
    def workers(self) -> int:
        """One per CPU of the cluster."""
        self._connect()
        return self._workers

    def _connect(self):
        if self._ray is not None:
            return self._ray
        import ray

        started = time.perf_counter()
        env = {name: os.environ[name] for name in _PASSED_ON if name in os.environ}
        try:
            self._started = not ray.is_initialized()
            ray.init(
                None if self.address == LOCAL else self.address,
                num_cpus=self._num_cpus if self.address == LOCAL else None,
                runtime_env={"env_vars": env},
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                ignore_reinit_error=True,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise QAError(
                f"cannot start or reach the Ray cluster at {self.address}: {_one_line(exc)}"
            ) from None
        self._ray = ray
        self._workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.start_seconds = time.perf_counter() - started
        return ray

    def shares_files(self) -> bool:
        """Whether the workers see this machine's files: every node of the cluster is it."""
        ray = self._connect()
        here = ray.util.get_node_ip_address()
        return all(node["NodeManagerAddress"] == here for node in ray.nodes() if node["Alive"])

    def load(
        self,
        files: list[tuple[Path, str]],
        unchanged: Unchanged,
        chunker: Chunker,
        skip: Told,
        partly: Told,
        reading: Reading | None = None,
    ) -> tuple[list[Document], dict[str, Chunked]]:
        """The documents of the files, in their order, and the chunks of those the workers read;
        every file skipped or read in part told to skip and partly as the local loop tells them:
        each file's in turn, then the LoadWarnings of all. Unchanged files are not read again."""
        kept: dict[int, Document] = {}
        unhashable: dict[int, str] = {}
        to_read = []
        for n, (path, doc_id) in enumerate(files):
            try:
                doc = unchanged(path, doc_id)
            except (OSError, ValueError) as exc:
                unhashable[n] = str(exc)
                continue
            if doc is None:
                to_read.append((path, doc_id))
            else:
                kept[n] = doc
        results = self.read(to_read, chunker)
        documents: list[Document] = []
        chunked: dict[str, Chunked] = {}
        load_warned: list[tuple[str, str]] = []
        for n, (path, doc_id) in enumerate(files):
            if n in unhashable:
                skip(path, unhashable[n])
                continue
            if n not in kept:
                read = next(results)
                for message in read.partly:
                    partly(path, message)
                load_warned += read.load_warnings
                if read.document is None:
                    skip(path, str(read.skipped))
                    continue
                kept[n], chunked[doc_id] = read.document, read.chunked
                if reading:
                    reading(path, read.document.pages, read.document.pages)
            documents.append(kept[n])
        for warned, what in load_warned:
            partly(Path(warned), what)
        return documents, chunked

    def read(self, files: list[tuple[Path, str]], chunker: Chunker) -> Iterator[ReadFile]:
        """What each file holds, in the order of the files, read a few per CPU at once."""
        if not files:
            return
        ray = self._connect()
        by_path = self.shares_files()
        task = ray.remote(num_cpus=1)(read_file)
        queue = iter(files)
        in_flight: deque = deque()

        def submit() -> None:
            file = next(queue, None)
            if file is None:
                return
            path, doc_id = file
            given, source = str(path), str(path.resolve())
            if by_path:
                in_flight.append(task.remote(given, source, doc_id, chunker))
                return
            try:
                data = path.read_bytes()
            except OSError:  # read here, so that it fails with the local run's own words
                in_flight.append(read_file(given, source, doc_id, chunker))
            else:
                in_flight.append(task.remote(given, source, doc_id, chunker, data))

        for _ in range(self.workers * _FILES_IN_FLIGHT):
            submit()
        while in_flight:
            head = in_flight.popleft()
            submit()
            if isinstance(head, ReadFile):
                yield head
                continue
            with _failures_told(ray):
                read = ray.get(head)
            yield read

    def embed(self, name: str, batches: list[list[str]]) -> list[np.ndarray]:
        """Each batch's vectors, in the order of the batches."""
        ray = self._connect()
        with _failures_told(ray):
            if self._pool is None:
                from ray.util import ActorPool

                actor = ray.remote(num_cpus=1)(_EmbedWorker)
                self._pool = ActorPool([actor.remote() for _ in range(self.workers)])
            return list(
                self._pool.map(lambda worker, batch: worker.embed.remote(name, batch), batches)
            )

    def close(self) -> None:
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray = None
        self._pool = None


@contextmanager
def cluster_at(address: str | None) -> Iterator[RayCluster | None]:
    """The Ray cluster at address (None: no cluster), shut down after if this run started it."""
    if not address:
        yield None
        return
    cluster = RayCluster(address)
    try:
        yield cluster
    finally:
        cluster.close()
