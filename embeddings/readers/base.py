"""The one interface every format's reader meets: a file in, located blocks of raw text out."""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from embeddings import bounds
from embeddings.cleaning import has_cjk
from embeddings.records import Location

# progress(done, total) is called as each page (or slide, sheet, chapter) is read
PageProgress = Callable[[int, int], None]

# What is read and inflated at a time while an archive's parts are measured.
_PIECE = 1 << 20
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, …, name length, extra field length


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
    """The file opened as a zip archive, refused when it is not one or when it unpacks to far
    more than any real document (a zip bomb, bounds.most_unpacked): first by what its headers
    say, then by inflating every part a piece at a time, as the headers may lie."""
    try:
        archive = zipfile.ZipFile(path)
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(f"not a readable {what} (corrupted or truncated: {exc})") from None
    packed = sum(m.compress_size for m in members) or 1
    most = bounds.most_unpacked(packed)
    bomb = UnreadableFile(
        f"refused: unpacks to more than {most / 2**20:.0f} MB from {packed / 2**20:.1f} MB, the "
        "most qa unpacks from an archive this size (a zip bomb, not a real document)"
    )
    try:
        if sum(m.file_size for m in members) > most:
            raise bomb
        unpacked = 0
        with path.open("rb") as raw:
            for member in members:
                for piece in _inflated(raw, member, what):
                    unpacked += len(piece)
                    if unpacked > most:
                        raise bomb
    except BaseException:
        archive.close()
        raise
    return archive


def _inflated(raw: BinaryIO, member: zipfile.ZipInfo, what: str) -> Iterator[bytes]:
    """The part's bytes as they unpack, a piece at a time, read from the archive itself: zipfile
    stops at the size the header gives, after inflating everything at once."""
    if member.flag_bits & 0x1:
        raise UnreadableFile(f"encrypted: {what} parts that need a password")
    if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise UnreadableFile(
            f"not a readable {what} (a part packed with method {member.compress_type}, which "
            "Office files and e-books do not use)"
        )
    raw.seek(member.header_offset)
    header = raw.read(_LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size or not header.startswith(b"PK\x03\x04"):
        raise UnreadableFile(f"not a readable {what} (corrupted: a part without its header)")
    _, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    raw.seek(name_length + extra_length, 1)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    left = member.compress_size
    try:
        while left > 0 and (packed := raw.read(min(left, _PIECE))):
            left -= len(packed)
            if member.compress_type == zipfile.ZIP_STORED:
                yield packed
                continue
            while packed:
                yield inflater.decompress(packed, _PIECE)
                packed = inflater.unconsumed_tail
    except zlib.error as exc:
        raise UnreadableFile(f"not a readable {what} (corrupted: {exc})") from None


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
