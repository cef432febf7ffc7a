"""Word documents (.docx) with python-docx: the body in reading order (paragraphs and tables as
they alternate), headings as section paths, list items, tables row by row with their header
cells, and the headers and footers once each."""

from __future__ import annotations

import re
from pathlib import Path

from embeddings.readers.base import (
    Block,
    Extracted,
    PageProgress,
    UnreadableFile,
    guard_zip,
    table_lines,
)
from embeddings.records import Location

# Heading styles in English and Chinese Word ("Heading 2", "标题 2") and the document title.
_HEADING = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


def _heading_level(paragraph) -> int | None:
    name = paragraph.style.name if paragraph.style is not None else ""
    if name.lower() == "title":
        return 1
    match = _HEADING.match(name.strip())
    return int(match.group(1)) if match else None


def _is_list_item(paragraph) -> bool:
    properties = paragraph._p.pPr
    style = paragraph.style.name.lower() if paragraph.style is not None else ""
    return (properties is not None and properties.numPr is not None) or style.startswith("list")


def _table_rows(table) -> list[str]:
    # python-docx gives a merged cell once for each column and row it spans: its value is read
    # into each, so every row says it and every column keeps its header.
    return table_lines([[" ".join(cell.text.split()) for cell in row.cells] for row in table.rows])


def read(path: Path, progress: PageProgress | None = None) -> Extracted:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    guard_zip(path, "Word document").close()
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors…
        raise UnreadableFile(
            f"not a readable Word document ({type(exc).__name__}: {exc})"
        ) from None
    headings: list[tuple[int, str]] = []
    blocks: list[Block] = []

    def add(text: str, heading: bool = False) -> None:
        section = " > ".join(h for _, h in headings) or None
        if text.strip():
            blocks.append(Block(text.strip(), Location(section=section, heading=heading or None)))

    def margins(parts, kind: str) -> None:
        seen = set()
        for part in parts:
            for paragraph in part.paragraphs:
                text = paragraph.text.strip()
                if text and text not in seen:
                    seen.add(text)
                    blocks.append(Block(text, Location(section=kind)))

    sections = document.sections
    margins(
        [s.header for s in sections if not s.header.is_linked_to_previous or s is sections[0]],
        "页眉",
    )
    title = None
    for element in document.element.body.iterchildren():
        if element.tag.endswith("}p"):
            paragraph = Paragraph(element, document)
            text = paragraph.text
            level = _heading_level(paragraph)
            if level is not None and text.strip():
                while headings and headings[-1][0] >= level:
                    headings.pop()
                headings.append((level, text.strip()))
                title = title or text.strip()
                add(text, heading=True)
            elif _is_list_item(paragraph):
                add(f"• {text.strip()}" if text.strip() else "")
            else:
                add(text)
        elif element.tag.endswith("}tbl"):
            for row in _table_rows(Table(element, document)):
                add(row)
    margins(
        [s.footer for s in sections if not s.footer.is_linked_to_previous or s is sections[0]],
        "页脚",
    )
    if progress:
        progress(1, 1)
    if not any(b.location.section not in ("页眉", "页脚") for b in blocks):
        raise UnreadableFile("no text in the document")
    core_title = (document.core_properties.title or "").strip()
    return Extracted(blocks, "docx", title=core_title or title)
