"""Files and folders → cleaned Documents with located sections. Unreadable files are reported
and skipped, never fatal."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.cleaning import clean_text
from embeddings.errors import QAError
from embeddings.records import Document, Location, Section

_LONGEST_TITLE = 100
_HASH_BLOCK = 1 << 20

# warn(message) hears what a reader read only in part (scanned pages left without OCR, say)
Warn = Callable[[str], None]


@dataclass
class Loaded:
    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


@dataclass
class Found:
    files: list[tuple[Path, str]]  # (file, doc_id) of every file of a format qa reads
    unsupported: list[Path]  # the other files met, which are skipped with a warning


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


def file_hash(path: Path) -> str:
    """sha256 of the file, read a megabyte at a time: a large PDF is never held whole."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def assemble(blocks) -> tuple[str, tuple[Section, ...]]:
    """The cleaned text of a file's blocks and the span of each location in it. Each block is
    cleaned on its own, so every offset is one in the final text; neighbours in the same place
    share one section."""
    parts: list[str] = []
    sections: list[Section] = []
    length = 0
    for block in blocks:
        text = clean_text(block.text)
        if not text:
            continue
        if parts:
            parts.append(block.joins)
            length += len(block.joins)
        if sections and sections[-1].location == block.location:
            sections[-1] = Section(sections[-1].start, length + len(text), block.location)
        else:
            sections.append(Section(length, length + len(text), block.location))
        parts.append(text)
        length += len(text)
    located = tuple(s for s in sections if s.location != Location())
    return "".join(parts), located


def load_file(path: Path, doc_id: str, progress=None, warn: Warn | None = None) -> Document:
    """Read one file of any supported format. Raises UnreadableFile (a ValueError) or OSError,
    whose message says why; progress(done, total) counts its pages as they are read."""
    from embeddings import readers

    try:
        extracted = readers.read(path, progress)
    except (readers.UnreadableFile, OSError):
        raise
    except Exception as exc:  # a library choking on a malformed file costs that file, not the run
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise readers.UnreadableFile(f"could not be read ({detail})") from None
    text, sections = assemble(extracted.blocks)
    if not text:
        raise readers.UnreadableFile("no text in the file")
    for message in extracted.warnings:
        if warn:
            warn(message)
    return Document(
        doc_id=doc_id,
        title=extracted.title or _title(text, path.stem),
        text=text,
        source=str(path.resolve()),
        content_hash=file_hash(path),
        sections=sections,
        kind=extracted.kind,
        pages=extracted.pages,
        ocr_pages=extracted.ocr_pages,
    )


def _hidden(path: Path, root: Path) -> bool:
    """Dot files and folders (.git, .DS_Store) and Office's lock files (~$report.docx)."""
    parts = path.relative_to(root).parts
    return any(p.startswith(".") for p in parts) or path.name.startswith("~$")


def find_files(paths: list[Path]) -> Found:
    """Files qa reads, as (file, doc_id): a doc_id is the file's path below the folder given,
    without suffix; and the files of other types it met."""
    from embeddings.readers import SUFFIXES

    found = Found([], [])
    for root in paths:
        if not root.exists():
            raise QAError(f"no such file or folder: {root}")
        candidates = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in candidates:
            if not path.is_file() or (path != root and _hidden(path, root)):
                continue
            if path.suffix.lower() not in SUFFIXES:
                found.unsupported.append(path)
            elif path == root:
                found.files.append((root, root.stem))
            else:
                found.files.append((path, path.relative_to(root).with_suffix("").as_posix()))
    return found


def unsupported_reason(path: Path) -> str:
    return f"unsupported file type {path.suffix.lower() or '(no suffix)'}"


def load_documents(paths: list[Path]) -> Loaded:
    loaded = Loaded()
    found = find_files(paths)
    for path, doc_id in found.files:
        try:
            loaded.documents.append(load_file(path, doc_id))
        except (OSError, ValueError) as exc:
            loaded.skipped.append((str(path), str(exc)))
    loaded.skipped += [(str(p), unsupported_reason(p)) for p in found.unsupported]
    return loaded
