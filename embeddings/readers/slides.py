"""PowerPoint decks (.pptx) with python-pptx: each slide's title, its text boxes in order (inside
groups too), its tables row by row with their header cells, and its speaker notes."""

from __future__ import annotations

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


def _table_grid(table) -> list[list[str]]:
    """The table's cells, a merged cell's value in every cell it spans: a range merged down
    three rows belongs to each of them."""
    grid = [[" ".join(cell.text.split()) for cell in row.cells] for row in table.rows]
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            if cell.is_merge_origin:
                for below in range(r, r + cell.span_height):
                    for right in range(c, c + cell.span_width):
                        grid[below][right] = grid[r][c]
    return grid


def _shape_texts(shapes) -> list[str]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    texts = []
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            texts += _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            texts += table_lines(_table_grid(shape.table))
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            texts += [p.text for p in shape.text_frame.paragraphs if p.text.strip()]
    return texts


def read(path: Path, progress: PageProgress | None = None) -> Extracted:
    from pptx import Presentation

    guard_zip(path, "PowerPoint deck").close()
    try:
        deck = Presentation(str(path))
    except Exception as exc:  # python-pptx raises KeyError, ValueError, lxml errors…
        raise UnreadableFile(
            f"not a readable PowerPoint deck ({type(exc).__name__}: {exc})"
        ) from None
    blocks: list[Block] = []
    slides = list(deck.slides)
    deck_title = None
    for number, slide in enumerate(slides, start=1):
        title_shape = slide.shapes.title
        title = title_shape.text.strip() if title_shape is not None else ""
        deck_title = deck_title or title or None
        others = [
            s for s in slide.shapes if title_shape is None or s.shape_id != title_shape.shape_id
        ]
        texts = _shape_texts(others)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                texts.append(notes.text.strip())
        if title:
            blocks.append(Block(title, Location(slide=number, section=title, heading=True)))
        if texts:
            blocks.append(Block("\n".join(texts), Location(slide=number, section=title or None)))
        if progress:
            progress(number, len(slides))
    if not blocks:
        raise UnreadableFile("no text on any slide")
    core_title = (deck.core_properties.title or "").strip()
    return Extracted(blocks, "pptx", title=core_title or deck_title)
