"""How much of a claim's wording another text shares, measured two ways, each under its own name.

bigram_share: character bigrams of the whole claim, white space ignored. Picks the sentence of a
passage to quote for a citation (qa/verify/citations.py).
unit_share: character bigrams of Chinese runs, whole words and numbers otherwise. Judges whether
a passage supports an answer sentence (qa/verify/support.py), where 2020 must not match 2021 by
its bigram 20.
(answering/extractive.py's coverage weighs the question's terms by rarity: a third measure, of
another thing.)
"""

from __future__ import annotations

import re

from embeddings.cleaning import has_cjk, matching_form, spaceless_form
from qa.lang.zh import CJK

_UNITS = re.compile(rf"[{CJK}]+|[a-z]+|\d+(?:\.\d+)?")


def _bigrams(text: str) -> set[str]:
    form = spaceless_form(text)
    return {form[i : i + 2] for i in range(len(form) - 1)} or {form}


def bigram_share(claim: str, evidence: str) -> float:
    """Share of the claim's character bigrams (spaceless matching form) that occur in the
    evidence."""
    claim_grams = _bigrams(claim)
    return len(claim_grams & _bigrams(evidence)) / len(claim_grams)


def units(text: str) -> set[str]:
    """Character bigrams of Chinese runs (single characters when alone), whole words and
    numbers otherwise."""
    found: set[str] = set()
    for run in _UNITS.findall(matching_form(text)):
        if has_cjk(run) and len(run) > 1:
            found.update(run[i : i + 2] for i in range(len(run) - 1))
        else:
            found.add(run)
    return found


def unit_share(claim: str, evidence: str) -> float:
    """Share of the claim's units that occur in the evidence (1 when it has none)."""
    claimed = units(claim)
    return len(claimed & units(evidence)) / len(claimed) if claimed else 1.0
