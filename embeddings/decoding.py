"""Bytes → text: the encodings qa recognises in text files, web pages and CSV sheets, and the
part of a file read when it is larger than qa reads. Below the readers and loading.py, which
both use it."""

from __future__ import annotations

import codecs
import unicodedata
import warnings
from pathlib import Path

from embeddings import bounds


class LoadWarning(UserWarning):
    """A path read with a loss (a few undecodable bytes), or one that could not be read at all
    (a symbolic link loop, a folder without permission): said, never silent."""

    def __init__(self, path: str, what: str):
        super().__init__(f"{path}: {what}")
        self.path, self.what = path, what


# Longest first: UTF-32 LE's mark begins with UTF-16 LE's.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# A line break in the encoding each byte-order mark names, in the same order.
_NEWLINES = (
    (codecs.BOM_UTF32_LE, "\n".encode("utf-32-le")),
    (codecs.BOM_UTF32_BE, "\n".encode("utf-32-be")),
    (codecs.BOM_UTF16_LE, "\n".encode("utf-16-le")),
    (codecs.BOM_UTF16_BE, "\n".encode("utf-16-be")),
)
# UTF-8 with a few damaged bytes is still UTF-8 when its correctly encoded non-ASCII characters
# outnumber the damage this many times; GB18030 and Big5 text read as UTF-8 is nearly all damage.
_UTF8_TO_DAMAGE = 4


# Unassigned, private-use and control characters (bar line breaks and tabs): text has almost none.
_NOT_TEXT = frozenset({"Cn", "Co", "Cs", "Cc"})
# Control bytes that are not white space (NUL, BEL, ESC…): no multi-byte character of UTF-8,
# GB18030 or Big5 holds one, so they can be dropped before decoding.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
# Text holds a stray one at most; programs, images and archives are full of them (docs/RELIABILITY.md).
MAX_CONTROL_BYTE_SHARE = 0.01


def _text_or_none(data: bytes, encoding: str) -> str | None:
    """The bytes as this encoding when they decode cleanly into something that reads as text
    (a second byte-order mark inside it, or more than 1 % non-characters, say it does not)."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    text = text.removeprefix("\ufeff")
    odd = sum(unicodedata.category(c) in _NOT_TEXT and c not in "\n\r\t" for c in text)
    if "\ufeff" in text or "\ufffe" in text or odd > len(text) // 100:
        return None
    return text


def _without_control_bytes(data: bytes, name: str) -> bytes:
    """The bytes without their control bytes (a LoadWarning gives their count); ValueError when
    there are so many that the file is binary."""
    kept = data.translate(None, _CONTROL_BYTES)
    dropped = len(data) - len(kept)
    if dropped > MAX_CONTROL_BYTE_SHARE * len(data):
        raise ValueError("binary file")
    if dropped:
        warnings.warn(LoadWarning(name, f"{dropped} NUL/control byte(s) dropped"), stacklevel=3)
    return kept


def decode(data: bytes, name: str = "") -> str:
    """UTF-16/32 when a byte-order mark says so; else, without its control bytes (a stray NUL
    costs that byte, not the file; a binary file has too many), UTF-8 (with or without BOM),
    since it fails loudly on anything else; UTF-8 with its few damaged bytes replaced (a
    LoadWarning gives their count); then GB18030 or Big5."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            text = _text_or_none(data, encoding)
            if text is not None:
                return text
            break  # bytes that only begin like a mark: binary, or another encoding
    data = _without_control_bytes(data, name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    replaced = data.decode("utf-8-sig", errors="replace")
    damage = replaced.count("\ufffd") - data.count("\ufffd".encode())
    intact = sum(not char.isascii() for char in replaced) - damage
    if intact >= _UTF8_TO_DAMAGE * damage:
        warnings.warn(
            LoadWarning(name, f"{damage} undecodable byte sequence(s) replaced by \ufffd"),
            stacklevel=2,
        )
        return replaced
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "big5"]).best()
    if best is None:
        raise ValueError("not UTF-8, UTF-16/32 (with a byte-order mark), GB18030 or Big5 text")
    return str(best)


def head_bytes(path: Path) -> tuple[bytes, bool]:
    """A file read whole, up to bounds.MAX_TEXT_FILE_BYTES, and whether it went on past them:
    then it ends at its last line break before the bound, so no character is cut in two."""
    with path.open("rb") as handle:
        data = handle.read(bounds.MAX_TEXT_FILE_BYTES + 1)
    if len(data) <= bounds.MAX_TEXT_FILE_BYTES:
        return data, False
    data = data[: bounds.MAX_TEXT_FILE_BYTES]
    newline = next((n for mark, n in _NEWLINES if data.startswith(mark)), b"\n")
    end = data.rfind(newline)
    while end > 0 and end % len(newline):  # a newline's bytes inside two other characters
        end = data.rfind(newline, 0, end)
    return (data[: end + len(newline)] if end > 0 else data), True
