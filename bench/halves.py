"""Tune on one half, report on the other: every question set a rule or a threshold is chosen on is
split by a fixed hash of the question's id, so the split never depends on the order of a file,
the sample drawn, or the person running it.

A figure reported from the tuning half says how well the rules fit what they were fitted to; the
report half says how well they hold. Benchmarks print both, each with its standard error.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from typing import TypeVar

TUNE = "tune"
REPORT = "report"
HALVES = (TUNE, REPORT)

T = TypeVar("T")


def half(question_id: str) -> str:
    """The half a question belongs to: the lowest bit of its id's SHA-256 (stable everywhere)."""
    digest = hashlib.sha256(question_id.encode("utf-8")).digest()
    return TUNE if digest[0] % 2 == 0 else REPORT


def split(items: Iterable[T], question_id=lambda item: item["id"]) -> dict[str, list[T]]:
    """The items of each half, in their order."""
    halves: dict[str, list[T]] = {name: [] for name in HALVES}
    for item in items:
        halves[half(question_id(item))].append(item)
    return halves


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """The mean and its standard error (sample standard deviation over √n); (nan, nan) for none."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def rate(values: Sequence[bool | float]) -> dict[str, float | int]:
    """A proportion (or mean) with its standard error and count, rounded for reports."""
    mean, se = mean_se([float(v) for v in values])
    return {"mean": round(mean, 3), "se": round(se, 3), "n": len(values)}
