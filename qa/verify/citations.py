"""Citation markers: read every form a model writes, keep only numbers of passages it was given.

Markers are rewritten to one form, `[1][2]`, both in a finished answer and while it streams, so
what the user saw scroll by is exactly the checked answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from embeddings.chunking import sentence_spans
from embeddings.cleaning import has_cjk
from qa.markers import MARKER, PARTIAL_MARKER
from qa.overlap import bigram_share
from qa.records import Citation, Passage


def _rewrite(numbers: str, valid: set[int], invented: list[int]) -> str:
    kept = []
    for token in re.split(r"[,，、]", numbers):
        n = int(token.strip())
        if n in valid:
            if n not in kept:
                kept.append(n)
        else:
            invented.append(n)
    return "".join(f"[{n}]" for n in kept)


def rewrite_markers(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """Normalise markers to [n] and drop numbers outside `valid`; returns (text, invented numbers)."""
    invented: list[int] = []
    text = MARKER.sub(lambda m: _rewrite(m.group(1), valid, invented), text)
    return text, invented


class StreamingMarkerFilter:
    """Applies rewrite_markers to text arriving in pieces, holding back only an unfinished marker."""

    def __init__(self, valid: set[int]):
        self._valid = valid
        self._pending = ""

    def feed(self, piece: str) -> str:
        text = self._pending + piece
        partial = PARTIAL_MARKER.search(text)
        cut = partial.start() if partial else len(text)
        self._pending = text[cut:]
        return rewrite_markers(text[:cut], self._valid)[0]

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return rewrite_markers(text, self._valid)[0]


def best_quote(claim: str, passage: Passage) -> tuple[str, int, int]:
    """The sentence of the passage closest to the claim, with its offsets in the document."""
    spans = sentence_spans(passage.text) or [(0, len(passage.text))]
    start, end = max(spans, key=lambda s: bigram_share(claim, passage.text[s[0] : s[1]]))
    return passage.text[start:end], passage.start + start, passage.start + end


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    invented: list[int]  # numbers the answer cited that were not among the passages


_LEADING_MARKERS = re.compile(rf"(?:\s*{MARKER.pattern})+")


def answer_sentence_spans(text: str) -> list[tuple[int, int]]:
    """Where each sentence of an answer is, the markers that follow it included (`…2020年。[1]`)."""
    spans: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        leading = _LEADING_MARKERS.match(text, start, end)
        if leading and spans:
            spans[-1] = (spans[-1][0], leading.end())
            start = leading.end()
            while start < end and text[start].isspace():
                start += 1
        if start < end:
            spans.append((start, end))
    return spans


def answer_sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in answer_sentence_spans(text)]


_CLOSING_PUNCTUATION = re.compile(r"\s*[。！？；.!?;]*$")


def recite(sentence: str, numbers: list[int]) -> str:
    """The sentence citing these passage numbers instead of its own: its markers are removed and
    the new ones put where the prompts ask for them, before the closing punctuation."""
    bare = MARKER.sub("", sentence).rstrip()
    closing = _CLOSING_PUNCTUATION.search(bare)
    cut = closing.start() if closing else len(bare)  # it matches every text, if only at its end
    space = "" if cut == 0 or has_cjk(bare[cut - 1]) else " "
    return bare[:cut] + space + "".join(f"[{n}]" for n in numbers) + bare[cut:].strip()


def check_citations(text: str, passages: list[Passage]) -> CheckedAnswer:
    by_n = {p.n: p for p in passages}
    text, invented = rewrite_markers(text, set(by_n))
    best: dict[int, tuple[float, Citation]] = {}
    for sentence in answer_sentences(text):
        claim = MARKER.sub("", sentence).strip()
        for match in MARKER.finditer(sentence):
            n = int(match.group(1))
            passage = by_n[n]
            quote, start, end = best_quote(claim, passage)
            score = bigram_share(claim, quote) if claim else 0.0
            if n not in best or score > best[n][0]:
                where = passage.locate(start, end)
                citation = Citation(
                    n, passage.doc_id, passage.title, quote, start, end, where, passage.source
                )
                best[n] = (score, citation)
    citations = [best[n][1] for n in sorted(best)]
    return CheckedAnswer(text, citations, invented)
