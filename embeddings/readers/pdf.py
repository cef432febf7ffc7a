"""PDF with pypdfium2: text layers page by page, scanned pages through OCR.

Pages are opened, read and closed one at a time, so a 500-page report costs the memory of its
text, not of its pages (bench/ingest_formats.py measures it).
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

from embeddings import bounds
from embeddings.readers import ocr
from embeddings.readers.base import Extracted, PageProgress, UnreadableFile
from embeddings.readers.layout import (
    Cell,
    Line,
    Page,
    drop_running_lines,
    located_blocks,
    paragraphs,
)

# A page with fewer text-layer characters than this, and an image on it, is a scan.
SCANNED_MAX_CHARS = 20
# pdfium's mark where it joined a word hyphenated at a line end (`infor\ufffemation`).
_PDFIUM_HYPHEN_JOIN = "\ufffe"
# Words further apart than this many ems are in different cells: a sentence's spaces, even
# stretched to justify its line, stay narrower.
CELL_GAP_EMS = 1.0


_SNIFFED_BYTES = 8 << 20
_NO_PAGES = re.compile(
    rb"/Type\s*/Pages\b.{0,200}?/Count\s+0\b|/Count\s+0\b.{0,200}?/Type\s*/Pages\b", re.S
)


def _why(exc: Exception, path: Path) -> str:
    """Why pdfium refused the file. pdfium's own error code can be stale (it is not reset for a
    document with no pages), so the file's bytes are looked at to tell the cases apart."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFFED_BYTES)
        handle.seek(max(0, path.stat().st_size - _SNIFFED_BYTES))
        tail = handle.read()
    if b"/Encrypt" in head + tail and "password" in str(exc).lower():
        return "encrypted: it needs a password"
    if _NO_PAGES.search(head) and not re.search(rb"/Type\s*/Page\b(?!s)", head):
        return "a PDF with no pages"
    return "not a readable PDF (corrupted or truncated)"


def _cells(
    textpage, text: str, first: int, left: float, right: float, size: float
) -> tuple[Cell, ...]:
    """The line's runs set apart by more than an em: a table row's cells, where it has two or
    more. Only a space pdfium put in a gap can be one (typed spaces are a sentence's), so a line
    of English costs one call a space."""
    import pypdfium2.raw as pdfium_c

    cells: list[Cell] = []
    start, cell_left = 0, left
    for space in re.finditer(" +", text):
        if not pdfium_c.FPDFText_IsGenerated(textpage, first + space.start()):
            continue
        before = textpage.get_charbox(first + space.start() - 1, loose=True)[2]
        after = textpage.get_charbox(first + space.end(), loose=True)[0]
        if after - before >= CELL_GAP_EMS * size:
            cells.append(Cell(_plain(text[start : space.start()]), cell_left, before))
            start, cell_left = space.end(), after
    if not cells:
        return ()
    return (*cells, Cell(_plain(text[start:]), cell_left, right))


def _plain(text: str) -> str:
    return text.replace(_PDFIUM_HYPHEN_JOIN, "")


def _text_lines(page) -> list[Line]:
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    x, y = ctypes.c_double(), ctypes.c_double()
    matrix = pdfium_c.FS_MATRIX()

    def type_size(index: int) -> float:
        """The size the character is set in, in points: its font size scaled by its matrix. A
        box's height is no measure of it: a loose box spans its font's ascent and descent, which
        a digit set in Helvetica and a Chinese character beside it at the same size do not
        share."""
        pdfium_c.FPDFText_GetMatrix(textpage, index, matrix)
        scale = abs(matrix.a * matrix.d - matrix.b * matrix.c) ** 0.5
        return pdfium_c.FPDFText_GetFontSize(textpage, index) * scale

    def baseline(index: int) -> float:
        """The character's origin: a loose box's bottom is its font's descent, which differs
        between the fonts of one line."""
        pdfium_c.FPDFText_GetCharOrigin(textpage, index, x, y)
        return height - y.value

    try:
        text = textpage.get_text_range()
        last_char = textpage.count_chars() - 1
        height = page.get_height()
        lines, start = [], 0
        for raw in text.split("\r\n"):
            stripped = raw.strip()
            if stripped:
                first = min(start + len(raw) - len(raw.lstrip()), last_char)
                final = min(start + len(raw.rstrip()) - 1, last_char)
                box = textpage.get_charbox(first, loose=True)
                # A bullet glyph opening the line is often set smaller than the words after it,
                # which would make the line's next one look like another paragraph's type.
                worded = next((first + k for k, c in enumerate(stripped) if c.isalnum()), first)
                size = type_size(worded) or box[3] - box[1]  # a character without a font: its box
                left = box[0]
                right = textpage.get_charbox(final, loose=True)[2]
                cells = (
                    _cells(textpage, stripped, first, left, right, size) if " " in stripped else ()
                )
                lines.append(
                    Line(
                        _plain(stripped),
                        left=left,
                        right=right,
                        top=(top := baseline(first)),
                        bottom=baseline(final) if _PDFIUM_HYPHEN_JOIN in stripped else top,
                        size=size,
                        cells=cells,
                    )
                )
            start += len(raw) + 2
        return lines
    finally:
        textpage.close()


def _has_image(page) -> bool:
    import pypdfium2.raw as pdfium_c

    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))


def _ocr_lines(page) -> list[Line]:
    import numpy as np

    bitmap = page.render(scale=ocr.DPI / 72, grayscale=True)
    image = np.asarray(bitmap.to_pil().convert("RGB"))
    bitmap.close()
    return ocr.read_lines(image)


def read(path: Path, progress: PageProgress | None = None) -> Extracted:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise UnreadableFile(_why(exc, path)) from None
    pages: list[Page] = []
    unread = 0
    try:
        total = len(pdf)
        if total == 0:
            raise UnreadableFile("a PDF with no pages")
        read_pages = min(total, bounds.MAX_PDF_PAGES)
        for index in range(read_pages):
            page = pdf[index]
            try:
                lines = _text_lines(page)
                height = page.get_height()
                scanned = sum(len(ln.text) for ln in lines) < SCANNED_MAX_CHARS and _has_image(page)
                by_ocr = scanned and ocr.available()
                if by_ocr:
                    lines = _ocr_lines(page)
                    height *= ocr.DPI / 72
                elif scanned:
                    unread += 1
            finally:
                page.close()
            pages.append(Page(index + 1, lines, height, ocr=by_ocr))
            if progress:
                progress(index + 1, read_pages)
    finally:
        pdf.close()
    drop_running_lines(pages)
    blocks = located_blocks(paragraphs(pages))
    if not blocks:
        if unread:
            raise UnreadableFile(f"scanned, with no text layer: {ocr.MISSING}")
        raise UnreadableFile("no text on any page")
    warnings = [f"{unread} scanned page(s) not read: {ocr.MISSING}"] if unread else []
    if read_pages < total:
        warnings.append(bounds.pages_cut(total))
    return Extracted(
        blocks, "pdf", pages=read_pages, ocr_pages=sum(p.ocr for p in pages), warnings=warnings
    )
