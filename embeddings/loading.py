"""Files and folders → cleaned Documents. Unreadable files are reported and skipped, never fatal."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.cleaning import clean_text
from embeddings.errors import QAError
from embeddings.records import Document

SUFFIXES = (".txt", ".md")
_LONGEST_TITLE = 100


@dataclass
class Loaded:
    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, since it fails loudly on anything else; then GB18030 or Big5."""
    if b"\x00" in data[:8192]:
        raise ValueError("binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "big5"]).best()
    if best is None:
        raise ValueError("not UTF-8, GB18030 or Big5 text")
    return str(best)


def _title(text: str, fallback: str) -> str:
    """The first line when it reads as a heading; a label such as 實錄內容: is not one."""
    for line in text.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line and not line.endswith((":", "：")):
            return line if len(line) <= _LONGEST_TITLE else fallback
    return fallback


def load_file(path: Path, doc_id: str) -> Document:
    data = path.read_bytes()
    text = clean_text(decode(data))
    if not text:
        raise ValueError("empty file")
    return Document(
        doc_id=doc_id,
        title=_title(text, path.stem),
        text=text,
        source=str(path.resolve()),
        content_hash=hashlib.sha256(data).hexdigest(),
    )


def find_files(paths: list[Path]) -> list[tuple[Path, str]]:
    """(file, doc_id) pairs; a doc_id is the file's path below the folder given, without suffix."""
    found = []
    for root in paths:
        if not root.exists():
            raise QAError(f"no such file or folder: {root}")
        if root.is_file():
            found.append((root, root.stem))
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix.lower() in SUFFIXES:
                found.append((path, path.relative_to(root).with_suffix("").as_posix()))
    return found


def load_documents(paths: list[Path]) -> Loaded:
    loaded = Loaded()
    for path, doc_id in find_files(paths):
        try:
            loaded.documents.append(load_file(path, doc_id))
        except (OSError, ValueError) as exc:
            loaded.skipped.append((str(path), str(exc)))
    return loaded
