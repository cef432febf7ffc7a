"""Wall time and peak memory of whole `qa` processes on the bundled seeds, as a user runs them.

Run: python bench/ask_latency.py [--runs 5]
Prints the cold index time, then cold (first, index built) and warm `qa ask` wall times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

QUESTION = "镇江提出哪一年实现碳峰值？"


def _run_qa(args: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one `python -m qa ...` process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "qa", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not all children's
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"qa {' '.join(args)} failed")
    return seconds, usage.ru_maxrss / 1024


def run(runs: int = 5) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QA_INDEX": os.path.join(tmp, "index")}
        env.pop("OPENAI_BASE_URL", None)
        env.pop("OPENAI_API_KEY", None)
        index_s, index_mb = _run_qa(["index"], env)
        warm = [_run_qa(["ask", QUESTION], env) for _ in range(runs)]
    times = [s for s, _ in warm]
    return {
        "seed_index_seconds": round(index_s, 2),
        "seed_index_peak_rss_mb": round(index_mb),
        "ask_warm_seconds_median": round(statistics.median(times), 2),
        "ask_warm_seconds_max": round(max(times), 2),
        "ask_peak_rss_mb": round(max(mb for _, mb in warm)),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    figures = run(parser.parse_args().runs)
    print(
        f"qa index (bundled seeds, cold):  {figures['seed_index_seconds']:.2f} s, "
        f"peak RSS {figures['seed_index_peak_rss_mb']} MB"
    )
    print(
        f"qa ask, warm, {figures['runs']} runs:        median "
        f"{figures['ask_warm_seconds_median']:.2f} s, max {figures['ask_warm_seconds_max']:.2f} s, "
        f"peak RSS {figures['ask_peak_rss_mb']} MB"
    )


if __name__ == "__main__":
    main()
