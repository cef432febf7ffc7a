"""Loaders and cleaners on arbitrary input (hypothesis): a bounded run by default, a long one
with `make fuzz` (HYPOTHESIS_PROFILE=fuzz)."""

from __future__ import annotations

import os
import re
import unicodedata

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from embeddings.chunking import chunk_document, sentence_spans
from embeddings.cleaning import clean_text, matching_form
from embeddings.decoding import decode
from embeddings.loading import load_warnings
from embeddings.records import Document

settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is repeatable, `make fuzz` explores
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("fuzz", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Text the way documents arrive: Chinese, Latin, digits, marks, control characters, glosses.
_PIECES = st.sampled_from(
    [
        "鎮江",
        "镇江",
        "。",
        "，",
        "(tuán)",
        "（de）",
        "[2]",
        "\r\n",
        "\n\n\n",
        "\t",
        "\x00",
        "\x1f",
        "\ufeff",
        "\u200b",
        "ａｂｃ",
        "2020",
        "56.5%",
        " ",
        "…",
        "«»",
        "\ud7ff",
        "𠀀",
    ]
)
TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=40).map("".join)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@given(st.binary(max_size=2000))
def test_decode_reads_any_bytes_or_says_why(data):
    with load_warnings():
        try:
            text = decode(data, "fuzzed.txt")
        except ValueError as exc:
            assert str(exc)
            return
    assert isinstance(text, str)


@given(TEXT, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "gb18030"]))
def test_text_written_in_a_supported_encoding_reads_back(text, encoding):
    # Control, unassigned and private characters (and a second byte-order mark) are what tells
    # binary from UTF-16/32: text made of them is the other property's business.
    assume("\ufeff" not in text)
    assume(all(unicodedata.category(c)[0] != "C" or c in "\n\r\t" for c in text))
    cleaned = clean_text(text)
    assume(cleaned)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return
    with load_warnings():
        try:
            read = decode(data, "fuzzed.txt")
        except ValueError:
            assert encoding == "gb18030"  # short GB18030 runs can be mistaken: refused, not wrong
            return
    if encoding != "gb18030":
        assert clean_text(read) == cleaned


@given(TEXT)
def test_cleaning_is_stable_and_leaves_no_control_characters(text):
    cleaned = clean_text(text)
    assert not _CONTROL.search(cleaned)
    assert clean_text(cleaned) == cleaned
    matching_form(cleaned)


@given(TEXT, st.integers(min_value=20, max_value=300))
def test_chunks_are_exact_slices_of_the_cleaned_text(text, size):
    cleaned = clean_text(text)
    doc = Document("d", "t", cleaned, "/d.txt", "0")
    for chunk in chunk_document(doc, size):
        assert cleaned[chunk.start : chunk.end] == chunk.text and chunk.text
    for start, end in sentence_spans(cleaned, limit=size):
        assert end - start <= size
