"""Where an index lives: `open_store` and `open_writer` pick the backend from the location.

A location starting with postgresql:// or postgres:// is a PostgreSQL database (the `postgres`
extra); anything else is an index folder (embeddings/store/local.py).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from embeddings.errors import QAError
from embeddings.store.base import (
    FORMAT_VERSION,
    DocumentEntry,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    Manifest,
    ManifestDamaged,
    NotAnIndexFolder,
    Space,
    Store,
    StoreWriter,
    check_recipe,
)
from embeddings.store.local import (
    MANIFEST,
    IndexStore,
    LocalWriter,
    VectorCache,
    has_generations,
    read_manifest,
)

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "DocumentEntry",
    "IndexCorrupt",
    "IndexMismatch",
    "IndexMissing",
    "IndexStore",
    "LocalWriter",
    "Manifest",
    "ManifestDamaged",
    "NotAnIndexFolder",
    "Space",
    "Store",
    "StoreWriter",
    "VectorCache",
    "check_recipe",
    "has_generations",
    "is_database",
    "open_store",
    "open_writer",
    "read_manifest",
]

_DATABASE_SCHEMES = ("postgresql://", "postgres://")


def is_database(location: str | Path) -> bool:
    return str(location).startswith(_DATABASE_SCHEMES)


def _postgres() -> ModuleType:
    try:
        # import_module, not `from embeddings.store import postgres`: that form finds the
        # submodule as an attribute once imported, past a module marked missing
        postgres = importlib.import_module("embeddings.store.postgres")
    except ImportError as exc:
        raise QAError(f"the PostgreSQL store needs `pip install 'qa[postgres]'` ({exc})") from None
    return postgres  # type: ignore[no-any-return,unused-ignore]


def open_store(location: str | Path, kb: str = "default") -> Store:
    """The live index at location, for reading. kb names the knowledge base inside a database;
    an index folder is one knowledge base of its own."""
    if is_database(location):
        store: Store = _postgres().open_store(str(location), kb)
        return store
    return IndexStore.open(Path(location))


def open_writer(location: str | Path, kb: str = "default") -> StoreWriter:
    """The one way the indexer writes the index at location."""
    if is_database(location):
        writer: StoreWriter = _postgres().open_writer(str(location), kb)
        return writer
    return LocalWriter(Path(location))
