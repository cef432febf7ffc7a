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


def run(args: list[str], env: dict) -> tuple[float, float]:
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QA_INDEX": os.path.join(tmp, "index")}
        env.pop("OPENAI_BASE_URL", None)
        env.pop("OPENAI_API_KEY", None)
        index_s, index_mb = run(["index"], env)
        warm = [run(["ask", QUESTION], env) for _ in range(runs)]
    times = [s for s, _ in warm]
    print(f"qa index (bundled seeds, cold):  {index_s:.2f} s, peak RSS {index_mb:.0f} MB")
    print(
        f"qa ask, warm, {runs} runs:        median {statistics.median(times):.2f} s, "
        f"max {max(times):.2f} s, peak RSS {max(mb for _, mb in warm):.0f} MB"
    )


if __name__ == "__main__":
    main()
