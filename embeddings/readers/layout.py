"""Printed lines → paragraphs, for a PDF's text layer and for OCR alike.

Every PDF library (and every OCR engine) gives a line break at each printed line end, so the
paragraphs must be rebuilt from where the lines sit: a line that stops short of its column's
right edge, while the next line's first word would have fitted, ends its paragraph; so does a
gap wider than the line spacing, a change of type size, or an indented next line. Lines inside
a paragraph are joined without a space between Chinese characters, and `infor-` + `mation`
becomes `information`. Lines that repeat at the top or bottom of most pages (running headers
and footers) and page numbers (`- 3 -`, `第 3 页`) are not content and are dropped.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass

from embeddings.cleaning import CJK

# Chinese characters and the full-width marks set among them: no space is ever needed beside one.
_WIDE = rf"{CJK}\u3000-\u303f\uff00-\uffef\u2018-\u201d\u2026"
WIDE_CHAR = re.compile(f"[{_WIDE}]")
# A space beside a wide character is layout (LibreOffice's gap between 2024 and 年, a justified
# line's stretch), never one the author typed.
_LAYOUT_SPACE = re.compile(rf"(?<=[{_WIDE}])[ \u00a0]+|[ \u00a0]+(?=[{_WIDE}])")
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–_~·•.\s]*\d{1,4}[-—–_~·•.\s]*"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4}"
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?)$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
# Where running headers and footers live: this share of the page at its top and at its bottom.
MARGIN_SHARE = 0.1
# A line seen in the margin of at least this share of the pages (and on two or more) repeats.
RUNNING_SHARE = 0.5
_FIRST_WORD = re.compile(rf"[{_WIDE}]|[^\s{_WIDE}]+")
_SENTENCE_STOP = re.compile(r"[。！？!?][”’」』）)]*$")


@dataclass(frozen=True)
class Line:
    """One printed line. Coordinates run down the page from its top, in any unit (points for a
    PDF, pixels for a scan); `size` is the type's height in that unit."""

    text: str
    left: float
    right: float
    top: float  # baseline of the line's first character
    bottom: float  # baseline of its last (lower when pdfium joined a hyphenated break)
    size: float


@dataclass
class Page:
    number: int
    lines: list[Line]
    height: float
    ocr: bool = False


def tidy_spaces(text: str) -> str:
    return _LAYOUT_SPACE.sub("", text)


def _in_margin(line: Line, height: float) -> bool:
    return line.top < height * MARGIN_SHARE or line.bottom > height * (1 - MARGIN_SHARE)


def _running_key(text: str) -> str:
    return _DIGITS.sub("#", re.sub(r"\s+", "", text))


def drop_running_lines(pages: list[Page]) -> None:
    """Remove page numbers and the headers and footers repeated across pages, in place."""
    seen: Counter[str] = Counter()
    for page in pages:
        seen.update({_running_key(ln.text) for ln in page.lines if _in_margin(ln, page.height)})
    needed = max(2, RUNNING_SHARE * len(pages))
    for page in pages:
        page.lines = [
            ln
            for ln in page.lines
            if not _in_margin(ln, page.height)
            or not (_PAGE_NUMBER.match(ln.text.strip()) or seen[_running_key(ln.text)] >= needed)
        ]


def _columns(lines: list[Line]) -> list[list[Line]]:
    """Runs of lines read down one column: a line higher than the one before it, or beside it,
    starts another column (or frame)."""
    columns: list[list[Line]] = []
    for line in lines:
        last = columns[-1][-1] if columns else None
        if (
            last is None
            or line.top <= last.bottom
            or line.left >= last.right
            or line.right <= last.left
        ):
            columns.append([line])
        else:
            columns[-1].append(line)
    return columns


@dataclass
class _Column:
    lines: list[Line]
    left: float
    right: float
    leading: float | None
    # Lines of different widths on one centre (a cover's title, authors and dates): each is a
    # unit of its own, however near the right edge it ends.
    centred: bool

    @classmethod
    def of(cls, lines: list[Line]) -> _Column:
        # The median, not the maximum: a line whose closing mark hangs past the edge must not
        # make every full line look short.
        right = (
            statistics.median(ln.right for ln in lines)
            if len(lines) >= 3
            else max(ln.right for ln in lines)
        )
        gaps = [b.top - a.bottom for a, b in zip(lines, lines[1:], strict=False)]
        em = max(ln.size for ln in lines)
        centres = [(ln.left + ln.right) / 2 for ln in lines]
        lefts = [ln.left for ln in lines]
        centred = max(centres) - min(centres) < em and max(lefts) - min(lefts) > 2 * em
        return cls(
            lines,
            min(lefts),
            right,
            statistics.median(gaps) if gaps else None,
            len(lines) > 1 and centred,
        )

    def full(self, line: Line, following: Line) -> bool:
        """Whether `line` runs to the column's edge: the next line's first word would not have
        fitted after it."""
        em = line.size
        word = _FIRST_WORD.search(following.text)
        if word is None:
            return True
        if WIDE_CHAR.match(word.group()):
            needed = em
        else:
            needed = (
                len(word.group()) * (following.right - following.left) / max(len(following.text), 1)
                + em * 0.3
            )
        return self.right - line.right < needed

    def indented(self, line: Line) -> bool:
        return line.left - self.left > 0.8 * line.size


def _continues(before: Line, column: _Column, after: Line, after_column: _Column) -> bool:
    if abs(before.size - after.size) > 0.1 * max(before.size, after.size):
        return False
    if after_column.indented(after) or column.centred or after_column.centred:
        return False
    return column.full(before, after)


def _join(head: str, tail: str) -> str:
    if head.endswith("-") and len(head) > 1 and head[-2].isalpha() and tail[:1].islower():
        return head[:-1] + tail  # a word hyphenated at the line end
    if not head or not tail or WIDE_CHAR.match(head[-1]) or WIDE_CHAR.match(tail[0]):
        return head + tail
    return head + " " + tail


def paragraphs(pages: list[Page]) -> list[tuple[int, list[str], bool]]:
    """(page number, its paragraphs, whether its first paragraph goes on from the previous
    page's last) for each page with text."""
    result = []
    previous: tuple[Line, _Column] | None = None
    for page in pages:
        texts: list[str] = []
        continues_previous = False
        for lines in _columns(page.lines):
            column = _Column.of(lines)
            for n, line in enumerate(lines):
                text = tidy_spaces(line.text.strip())
                if not text:
                    continue
                # OCR boxes are a few pixels off either way, too coarse to tell a full line from
                # one a character short: there a line ending a sentence ends its paragraph.
                stopped = (
                    page.ocr
                    and previous is not None
                    and _SENTENCE_STOP.search(previous[0].text.strip()) is not None
                )
                if previous is not None and not stopped:
                    before, before_column = previous
                    gap_ok = (
                        n == 0
                        or column.leading is None
                        or (line.top - before.bottom <= 1.4 * column.leading)
                    )
                    if gap_ok and _continues(before, before_column, line, column):
                        if texts:
                            texts[-1] = _join(texts[-1], text)
                        else:
                            continues_previous = True
                            texts.append(text)
                        previous = (line, column)
                        continue
                texts.append(text)
                previous = (line, column)
        if texts:
            result.append((page.number, texts, continues_previous))
    return result


def joiner(head: str, tail: str) -> str:
    """What goes between a page's last paragraph and the next page's first when one goes on."""
    return _join(head[-1:], tail[:1])[1:-1] if head and tail else ""
