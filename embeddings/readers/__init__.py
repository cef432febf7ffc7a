"""One reader per format, all behind one interface: read(path, progress) → Extracted (the file's
text as located blocks). A format's libraries are imported only when a file of it is read."""

from __future__ import annotations

import importlib
from pathlib import Path

from embeddings.readers.base import Extracted, PageProgress, UnreadableFile

# suffix → (module under embeddings.readers, its reading function)
READERS = {
    ".txt": ("text", "read"),
    ".md": ("text", "read"),
    ".markdown": ("text", "read"),
    ".pdf": ("pdf", "read"),
    ".docx": ("word", "read"),
    ".pptx": ("slides", "read"),
    ".xlsx": ("sheets", "read_xlsx"),
    ".xlsm": ("sheets", "read_xlsx"),
    ".csv": ("sheets", "read_csv"),
    ".html": ("web", "read"),
    ".htm": ("web", "read"),
    ".xhtml": ("web", "read"),
    ".epub": ("ebook", "read"),
    ".png": ("image", "read"),
    ".jpg": ("image", "read"),
    ".jpeg": ("image", "read"),
    ".tif": ("image", "read"),
    ".tiff": ("image", "read"),
    ".bmp": ("image", "read"),
    ".webp": ("image", "read"),
}
SUFFIXES = tuple(READERS)

__all__ = ["READERS", "SUFFIXES", "Extracted", "PageProgress", "UnreadableFile", "read"]


def read(path: Path, progress: PageProgress | None = None) -> Extracted:
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise UnreadableFile(f"unsupported file type {suffix or '(no suffix)'}")
    module, function = READERS[suffix]
    reader = getattr(importlib.import_module(f"embeddings.readers.{module}"), function)
    return reader(path, progress)
