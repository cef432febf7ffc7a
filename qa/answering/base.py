"""What every answer backend returns, and the one refusal sentence they all use."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from embeddings.cleaning import question_language

# One fixed sentence, so people and programs can tell a refusal from an answer.
REFUSALS = {
    "zh": "资料中没有相关信息。",
    "en": "The documents do not contain this information.",
}

OnToken = Callable[[str], None]


@dataclass
class Draft:
    text: str
    abstained: bool


def refusal(question: str) -> str:
    return REFUSALS[question_language(question)]


def _bare(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def is_refusal(text: str) -> bool:
    """A reply that is, or opens with, either refusal sentence (models add a word or two)."""
    bare = _bare(text)
    return any(bare.startswith(_bare(sentence)) for sentence in REFUSALS.values())
