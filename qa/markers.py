"""What a citation marker looks like, for those who write answers and those who check them."""

from __future__ import annotations

import re

_OPEN, _CLOSE = r"\[［【", r"\]］】"
_NUMBERS = r"\d+(?:\s*[,，、]\s*\d+)*"
MARKER = re.compile(rf"[{_OPEN}]\s*({_NUMBERS})\s*[{_CLOSE}]")
PARTIAL_MARKER = re.compile(rf"[{_OPEN}][\d\s,，、]*$")


def neutralized(text: str) -> str:
    """Document text with everything a citation check would read as a marker put in 〔〕
    instead, at the same length (offsets stay exact): a document's own [2][3] must reach no
    answerer, and no citation check, as citations of passages 2 and 3."""
    return MARKER.sub(lambda m: f"〔{m.group()[1:-1]}〕", text)
