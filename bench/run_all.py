"""Every benchmark in one run: `make bench`. Writes every figure to bench/results.json.

Run: python bench/run_all.py [--quick]
The peer (Langchain-Chatchat's retrieval stack) needs the optional extra: pip install -e ".[peer]".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import answer_latency  # noqa: E402
import ask_latency  # noqa: E402
import chunk_size  # noqa: E402
import extractive_threshold  # noqa: E402
import followup  # noqa: E402
import fusion  # noqa: E402
import ingest  # noqa: E402
import ingest_formats  # noqa: E402
import natural  # noqa: E402
import quality  # noqa: E402
import query_scale  # noqa: E402
import refusal  # noqa: E402
import retrieval_margins  # noqa: E402
import support_check  # noqa: E402
import vector_stability  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results.json"
SIDE_BY_SIDE = ("recall@1", "recall@5", "mrr", "index_seconds", "retrieval_ms_p50")


def side_by_side(ours: dict, peer: dict) -> list[str]:
    lines = [f"{'CMRC dev subset':<18}{'qa':>10}{'peer':>10}{'qa / peer':>11}"]
    for key in SIDE_BY_SIDE:
        mine, theirs = ours[key], peer[key]
        ratio = f"{mine / theirs:.2f}" if theirs else "-"
        lines.append(f"{key:<18}{mine:>10}{theirs:>10}{ratio:>11}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--steps", nargs="*", help="run only these steps, keeping other figures")
    args = parser.parse_args()
    # The fusion step reads the CMRC index the quality step built: one build, not two.
    shared = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    cmrc_index = shared / "cmrc"
    steps = {
        "ask_latency": lambda: ask_latency.run(3 if args.quick else 5),
        "answer_latency": lambda: answer_latency.run(args.quick),
        "chunk_size": chunk_size.run,
        "extractive_threshold": extractive_threshold.run,
        "query_scale": lambda: query_scale.run(args.quick),
        "quality": lambda: quality.run(args.quick, keep=cmrc_index),
        "fusion": lambda: fusion.run(args.quick, cmrc_index),
        # its own indexes and cached vectors under bench/results, as `python bench/refusal.py`
        "refusal": lambda: refusal.run(["cmrc", "drcd"], args.quick, refusal.RESULTS, False),
        "support_check": lambda: support_check.run(args.quick, cmrc_index),
        "retrieval_margins": lambda: retrieval_margins.run(cmrc_index, args.quick),
        "vector_stability": lambda: vector_stability.run(20 if args.quick else 60, {}),
        "followup": lambda: followup.run(quick=args.quick, cmrc_index=cmrc_index),
        "ingest": lambda: ingest.run(args.quick),
        "ingest_formats": lambda: ingest_formats.run(pages=50 if args.quick else 500),
        # naturally worded questions (issue 33); the real files' part says so when they are absent
        "natural_seeds": lambda: natural.run(["seeds"])["seeds"],
        "natural_real": lambda: natural.run(["real"])["real"],
    }
    try:
        import peer_langchain
    except ImportError as exc:
        print(f"peer skipped ({exc}): pip install -e '.[peer]'", file=sys.stderr)
    else:
        limit = quality.QUICK_DOCS if args.quick else None
        steps["peer"] = lambda: peer_langchain.run(quality.CMRC_DOCS, quality.CMRC_QUESTIONS, limit)
    results = {}
    if args.steps and RESULTS.exists():
        results = json.loads(RESULTS.read_text(encoding="utf-8"))
    results.update(
        date=date.today().isoformat(),
        machine=f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores",
        quick=args.quick,
    )
    try:
        for name, step in steps.items():
            if args.steps and name not in args.steps:
                continue
            print(f"== {name}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            results[name] = step()
            results.setdefault("seconds", {})[name] = round(time.perf_counter() - started)
            print(json.dumps(results[name], ensure_ascii=False), file=sys.stderr, flush=True)
            # written after every step, so a failure late in an hour's run keeps what was measured
            RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", "utf-8")
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    if "peer" in results and "quality" in results:
        print("\n".join(side_by_side(results["quality"]["cmrc"], results["peer"])))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
