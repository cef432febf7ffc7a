"""The one interface every format's reader meets: a file in, located blocks of raw text out."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.cleaning import has_cjk
from embeddings.records import Location

# progress(done, total) is called as each page (or slide, sheet, chapter) is read
PageProgress = Callable[[int, int], None]

# A real Office file or e-book unpacks to tens of megabytes at most; a zip bomb to gigabytes.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
# Office XML packs about 10:1; far more than that, unpacking to more than 64 MB, is a bomb.
SUSPICIOUS_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100


class UnreadableFile(ValueError):
    """A file qa cannot read: its message says why, in words for the user (encrypted, corrupted…)."""


@dataclass(frozen=True)
class Block:
    """A piece of a file's text (raw: cleaning comes after) and where it sits. `joins` is what
    goes between the previous block and this one: a newline, or "" / " " when this block goes
    on with the previous one's last paragraph (a sentence running onto the next page)."""

    text: str
    location: Location = field(default_factory=Location)
    joins: str = "\n"


@dataclass
class Extracted:
    blocks: list[Block]
    kind: str  # pdf, docx, pptx, xlsx, csv, html, epub, image, txt, md
    title: str | None = None  # the file's own title, where it names one
    pages: int = 0  # PDF pages and images read
    ocr_pages: int = 0
    warnings: list[str] = field(default_factory=list)


def guard_zip(path: Path, what: str) -> zipfile.ZipFile:
    """The file opened as a zip archive, refused before anything is unpacked when it is not one
    or when it would unpack to far more than any real document (a zip bomb)."""
    try:
        archive = zipfile.ZipFile(path)
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(f"not a readable {what} (corrupted or truncated: {exc})") from None
    unpacked = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members) or 1
    suspicious = unpacked > SUSPICIOUS_UNPACKED_BYTES and unpacked / packed > MAX_COMPRESSION_RATIO
    if unpacked > MAX_UNPACKED_BYTES or suspicious:
        archive.close()
        raise UnreadableFile(
            f"refused: would unpack to {unpacked / 2**20:.0f} MB from {packed / 2**20:.1f} MB "
            "(a zip bomb, not a real document)"
        )
    return archive


def labelled_row(cells: list[str], header: list[str] | None) -> str:
    """A table row with each value after its column's header (「指标：GDP，2019：4127亿元」), so a
    row retrieved alone still says what its numbers are. Commas, not semicolons, between cells:
    a semicolon ends a sentence, and a row is to be quoted whole."""
    if not header:
        return " | ".join(c for c in cells if c)
    chinese = has_cjk("".join(header + cells))
    colon, comma = ("：", "，") if chinese else (": ", ", ")
    labelled = (f"{h}{colon}{c}" if h else c for h, c in zip(header, cells, strict=False) if c)
    return comma.join(labelled)


def table_lines(grid: list[list[str]]) -> list[str]:
    """A table as the lines it is read in: its title rows (one value across the row, a merged
    cell) as they are, then each row after the header with its cells labelled (labelled_row)."""
    rows = [row for row in grid if any(row)]
    titles = []
    while len(rows) > 1 and len(rows[0]) > 1 and len({c for c in rows[0] if c}) == 1:
        titles.append(next(c for c in rows.pop(0) if c))
    if not rows:
        return titles
    header, body = rows[0], rows[1:]
    return titles + (
        [labelled_row(row, header) for row in body] or [" | ".join(c for c in header if c)]
    )
