"""Answer and retrieval quality with `qa eval` on the seed questions and the CMRC 2018 dev subset.

Run: python bench/quality.py [--quick] [--json]
CMRC questions are asked in Chinese and, for the 120 translated ones, in English, against one
freshly built index (so index_seconds is a real cold build).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from qa.evaluation import evaluate, load_eval_inputs

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
SEEDS = ROOT / "seeds"
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_qa.jsonl"
CMRC_DOCS = DATA / "cmrc_dev_docs.jsonl"
CMRC_QUESTIONS = DATA / "cmrc_dev_questions.jsonl"
CMRC_QUESTIONS_EN = DATA / "cmrc_dev_questions_en.jsonl"
QUICK_DOCS = 80  # --quick keeps the first documents and their questions


def _subset(path: Path, keep, folder: Path) -> Path:
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if keep(json.loads(line))
    ]
    out = folder / path.name
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def run(quick: bool = False, backend: str = "extractive", keep: Path | None = None) -> dict:
    """keep: build the CMRC index in this folder and leave it there, for the fusion step."""
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seeds = load_eval_inputs(SEEDS, SEED_QUESTIONS)
        figures["seeds"] = evaluate(seeds, backend=backend, index=folder / "seeds").metrics
        docs, questions, questions_en = CMRC_DOCS, CMRC_QUESTIONS, CMRC_QUESTIONS_EN
        if quick:
            kept = {
                json.loads(line)["doc_id"]
                for line in CMRC_DOCS.read_text(encoding="utf-8").splitlines()[:QUICK_DOCS]
            }
            docs = _subset(CMRC_DOCS, lambda d: d["doc_id"] in kept, folder)
            questions = _subset(CMRC_QUESTIONS, lambda q: q["doc_id"] in kept, folder)
            questions_en = _subset(CMRC_QUESTIONS_EN, lambda q: q["doc_id"] in kept, folder)
        index = keep or folder / "cmrc"
        figures["cmrc"] = evaluate(
            load_eval_inputs(docs, questions), backend=backend, index=index
        ).metrics
        figures["cmrc_en"] = evaluate(
            load_eval_inputs(docs, questions_en), backend=backend, index=index
        ).metrics
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.quick)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    keys = list(figures["cmrc"])
    print(f"{'metric':<20}" + "".join(f"{name:>12}" for name in figures))
    for key in keys:
        row = [figures[name].get(key) for name in figures]
        print(f"{key:<20}" + "".join(f"{'-' if v is None else v:>12}" for v in row))


if __name__ == "__main__":
    main()
