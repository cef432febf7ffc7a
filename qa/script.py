"""Showing an answer's quotes in another script than the documents': `--script hans|hant`.

Quotes are the documents' own characters (original); a reader of the other script may ask for
them converted. The citations' offsets still point at the original text.
"""

from __future__ import annotations

from dataclasses import replace

from embeddings.cleaning import to_simplified, to_traditional
from embeddings.errors import QAError
from qa.records import Answer

SCRIPTS = ("original", "hans", "hant")


def in_script(answer: Answer, script: str) -> Answer:
    if script not in SCRIPTS:
        raise QAError(f"unknown script {script!r}: choose one of {', '.join(SCRIPTS)}")
    if script == "original":
        return answer
    convert = {"hans": to_simplified, "hant": to_traditional}[script]
    return replace(
        answer,
        answer=convert(answer.answer),
        short_answer=convert(answer.short_answer) if answer.short_answer else None,
        citations=[replace(c, quote=convert(c.quote)) for c in answer.citations],
    )
