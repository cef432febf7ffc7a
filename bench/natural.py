"""Questions worded the way people ask them, over the seeds and over real files (issue 33).

Run: python bench/natural.py [--set seeds real] [--backend extractive|openai] [--local] [--k 5]
                             [--min-score X] [--json]
Two sets: bench/data/natural_seed_questions.jsonl over the two documents in seeds/, and
bench/data/real_docs_questions.jsonl over the files of bench/data/real_docs_manifest.json (put
there by bench/real_docs_fetch.py; the set is skipped, saying so, when they are absent). Each set
is indexed with qa's own library into bench/results/natural/ (kept: a file already indexed is not
read again) and every question is asked through qa.api.Assistant. --backend openai asks the chat
model at OPENAI_BASE_URL; --local starts the local llama.cpp model first (`make bench-local`).
--min-score asks with another extractive refusal threshold, to see what it trades.

Per half of bench/halves.py, each with its standard error: retrieval (the gold file among the
passages; at rank 1), answer correct (a gold string, and every all_of string, in the normalised
answer), false refusals (answerable, refused), unanswerable refused, located (a citation's page,
slide or sheet is the gold one, where the question gives one; of the answerable questions that
give one) and the answer time's median; for the real files also per format. Then every failure,
sorted by how it failed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import halves
from real_docs_fetch import FOLDER as REAL_FOLDER
from real_docs_fetch import manifest

from embeddings.indexer import build_index
from embeddings.store.base import IndexMismatch
from qa.api import Assistant
from qa.evaluation import answer_is_correct
from qa.rules import Rules

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / "data"
RESULTS = BENCH / "results" / "natural"
SEED_FILES = sorted((ROOT / "seeds").glob("*.txt"))
SETS = {
    "seeds": DATA / "natural_seed_questions.jsonl",
    "real": DATA / "real_docs_questions.jsonl",
}


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def gold_file(question: dict) -> str | None:
    """The file name that holds the answer: seeds name it by doc_id, real files by name."""
    if question.get("doc_id"):
        return f"{question['doc_id']}.txt"
    return question.get("file")


def located(citations, location: dict) -> bool:
    """Whether a citation sits where the gold says: the page (or one of the pages), the slide,
    or the sheet."""
    for citation in citations:
        where = citation.location
        if "page" in location and where.page is not None:
            pages = location["page"] if isinstance(location["page"], list) else [location["page"]]
            last = where.last_page or where.page
            if any(where.page <= page <= last for page in pages):
                return True
        if "slide" in location and where.slide == location["slide"]:
            return True
        if "sheet" in location and where.sheet == location["sheet"]:
            return True
    return False


def failure(row: dict) -> str | None:
    """How a question failed, in the terms the answer step is fixed by; None when it did not."""
    if not row["answerable"]:
        return None if row["refused"] else "unanswerable answered"
    if row["correct"]:
        return None
    if row["refused"]:
        return "refused although retrieved" if row["retrieved"] else "refused, not retrieved"
    if not row["retrieved"]:
        return "answered from another file (gold file not retrieved)"
    if not row["cited_gold"]:
        return "answered from another file (gold file retrieved)"
    return "wrong sentence of the right file"


def ask_all(assistant: Assistant, questions: list[dict], k: int) -> list[dict]:
    rows = []
    for question in questions:
        started = time.perf_counter()
        answer = assistant.ask(question["question"], k)
        seconds = time.perf_counter() - started
        gold = gold_file(question)
        files = [Path(p.source).name for p in answer.passages]
        cited = {Path(c.source).name for c in answer.citations}
        answerable = question["kind"] != "unanswerable"
        row = {
            "id": question["id"],
            "question": question["question"],
            "kind": question["kind"],
            "format": question.get("format"),
            "answerable": answerable,
            "answer": answer.answer,
            "refused": answer.abstained,
            "retrieved": gold in files,
            "retrieved_at_1": bool(files) and files[0] == gold,
            "cited_gold": gold in cited,
            "correct": answerable
            and not answer.abstained
            and answer_is_correct(answer.answer, question["answers"], question.get("all_of")),
            "located": None,
            "citations": [c.to_dict() for c in answer.citations],
            "seconds": round(seconds, 3),
        }
        if answerable and question.get("location"):
            row["located"] = not answer.abstained and located(
                answer.citations, question["location"]
            )
        row["failure"] = failure(row)
        rows.append(row)
        print(f"{row['id']}: {row['failure'] or 'ok'}", file=sys.stderr, flush=True)
    return rows


def figures(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    with_location = [r for r in answerable if r["located"] is not None]
    seconds = [r["seconds"] for r in rows]
    return {
        "retrieved": halves.rate([r["retrieved"] for r in answerable]),
        "retrieved_at_1": halves.rate([r["retrieved_at_1"] for r in answerable]),
        "correct": halves.rate([r["correct"] for r in answerable]),
        "false_refusals": halves.rate([r["refused"] for r in answerable]),
        "unanswerable_refused": halves.rate([r["refused"] for r in unanswerable]),
        "located": halves.rate([r["located"] for r in with_location]),
        "answer_s_p50": round(statistics.median(seconds), 3) if seconds else None,
    }


def index_of(name: str, files: list[Path]) -> Path:
    """The set's index under bench/results/natural, brought up to date with its files."""
    folder = RESULTS / f"{name}-index"
    warn = lambda message: print(message, file=sys.stderr)  # noqa: E731
    try:
        build_index(folder, files, warn=warn)
    except IndexMismatch:  # built by another reader or cleaner: read everything again
        build_index(folder, files, warn=warn, rebuild=True)
    return folder


def run_set(name: str, backend: str, k: int, model: str | None, rules: Rules = Rules()) -> dict:
    questions = load(SETS[name])
    if name == "real":
        files = [REAL_FOLDER / entry["name"] for entry in manifest()]
        absent = [f.name for f in files if not f.is_file()]
        if absent:
            return {
                "skipped": f"{len(absent)} of {len(files)} real files absent "
                "(python bench/real_docs_fetch.py puts them in bench/data/real_docs/)"
            }
    else:
        files = SEED_FILES
    assistant = Assistant(index=index_of(name, files), backend=backend, model=model, rules=rules)
    rows = ask_all(assistant, questions, k)
    split = halves.split(rows)
    result = {
        "questions": len(rows),
        "halves": {half: figures(part) for half, part in split.items()},
        "all": figures(rows),
    }
    if name == "real":
        by_format = defaultdict(list)
        for row in rows:
            if row["format"]:
                by_format[row["format"]].append(row)
        result["by_format"] = {fmt: figures(part) for fmt, part in sorted(by_format.items())}
    result["failures"] = [
        {key: row[key] for key in ("id", "failure", "question", "answer", "citations")}
        for row in rows
        if row["failure"]
    ]
    return result


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(
    sets: list[str],
    backend: str = "extractive",
    k: int = 5,
    local: bool = False,
    rules: Rules = Rules(),
) -> dict:
    def work(model: str | None) -> dict:
        return {"backend": backend, "k": k, "model": model} | {
            name: run_set(name, backend, k, model, rules) for name in sets
        }

    if not local:
        return work(None)
    from qa.tools import local_model

    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        with (Path(tmp) / "server.log").open("w") as log:
            process = local_model.serve(port=port, output=log)
        try:
            os.environ["OPENAI_BASE_URL"] = local_model.base_url("127.0.0.1", port)
            return work(local_model.MODEL_NAME)
        finally:
            local_model.stop(process)


def _cell(rate: dict) -> str:
    """mean±se (n); no standard error for a single question, nothing for none."""
    if not rate["n"]:
        return "-"
    if rate["n"] == 1:
        return f"{rate['mean']:.2f} (1)"
    return f"{rate['mean']:.2f}±{rate['se']:.2f} ({rate['n']})"


KEYS = (
    "retrieved",
    "retrieved_at_1",
    "correct",
    "false_refusals",
    "unanswerable_refused",
    "located",
)


def print_set(name: str, result: dict) -> None:
    print(f"== {name}")
    if "skipped" in result:
        print(f"skipped: {result['skipped']}")
        return
    columns = {**result["halves"], "all": result["all"], **result.get("by_format", {})}
    print(f"{'':<22}" + "".join(f"{c:>20}" for c in columns))
    for key in KEYS:
        print(f"{key:<22}" + "".join(f"{_cell(f[key]):>20}" for f in columns.values()))
    print(f"{'answer_s_p50':<22}" + "".join(f"{f['answer_s_p50']!s:>20}" for f in columns.values()))
    by_kind = defaultdict(list)
    for row in result["failures"]:
        by_kind[row["failure"]].append(row)
    for kind, rows in sorted(by_kind.items()):
        print(f"-- {kind}: {len(rows)}")
        for row in rows:
            print(f"   {row['id']} {row['question']}\n      {row['answer'][:160]!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--backend", choices=("extractive", "openai"), default="extractive")
    parser.add_argument("--local", action="store_true", help="start the local model (openai)")
    parser.add_argument("--k", type=int, default=5, help="passages per question")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--min-score", type=float, help="the extractive refusal threshold (AnswerRules.min_score)"
    )
    args = parser.parse_args()
    rules = Rules()
    if args.min_score is not None:
        rules = replace(rules, answer=replace(rules.answer, min_score=args.min_score))
    # so that `kill` runs run()'s finally too, which stops a local server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    backend = "openai" if args.local else args.backend
    result = run(args.set, backend, args.k, args.local, rules)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(
        f"backend {result['backend']}, k {result['k']}"
        + (f", {result['model']}" if result["model"] else "")
    )
    for name in args.set:
        print_set(name, result[name])


if __name__ == "__main__":
    main()
