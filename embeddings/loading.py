"""Files and folders → cleaned Documents with located sections. Unreadable files are reported
and skipped, never fatal."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from embeddings import bounds, readers
from embeddings.cleaning import clean_text
from embeddings.decoding import LoadWarning
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
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, what): see LoadWarning


@dataclass
class Found:
    files: list[tuple[Path, str]]  # (file, doc_id) of every file of a format qa reads
    unsupported: list[Path]  # the other files met, which are skipped with a warning


@contextmanager
def load_warnings() -> Iterator[list[tuple[str, str]]]:
    """The (path, what) of every LoadWarning raised inside the block; other warnings pass on."""
    found: list[tuple[str, str]] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LoadWarning)
        yield found
    for warning in caught:
        if isinstance(warning.message, LoadWarning):
            found.append((warning.message.path, warning.message.what))
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


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


def text_document(doc_id: str, title: str | None, text: str, source: str) -> Document:
    """A document given as text (a JSON Lines record, a benchmark's corpus), cleaned as a file's
    text is. A file is known by its bytes (file_hash: an unchanged file is not read again); a
    record has no bytes of its own, so it is known by its title and cleaned text."""
    text = clean_text(text)
    return Document(
        doc_id=doc_id,
        title=str(title or doc_id),
        text=text,
        source=source,
        content_hash=hashlib.sha256(
            json.dumps([title, text], ensure_ascii=False).encode()
        ).hexdigest(),
    )


def load_file(path: Path, doc_id: str, progress=None, warn: Warn | None = None) -> Document:
    """Read one file of any supported format. Raises UnreadableFile (a ValueError) or OSError,
    whose message says why; progress(done, total) counts its pages as they are read."""
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
    if len(text) > bounds.MAX_FILE_CHARS:
        text, sections = _cut(text, sections)
        if bounds.CHARS_CUT not in extracted.warnings:
            extracted.warnings.append(bounds.CHARS_CUT)
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


def _cut(text: str, sections: tuple[Section, ...]) -> tuple[str, tuple[Section, ...]]:
    """The text cut to bounds.MAX_FILE_CHARS, at its last line break before them where there
    is one, with the sections that fall inside it."""
    end = text.rfind("\n", 0, bounds.MAX_FILE_CHARS + 1)
    text = text[: end if end > 0 else bounds.MAX_FILE_CHARS].rstrip()
    end = len(text)
    return text, tuple(
        Section(s.start, min(s.end, end), s.location) for s in sections if s.start < end
    )


# What makes a folder of documents a Python package (as qa's own seeds/ is): never a document.
_PACKAGE_MARKERS = ("__init__.py", "__pycache__")


def _never_a_document(path: Path, root: Path) -> bool:
    """Dot files and folders (.git, .DS_Store), Office's lock files (~$report.docx) and Python's
    package markers below a folder given: passed over without a warning."""
    parts = path.relative_to(root).parts
    return any(p.startswith(".") or p in _PACKAGE_MARKERS for p in parts) or path.name.startswith(
        "~$"
    )


def find_files(paths: list[Path], follow_links: bool = False) -> Found:
    """Files qa reads, as (file, doc_id): a doc_id is the file's path below the folder given,
    without suffix; and the files of other types it met. A file reached twice (by two of the
    paths, a folder and a file in it, or by a link and its own name) is found once: under the
    first name, its own rather than a link's.

    Symbolic links are followed, each folder read once, as long as they lead to a file or folder
    inside the folder given (anywhere, with follow_links): a link out of it, a link back up the
    tree, a broken link and a folder that cannot be listed are each a LoadWarning.
    """
    met: list[tuple[Path, str]] = []
    for root in paths:
        if not root.exists():
            raise QAError(f"no such file or folder: {root}")
        if root.is_file():
            met.append((root, root.stem))
        else:
            met += [
                (path, path.relative_to(root).with_suffix("").as_posix())
                for path in _files_below(root, follow_links)
                if not _never_a_document(path, root)
            ]
    found = Found([], [])
    for path, doc_id in _once_each(met):
        if path.suffix.lower() in readers.SUFFIXES:
            found.files.append((path, doc_id))
        else:
            found.unsupported.append(path)
    return found


def _once_each(files: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Each file once, however many paths and links lead to it (an index holds one document a
    file): under the first name met, or under its own where a link's was met first."""
    once: dict[Path, tuple[Path, str]] = {}
    for path, doc_id in files:
        target = path.resolve()
        if target not in once or (once[target][0].is_symlink() and not path.is_symlink()):
            once[target] = (path, doc_id)
    return list(once.values())


def unsupported_reason(path: Path) -> str:
    return f"unsupported file type {path.suffix.lower() or '(no suffix)'}"


def _unlistable(error: OSError) -> None:
    why = error.strerror or str(error)
    warnings.warn(LoadWarning(str(error.filename), f"skipped: {why}"), stacklevel=2)


def _inside(link: Path, folder: Path, what: str) -> bool:
    """Whether the path, followed through its links, stays in the folder; a LoadWarning if not:
    a link to /etc/passwd in a shared folder must not put the file in everyone's answers."""
    target = link.resolve()
    if target.is_relative_to(folder):
        return True
    warnings.warn(
        LoadWarning(str(link), f"skipped: a link to a {what} outside the folder given ({target})"),
        stacklevel=3,
    )
    return False


def _files_below(root: Path, follow_links: bool) -> list[Path]:
    files = []
    seen = set()
    given = root.resolve()
    for folder, subfolders, names in os.walk(root, onerror=_unlistable, followlinks=True):
        identity = os.stat(folder)
        if (identity.st_dev, identity.st_ino) in seen:
            warnings.warn(
                LoadWarning(folder, "skipped: a symbolic link to a folder already read (a loop)"),
                stacklevel=2,
            )
            subfolders.clear()
            continue
        seen.add((identity.st_dev, identity.st_ino))
        subfolders.sort()
        if not follow_links:
            subfolders[:] = [s for s in subfolders if _inside(Path(folder, s), given, "folder")]
        for name in sorted(names):
            path = Path(folder, name)
            if path.is_file():
                if follow_links or _inside(path, given, "file"):
                    files.append(path)
            elif path.is_symlink():
                warnings.warn(
                    LoadWarning(str(path), "skipped: a broken symbolic link"), stacklevel=2
                )
    return sorted(files)


def _noted(notes: list[tuple[str, str]], path: str, what: str) -> None:
    notes.append((path, what))


def load_documents(paths: list[Path], follow_links: bool = False) -> Loaded:
    loaded = Loaded()
    read_in_part: list[tuple[str, str]] = []
    with load_warnings() as found_warnings:
        found = find_files(paths, follow_links)
        for path, doc_id in found.files:
            warn = functools.partial(_noted, read_in_part, str(path))
            try:
                loaded.documents.append(load_file(path, doc_id, warn=warn))
            except (OSError, ValueError) as exc:
                loaded.skipped.append((str(path), str(exc)))
    loaded.skipped += [(str(p), unsupported_reason(p)) for p in found.unsupported]
    loaded.warnings = found_warnings + read_in_part
    return loaded
