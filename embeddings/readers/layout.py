"""Printed lines → paragraphs, for a PDF's text layer and for OCR alike.

Every PDF library (and every OCR engine) gives a line break at each printed line end, so the
paragraphs must be rebuilt from where the lines sit: a line that stops short of its column's
right edge, while the next line's first word would have fitted, ends its paragraph; so does a
gap wider than the line spacing, a change of type size, or an indented next line. Lines inside
a paragraph are joined without a space between Chinese characters, and `infor-` + `mation`
becomes `information`. Lines that repeat at the top or bottom of most pages (running headers
and footers) and page numbers (`- 3 -`, `第 3 页`) are not content and are dropped.

Three or more lines whose cells (runs set an em apart) stand in the same columns are a table,
ruled or not: each row is read with its header cells (base.labelled_row) and the 表N / 图N line
printed by it goes first, so caption and rows are chunked and cited together. A paragraph of one
short line in larger type, or numbered as headings are (一、 / 第二章 / 1.2), is a heading: a
unit of its own, and the section of what follows it.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass

from embeddings.cleaning import CJK
from embeddings.readers.base import Block, labelled_row
from embeddings.records import Location

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
# A table needs this many rows (its header among them) in the same columns before a page's
# aligned lines are read as one: two could be a coincidence of prose.
MIN_TABLE_ROWS = 3
# Table cells are labels and figures: a grid whose cells run longer, or hold a sentence's commas
# and stops, is prose set in columns, never a table.
MAX_CELL_CHARS = 40
_PROSE_MARK = re.compile(r"[，。；！？]")
# 表1 / 图 10 / Table 2 / Fig. 3 / 单位：亿元 — the line that names a table or its unit.
_CAPTION = re.compile(r"^(?:[表图]\s*\d|(?:table|fig\.?|figure)\s*\d|单位\s*[：:])", re.IGNORECASE)
# 第一章, 一、, （二）, 1.2 — the numbering that starts a heading.
_NUMBERED_HEADING = re.compile(
    r"^(?:第[一二三四五六七八九十百\d]+[章节篇部]|[一二三四五六七八九十]+[、.．]"
    r"|[（(][一二三四五六七八九十]+[）)]|\d+(?:\.\d+)+\s*\S|\d+\s+[^\d\s])"
)
# A heading is one short line, not a sentence: no stop or comma ends it.
MAX_HEADING_CHARS = 40
_NOT_A_HEADING_END = tuple("，。；！？,;、：:")
# Type this much larger than the body's sets a heading apart: the change of size that ends a
# paragraph.
HEADING_SIZE_RATIO = 1.1


@dataclass(frozen=True)
class Cell:
    """A run of a line set apart from the rest by a gap wider than an em: a table row's cell."""

    text: str
    left: float
    right: float


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
    cells: tuple[Cell, ...] = ()  # where the line has two or more, else none


@dataclass(frozen=True)
class Paragraph:
    """A paragraph as printed: body text, a heading (one short line set apart), or a table
    (its caption line first, then a row a line, each cell after its column's header)."""

    text: str
    role: str = "text"  # "text", "heading" or "table"
    caption: str | None = None  # a table's 表N / 图N line
    size: float = 0.0  # its first line's type size, which ranks a heading among the others


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


def _grid(lines: list[Line]) -> list[list[str]] | None:
    """The rows of a table when the lines' cells stand in the same columns (each cell inside
    one column's span, no two of a row in one column) and read as labels and figures."""
    spans: list[list[float]] = []
    for left, right in sorted((c.left, c.right) for ln in lines for c in ln.cells):
        if spans and left <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], right)
        else:
            spans.append([left, right])
    if len(spans) < 2:
        return None
    rows = []
    for line in lines:
        row = [""] * len(spans)
        for cell in line.cells:
            column = next(k for k, (left, right) in enumerate(spans) if left <= cell.left <= right)
            if row[column]:
                return None
            row[column] = tidy_spaces(cell.text)
        rows.append(row)
    cells = [c for row in rows for c in row if c]
    if max(len(c) for c in cells) > MAX_CELL_CHARS or sum(
        bool(_PROSE_MARK.search(c)) for c in cells
    ) * 4 > len(cells):
        return None
    return rows


def _tables(lines: list[Line]) -> list[tuple[int, int, list[list[str]]]]:
    """(first line, line after, rows) of each run of consecutive lines with cells that make a
    table."""
    found = []
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and lines[end].cells:
            end += 1
        if end - start >= MIN_TABLE_ROWS:
            rows = _grid(lines[start:end])
            if rows is not None:
                found.append((start, end, rows))
        start = end + 1
    return found


def _table_text(rows: list[list[str]]) -> str:
    header = rows[0]
    return "\n".join(labelled_row(row, header) for row in rows[1:])


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
        # Medians, not the extremes: a line whose closing mark hangs past the edge must not
        # make every full line look short, nor a bullet hanging left of its paragraph's lines
        # make each of them look indented.
        many = len(lines) >= 3
        right = (
            statistics.median(ln.right for ln in lines) if many else max(ln.right for ln in lines)
        )
        gaps = [b.top - a.bottom for a, b in zip(lines, lines[1:], strict=False)]
        em = max(ln.size for ln in lines)
        centres = [(ln.left + ln.right) / 2 for ln in lines]
        lefts = [ln.left for ln in lines]
        centred = max(centres) - min(centres) < em and max(lefts) - min(lefts) > 2 * em
        return cls(
            lines,
            statistics.median(lefts) if many else min(lefts),
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


@dataclass
class PageText:
    number: int
    paragraphs: list[Paragraph]
    continues: bool  # its first paragraph goes on from the previous page's last


def _body_size(pages: list[Page]) -> float:
    """The type size most of the text is set in, counted by characters."""
    sizes: Counter[float] = Counter()
    for page in pages:
        for line in page.lines:
            sizes[round(line.size, 1)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _is_heading(text: str, lines: int, size: float, body_size: float) -> bool:
    if lines != 1 or len(text) > MAX_HEADING_CHARS or text.endswith(_NOT_A_HEADING_END):
        return False
    return size > HEADING_SIZE_RATIO * body_size or _NUMBERED_HEADING.match(text) is not None


def _classified(texts: list[tuple[str, int, float]], body_size: float) -> list[Paragraph]:
    return [
        Paragraph(
            text, "heading" if _is_heading(text, lines, size, body_size) else "text", size=size
        )
        for text, lines, size in texts
    ]


def _with_captions(found: list[Paragraph]) -> list[Paragraph]:
    """Each table with the caption line printed just above it (or, failing that, just below)
    as its first line, so the caption is read, chunked and cited with the rows."""
    result: list[Paragraph] = []
    taken = set()
    for n, paragraph in enumerate(found):
        if n in taken:
            continue
        if paragraph.role != "table":
            result.append(paragraph)
            continue
        caption = None
        for k in (n - 1, n + 1):
            near = found[k] if 0 <= k < len(found) and k not in taken else None
            if near is not None and near.role != "table" and _CAPTION.match(near.text):
                caption = near.text
                taken.add(k)
                if k < n:
                    result.pop()
                break
        text = f"{caption}\n{paragraph.text}" if caption else paragraph.text
        result.append(Paragraph(text, "table", caption))
    return result


def paragraphs(pages: list[Page]) -> list[PageText]:
    """Each page with text, its paragraphs in reading order."""
    result = []
    body_size = _body_size(pages)
    previous: tuple[Line, _Column] | None = None
    for page in pages:
        found: list[Paragraph] = []
        texts: list[tuple[str, int, float]] = []  # (text, its lines, its first line's size)
        continues_previous = False
        # The page's lines cut around its tables: (lines, None) or ([], a table's rows).
        runs: list[tuple[list[Line], list[list[str]] | None]] = []
        start = 0
        for first, after, table in _tables(page.lines):
            runs += [(page.lines[start:first], None), ([], table)]
            start = after
        runs.append((page.lines[start:], None))
        for run, rows in runs:
            if rows is not None:
                found += _classified(texts, body_size)
                texts.clear()
                found.append(Paragraph(_table_text(rows), "table"))
                previous = None
                continue
            for lines in _columns(run):
                column = _Column.of(lines)
                for n, line in enumerate(lines):
                    text = tidy_spaces(line.text.strip())
                    if not text:
                        continue
                    # OCR boxes are a few pixels off either way, too coarse to tell a full line
                    # from one a character short: there a line ending a sentence ends its
                    # paragraph.
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
                                head, count, size = texts[-1]
                                texts[-1] = (_join(head, text), count + 1, size)
                            else:
                                continues_previous = True
                                # Counted as two lines: going on from the page before, it is no
                                # heading.
                                texts.append((text, 2, line.size))
                            previous = (line, column)
                            continue
                    texts.append((text, 1, line.size))
                    previous = (line, column)
        found += _classified(texts, body_size)
        if found:
            result.append(PageText(page.number, _with_captions(found), continues_previous))
    return result


def located_blocks(pages: list[PageText]) -> list[Block]:
    """Blocks located by page and by the heading above them: a heading is a block of its own,
    marked as one; a table's rows are under its caption, so each row is cited with it."""
    blocks: list[Block] = []
    headings: list[tuple[float, str]] = []  # (type size, text), outermost first
    for page in pages:
        for n, paragraph in enumerate(page.paragraphs):
            if paragraph.role == "heading":
                # A heading set no smaller than one above it is that one's sibling, or its elder.
                while headings and headings[-1][0] <= paragraph.size + 0.5:
                    headings.pop()
                headings.append((paragraph.size, paragraph.text))
            path = " > ".join(text for _, text in headings) or None
            if paragraph.role == "table" and paragraph.caption:
                path = f"{path} > {paragraph.caption}" if path else paragraph.caption
            location = Location(
                page=page.number, section=path, heading=paragraph.role == "heading" or None
            )
            if n == 0 and page.continues and blocks:
                blocks.append(
                    Block(paragraph.text, location, joiner(blocks[-1].text, paragraph.text))
                )
            elif blocks and blocks[-1].location == location and not location.heading:
                # Paragraphs in one place are one block, cleaned at once.
                blocks[-1] = Block(
                    f"{blocks[-1].text}\n{paragraph.text}", location, blocks[-1].joins
                )
            else:
                blocks.append(Block(paragraph.text, location))
    return blocks


def joiner(head: str, tail: str) -> str:
    """What goes between a page's last paragraph and the next page's first when one goes on."""
    return _join(head[-1:], tail[:1])[1:-1] if head and tail else ""
