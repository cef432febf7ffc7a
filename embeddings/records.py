"""What the indexing side makes of a file: a cleaned document, where its parts sit, its chunks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Location:
    """Where a piece of text sits in the file it came from; None where the format has no such
    thing. A range (a chunk running onto the next page, the rows of a sheet) sets last_page or
    last_row; one place leaves them None."""

    page: int | None = None  # PDF page, 1-based
    last_page: int | None = None
    slide: int | None = None  # PowerPoint slide, 1-based
    sheet: str | None = None  # spreadsheet sheet name
    row: int | None = None  # spreadsheet or CSV row, 1-based as the program shows it
    last_row: int | None = None
    section: str | None = None  # heading path: 第一章 > 第二节
    # True on a heading's (or a slide's title's) own text, so it can be told from the sentences
    # under it; None elsewhere, so locations stored before it read back the same.
    heading: bool | None = None

    def describe(self) -> str:
        """The location as a citation prints it: p. 3, pp. 3–4, slide 2, 经济指标 row 5, …"""
        parts = []
        if self.page is not None:
            parts.append(
                f"pp. {self.page}–{self.last_page}" if self.last_page else f"p. {self.page}"
            )
        if self.slide is not None:
            parts.append(f"slide {self.slide}")
        if self.sheet is not None:
            parts.append(f"sheet {self.sheet}")
        if self.row is not None:
            parts.append(f"rows {self.row}–{self.last_row}" if self.last_row else f"row {self.row}")
        if self.section and self.slide is None:
            parts.append(f"§ {self.section}")
        return ", ".join(parts)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Section:
    """A span of a document's cleaned text and where it came from."""

    start: int
    end: int
    location: Location


def span_location(sections: tuple[Section, ...] | list[Section], start: int, end: int) -> Location:
    """The location of text[start:end]: its first section's, widened to every page and row the
    span reaches."""
    touched = [s for s in sections if s.start < end and s.end > start] or [
        s for s in sections if s.start <= start <= s.end
    ]
    if not touched:
        return Location()
    first = touched[0].location
    pages = [p for s in touched for p in (s.location.page, s.location.last_page) if p is not None]
    rows = [r for s in touched for r in (s.location.row, s.location.last_row) if r is not None]
    # Slides and sheets are never crossed (chunking stops at them): the first one's is the span's.
    return Location(
        page=min(pages) if pages else None,
        last_page=max(pages) if pages and max(pages) != min(pages) else None,
        slide=first.slide,
        sheet=first.sheet,
        row=min(rows) if rows else None,
        last_row=max(rows) if rows and max(rows) != min(rows) else None,
        section=first.section,
    )


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    text: str  # cleaned: what people see and what citations quote
    source: str  # absolute path of the file it came from
    content_hash: str  # sha256 of the file's bytes
    sections: tuple[Section, ...] = ()  # in text order; none for plain text
    kind: str = "txt"  # the format it was read as: pdf, docx, pptx, xlsx, csv, html, epub, image…
    pages: int = 0  # PDF pages and images read
    ocr_pages: int = 0  # of those, read by OCR


def real_title(title: str, doc_id: str) -> bool:
    """Whether a document's title was written by someone (a heading, metadata), not its file
    name standing in."""
    return title != doc_id.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    title: str
    text: str
    start: int  # offsets into the document's cleaned text: text == cleaned[start:end]
    end: int
    location: Location = field(default_factory=Location)
    # The document's sections this chunk overlaps, so a quote inside it can be located exactly.
    sections: tuple[Section, ...] = ()
