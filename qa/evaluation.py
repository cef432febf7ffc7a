"""Scoring answers the way ../shared/eval/README.md says: normalise both sides, then look for the string."""

from __future__ import annotations

import re

from qa.cleaning import matching_form


def normalise_answer(text: str) -> str:
    """Traditional → simplified, full-width → half-width, lower case, white space removed."""
    return re.sub(r"\s+", "", matching_form(text))


def answer_is_correct(answer: str, answers: list[str], all_of: list[str] | None = None) -> bool:
    text = normalise_answer(answer)
    if answers and not any(normalise_answer(a) in text for a in answers):
        return False
    return all(normalise_answer(a) in text for a in all_of or [])
