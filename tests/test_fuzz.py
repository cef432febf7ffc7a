"""Loaders, cleaners, bounds and damaged index files on arbitrary input (hypothesis): a bounded
run by default, a long one with `make fuzz` (HYPOTHESIS_PROFILE=fuzz)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
import tempfile
import unicodedata
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from embeddings import embedders
from embeddings.chunking import chunk_document, sentence_spans
from embeddings.cleaning import clean_text, matching_form
from embeddings.decoding import decode
from embeddings.errors import OutOfBounds, QAError
from embeddings.indexer import index_documents
from embeddings.loading import load_warnings, text_document
from embeddings.records import Document
from embeddings.store.local import IndexStore
from qa.api import Assistant, answer, checked_k
from qa.retrieve import retriever
from qa.settings import MAX_K

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


# Every control byte that is not white space, as the issue-35 rule names them (NUL, BEL, ESC…).
_CONTROL_BYTES = [*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F]
# Repeated, so that a hundredth of a file can be many bytes.
CHINESE = st.builds(
    lambda text, times: text * times,
    st.lists(
        st.one_of(
            st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
            st.sampled_from(["，", "。", "“", "”", "2020", "CO2", " ", "\n", "\r\n", "\t"]),
        ),
        min_size=20,
        max_size=200,
    ).map("".join),
    st.integers(1, 40),
)


@st.composite
def with_control_bytes(draw, data: bytes, count: int) -> bytes:
    """The bytes with count control bytes put in, in runs at any places, inside characters too."""
    data = bytearray(data)
    while count:
        run = draw(st.integers(1, count))
        at = draw(st.integers(0, len(data)))
        data[at:at] = bytes([draw(st.sampled_from(_CONTROL_BYTES))]) * run
        count -= run
    return bytes(data)


@given(st.data(), CHINESE)
def test_a_text_file_with_a_few_control_bytes_reads_without_them_and_says_how_many(data, text):
    encoded = text.encode()
    most = len(encoded) // 99  # a hundredth of the file's bytes, theirs included
    count = data.draw(st.one_of(st.just(most), st.integers(0, most)), label="control bytes")
    with load_warnings() as said:
        read = decode(data.draw(with_control_bytes(encoded, count)), "fuzzed.txt")
    assert read == text and clean_text(read) == clean_text(text)
    assert said == ([("fuzzed.txt", f"{count} NUL/control byte(s) dropped")] if count else [])


@given(st.data(), CHINESE)
def test_a_text_file_more_than_one_percent_control_bytes_is_binary(data, text):
    encoded = text.encode()
    fewest = len(encoded) // 99 + 1  # more than a hundredth of them, theirs included
    count = data.draw(
        st.one_of(st.just(fewest), st.integers(fewest, 2 * len(encoded))), label="control bytes"
    )
    with load_warnings() as said, pytest.raises(ValueError, match="^binary file$"):
        decode(data.draw(with_control_bytes(encoded, count)), "fuzzed.txt")
    assert said == []


KS = st.one_of(
    st.integers(),
    st.integers(-3, MAX_K + 3),
    st.sampled_from([0, 1, MAX_K, MAX_K + 1, -(2**63), 2**63, 10**100]),
)


@given(KS)
def test_any_k_is_served_within_its_bound_or_refused_naming_it(k):
    if 1 <= k <= MAX_K:
        assert checked_k(k) == k
        return
    bound = "at least 1" if k < 1 else f"at most {MAX_K}"
    with pytest.raises(OutOfBounds, match=bound):
        checked_k(k)


@given(KS)
def test_answer_refuses_any_k_past_its_bound_before_opening_the_index(k):
    with tempfile.TemporaryDirectory() as folder:
        missing = Path(folder) / "ix"
        with pytest.raises(QAError) as raised:
            answer("镇江提出哪一年实现碳峰值？", k=k, index=missing, backend="extractive")
        # k within its bound reaches the index, which is not there; past it, nothing is opened
        assert isinstance(raised.value, OutOfBounds) == (not 1 <= k <= MAX_K)
        assert not missing.exists()


QUESTIONS = {
    "zh": "镇江提出哪一年实现碳峰值？",
    "zh-other": "深圳的人口是多少？",
    "en": "When is Zhenjiang's carbon peak?",  # read with the cross-lingual vectors
}
# Each file of the live generation (LIVE/…) and the manifest that names it.
GENERATION_FILES = [
    "bm25/chunks.npy",
    "bm25/starts.npy",
    "bm25/vocab.json",
    "bm25/weights.npy",
    "chunks.sqlite",
    "crosslingual.faiss",
    "manifest.json",
    "vectors.faiss",
]
INDEX_FILES = ["manifest.json", *(f"LIVE/{name}" for name in GENERATION_FILES)]
# Anywhere in the file, or whole 4-byte words counted back from its end (negative), where the
# numbers of FAISS and numpy files are.
PLACES = st.one_of(st.integers(0, 1 << 16), st.integers(1, 1 << 14).map(lambda words: -4 * words))
NANS, INFINITIES, HUGE = (struct.pack("<f", x) * 4 for x in (math.nan, math.inf, 3e38))
# Random bytes, and runs of a float nothing embeds or scores, of zeros and of 0xff.
DAMAGE = st.one_of(
    st.binary(min_size=1, max_size=32),
    st.sampled_from([NANS, INFINITIES, HUGE, bytes(16), b"\xff" * 16]),
)


def _live(root: Path) -> Path:
    generation = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["generation"]
    return root / f"gen-{generation:06d}"


@pytest.fixture(scope="module")
def damage_index(tmp_path_factory, embedder):
    """Two short documents indexed once (the default embedder), and the loader of the models the
    examples ask with: each example opens a new index, which would load and warm them again."""
    root = tmp_path_factory.mktemp("damage") / "ix"
    index_documents(
        root,
        [
            text_document(
                "zhenjiang",
                "镇江",
                "镇江提出2020年实现碳峰值，并建立了云平台进行管理。",
                "zhenjiang",
            ),
            text_document(
                "shenzhen", "深圳", "深圳位于广东省南部，常住人口超过一千七百万。", "shenzhen"
            ),
        ],
        embedder=embedder,
    )
    live = _live(root)
    files = sorted(p.relative_to(live).as_posix() for p in live.rglob("*") if p.is_file())
    assert files == GENERATION_FILES  # a new kind of index file is damaged too
    loaded: dict[str, embedders.Embedder] = {}
    load = embedders.load_embedder

    def loaded_once(spec: str | None = None, threads: int | None = None):
        spec = spec or embedders.DEFAULT_EMBEDDER
        if spec not in loaded:
            loaded[spec] = load(spec, threads)
        return loaded[spec]

    return root, loaded_once


def _nan_refused(constant: str):
    raise AssertionError(f"{constant} in JSON output")


@settings(max_examples=max(15, settings.default.max_examples // 10))
@given(
    file=st.sampled_from(INDEX_FILES),
    place=PLACES,
    damage=DAMAGE,
    question=st.sampled_from(list(QUESTIONS.values())),
)
# Issue 35's damage, always tried: NaNs over the first vector of each space (defect 5), the
# start of one word's postings zeroed, before the end of the words before it (defect 3).
@example(file="LIVE/vectors.faiss", place=-4 * 384 * 2, damage=NANS, question=QUESTIONS["zh"])
@example(file="LIVE/crosslingual.faiss", place=-4 * 512 * 2, damage=NANS, question=QUESTIONS["en"])
@example(file="LIVE/bm25/starts.npy", place=-112, damage=bytes(4), question=QUESTIONS["zh"])
def test_any_damage_to_an_index_file_is_an_answer_or_one_error_never_a_crash(
    damage_index, file, place, damage, question
):
    whole, loaded_once = damage_index
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "ix"
        shutil.copytree(whole, root)
        path = root / file.replace("LIVE", _live(whole).name)
        before = path.read_bytes()
        offset = place % len(before) if place >= 0 else max(len(before) + place, 0)
        with path.open("r+b") as handle:
            handle.seek(offset)
            handle.write(damage[: len(before) - offset])
        changed = path.read_bytes() != before
        with warnings.catch_warnings(), pytest.MonkeyPatch.context() as patch:
            warnings.simplefilter("error")  # a numpy RuntimeWarning fails the example
            patch.setattr(embedders, "load_embedder", loaded_once)
            patch.setattr(retriever, "load_embedder", loaded_once)
            # one thread, as QA_THREADS lets a user choose: beside other busy processes the
            # engines' spinning threads make every question seconds long
            patch.setenv("QA_THREADS", "1")
            try:
                assistant = Assistant(index=root, backend="extractive")
                try:
                    json.loads(
                        assistant.ask(question).to_json(explain=True), parse_constant=_nan_refused
                    )
                finally:
                    assistant.retriever.store.close()
            except QAError as exc:  # one readable line
                assert str(exc) and not re.search(r"[\n\ufffd]", str(exc)), str(exc)
            try:
                store = IndexStore.open(root)
            except QAError:
                return  # what `qa index --check` says in one line
            try:
                found = store.damage()
            finally:
                store.close()
        if changed and file.startswith("LIVE/") and file[5:] in store.manifest.checksums:
            assert found, f"{file} changed at {offset} and the check says whole"
