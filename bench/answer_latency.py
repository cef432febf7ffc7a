"""Where an answer's time goes, and what a process and a loop of answer() calls pay (issue 33).

Run: python bench/answer_latency.py [--quick] [--questions 100] [--index DIR] [--json]
     python bench/answer_latency.py --first-english-only [--json]
- CMRC: the first --questions Chinese dev questions asked as `qa eval` asks them (retrieve 10,
  answer from the best 5) through one Assistant; answer p50 / p90 and each step's mean time per
  question, each step's own time (a step inside another counts once, in the inner one).
- Seeds, in fresh processes: the first English question's ask() after the Assistant is open,
  with the dictionary cache empty (a first run) and filled (every later one).
- Seeds: answer() called in a loop with the same settings against Assistant.ask, medians.
--index keeps the CMRC index there (built once, topped up after); --quick: its first 80 documents.
--first-english-only: the seeds' first English question alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cmrc_subset  # noqa: E402

ENGLISH = [
    "Where was the Local Leaders Climate Summit held?",
    "What is the waste recycling rate in Shenzhen according to the press conference?",
]
SEED_QUESTIONS = ["镇江提出哪一年实现碳峰值？", "深圳公交機動化分擔率是多少？", *ENGLISH]
SUPPORT_STEP = "support check"


class StepClock:
    """Each step's own time: a step's clock stops while a step inside it runs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.running = False  # only the answer's steps are timed, not retrieval's
        self._running: list[list] = []  # [step, started, inner seconds]

    def timed(self, step: str | Callable[[], str], function: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            if not self.running:
                return function(*args, **kwargs)
            name = step() if callable(step) else step
            self._running.append([name, time.perf_counter(), 0.0])
            try:
                return function(*args, **kwargs)
            finally:
                name, started, inner = self._running.pop()
                spent = time.perf_counter() - started
                self.seconds[name] += spent - inner
                if self._running:
                    self._running[-1][2] += spent

        return wrapper

    def inside(self, step: str) -> bool:
        return any(running[0] == step for running in self._running)


@contextmanager
def clocked(assistant, clock: StepClock) -> Iterator[None]:
    """The answer's steps timed, by wrapping the functions the pipeline and answerer call."""
    import qa.answering.extractive as extractive
    import qa.context as context
    import qa.pipeline as pipeline

    embedder = assistant.retriever.embedder
    patches = [
        (extractive.ExtractiveAnswerer, "_asked", "question analysis"),
        (context.QuestionContext, "document_text", "document reading"),
        (extractive, "sentence_spans", "sentence splitting"),
        (extractive, "coverage", "sentence evidence (word coverage)"),
        (extractive, "answer_span", "answer span and tagging"),
        (extractive, "_points_back", "answer span and tagging"),
        (extractive, "_names_bare", "answer span and tagging"),
        (pipeline, "instructs_assistant", "instruction check"),
        (pipeline, "check_citations", "citation check"),
        (pipeline, "repair_citations", SUPPORT_STEP),
    ]

    def embedding(kind: str) -> Callable[[], str]:
        return lambda: f"{kind} embedding" + (" (support)" if clock.inside(SUPPORT_STEP) else "")

    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    saved += [
        (embedder, name, getattr(embedder, name)) for name in ("embed_queries", "embed_passages")
    ]
    try:
        for owner, name, step in patches:
            setattr(owner, name, clock.timed(step, getattr(owner, name)))
        embedder.embed_queries = clock.timed(embedding("question"), embedder.embed_queries)
        embedder.embed_passages = clock.timed(embedding("sentence"), embedder.embed_passages)
        yield
    finally:
        for owner, name, original in saved:
            if owner is embedder:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def cmrc(quick: bool, questions: int, index: Path | None) -> dict:
    from embeddings.indexer import index_documents
    from qa.api import Assistant
    from qa.evaluation import RETRIEVAL_DEPTH

    corpus, asked, _ = cmrc_subset.load(quick)
    asked = asked[:questions]
    with tempfile.TemporaryDirectory() as tmp:
        root = index or Path(tmp)
        index_documents(root, corpus)
        assistant = Assistant(index=root, backend="extractive")
        clock = StepClock()
        retrieval, answering = [], []
        with clocked(assistant, clock):
            for question in asked:
                started = time.perf_counter()
                ranked = assistant.retriever.search(question.question, RETRIEVAL_DEPTH)
                retrieved = time.perf_counter()
                clock.running = True
                assistant.answer_from(question.question, ranked[:5])
                clock.running = False
                retrieval.append((retrieved - started) * 1000)
                answering.append((time.perf_counter() - retrieved) * 1000)
    answer_total = sum(answering)
    steps = {
        step: round(seconds * 1000 / len(asked), 1)
        for step, seconds in sorted(clock.seconds.items(), key=lambda item: -item[1])
    }
    steps["other"] = round((answer_total - sum(steps.values()) * len(asked)) / len(asked), 1)
    return {
        "questions": len(asked),
        "documents": len(corpus),
        "retrieval_ms_p50": round(statistics.median(retrieval), 1),
        "answer_ms_p50": round(statistics.median(answering), 1),
        "answer_ms_p90": round(statistics.quantiles(answering, n=10)[-1], 1),
        "answer_ms_mean": round(answer_total / len(asked), 1),
        "answer_steps_ms_mean": steps,
    }


_FIRST_ENGLISH = """
import json, sys, time
started = time.perf_counter()
from qa.api import Assistant
imported = time.perf_counter()
assistant = Assistant(index=sys.argv[1], backend="extractive")
opened = time.perf_counter()
assistant.ask(sys.argv[2])
asked = time.perf_counter()
assistant.ask(sys.argv[3])
print(json.dumps({"import_s": imported - started, "open_s": opened - imported,
    "first_ask_s": asked - opened, "second_ask_s": time.perf_counter() - asked}))
"""


def first_english(index: Path, cache: Path) -> dict:
    """A fresh process's first English ask(), with the user cache empty, then filled (after one
    process run beside, so that neither pays for compiling qa's modules)."""
    figures = {}
    for run, folder in (("warm-up", "beside"), ("cache_empty", "cache"), ("cache_filled", "cache")):
        env = {**os.environ, "XDG_CACHE_HOME": str(cache / folder)}
        env.pop("OPENAI_BASE_URL", None)
        env.pop("OPENAI_API_KEY", None)
        printed = subprocess.run(
            [sys.executable, "-c", _FIRST_ENGLISH, str(index), *ENGLISH],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        figures[run] = {k: round(v, 2) for k, v in json.loads(printed.splitlines()[-1]).items()}
    del figures["warm-up"]
    return figures


def answer_loop(index: Path, rounds: int) -> dict:
    """Medians of answer() in a loop and of one Assistant's ask(), the same questions."""
    from qa.api import Assistant, answer

    assistant = Assistant(index=index, backend="extractive")
    answer(SEED_QUESTIONS[0], index=index, backend="extractive")  # both warmed once
    assistant.ask(SEED_QUESTIONS[0])

    def answer_alone(question: str) -> None:
        answer(question, index=index, backend="extractive")

    looped, asked = [], []
    ways = [(looped, answer_alone), (asked, assistant.ask)]
    for round_number in range(rounds):
        for question in SEED_QUESTIONS:
            for times, ask in ways[:: 1 if round_number % 2 else -1]:  # each first in turn
                started = time.perf_counter()
                ask(question)
                times.append(time.perf_counter() - started)
    loop_s, ask_s = statistics.median(looped), statistics.median(asked)
    return {
        "answer_loop_s_p50": round(loop_s, 3),
        "assistant_ask_s_p50": round(ask_s, 3),
        "ratio": round(loop_s / ask_s, 2),
        "calls": len(looped),
    }


def run(
    quick: bool = False,
    questions: int = 100,
    index: Path | None = None,
    first_english_only: bool = False,
) -> dict:
    from embeddings.indexer import build_index
    from qa.config import seeds_dir

    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds"
        build_index(seeds, [seeds_dir()])
        if first_english_only:
            return {"first_english_question": first_english(seeds, Path(tmp) / "cache")}
        return {
            "cmrc": cmrc(quick, questions, index),
            "first_english_question": first_english(seeds, Path(tmp) / "cache"),
            "answer_loop": answer_loop(seeds, 2 if quick else 4),
        }


def print_first_english(figures: dict) -> None:
    for run_name, f in figures.items():
        print(
            f"first English ask(), {run_name}: {f['first_ask_s']} s (import {f['import_s']} s, "
            f"open {f['open_s']} s, second English ask {f['second_ask_s']} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the first 80 CMRC documents")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--index", type=Path, help="keep the CMRC index in this folder")
    parser.add_argument(
        "--first-english-only",
        action="store_true",
        help="only the seeds' first English question in fresh processes, cache empty and filled",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.quick, args.questions, args.index, args.first_english_only)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=1))
        return
    if "cmrc" not in figures:
        print_first_english(figures["first_english_question"])
        return
    c = figures["cmrc"]
    print(
        f"CMRC, {c['questions']} questions over {c['documents']} documents: retrieval p50 "
        f"{c['retrieval_ms_p50']} ms, answer p50 {c['answer_ms_p50']} ms "
        f"(p90 {c['answer_ms_p90']}, mean {c['answer_ms_mean']})"
    )
    for step, ms in c["answer_steps_ms_mean"].items():
        print(f"  {step:<38}{ms:>8} ms")
    print_first_english(figures["first_english_question"])
    loop = figures["answer_loop"]
    print(
        f"answer() in a loop {loop['answer_loop_s_p50']} s, Assistant.ask "
        f"{loop['assistant_ask_s_p50']} s: {loop['ratio']}x"
    )


if __name__ == "__main__":
    main()
