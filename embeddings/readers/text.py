"""Plain text and Markdown, in UTF-8, GB18030 or Big5; Markdown headings give the section path."""

from __future__ import annotations

import re
from pathlib import Path

from embeddings import bounds
from embeddings.cleaning import clean_text
from embeddings.decoding import decode, head_bytes
from embeddings.readers.base import Block, Extracted, PageProgress, UnreadableFile
from embeddings.records import Location

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$", re.MULTILINE)


def _markdown_blocks(text: str) -> list[Block]:
    """The text cut before each heading line, each piece under the path of headings above it;
    the newlines between pieces are kept, so the pieces add up to the text."""
    blocks = []
    headings: list[tuple[int, str]] = []
    cuts = [m.start() for m in _HEADING.finditer(text)]
    bounds = [0, *[c for c in cuts if c > 0], len(text)]
    separator = ""
    for start, end in zip(bounds, bounds[1:], strict=False):
        piece = text[start:end]
        heading = _HEADING.match(piece)
        if heading:
            level = len(heading.group(1))
            while headings and headings[-1][0] >= level:
                headings.pop()
            headings.append((level, heading.group(2)))
        body = piece.rstrip("\n")
        section = " > ".join(h for _, h in headings) or None
        if heading:
            # The heading line a block of its own, so it is known as one and ends before the text.
            line_end = body.find("\n") if "\n" in body else len(body)
            rest = body[line_end:]
            blocks.append(
                Block(body[:line_end], Location(section=section, heading=True), separator)
            )
            body = rest.lstrip("\n")
            separator = rest[: len(rest) - len(body)]
        if body:
            blocks.append(Block(body, Location(section=section), separator))
        separator = piece[len(piece.rstrip("\n")) :]
    return blocks


def read(path: Path, progress: PageProgress | None = None) -> Extracted:
    data, cut = head_bytes(path)
    try:
        text = clean_text(decode(data, str(path)))
    except ValueError as exc:
        raise UnreadableFile(str(exc)) from None
    if not text:
        raise UnreadableFile("empty file")
    if progress:
        progress(1, 1)
    warnings = [bounds.CHARS_CUT] if cut else []
    if path.suffix.lower() in (".md", ".markdown"):
        return Extracted(_markdown_blocks(text), "md", warnings=warnings)
    return Extracted([Block(text)], "txt", warnings=warnings)
