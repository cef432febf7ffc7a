"""What the indexing side makes of a file: a cleaned document and its chunks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    text: str  # cleaned: what people see and what citations quote
    source: str  # absolute path of the file it came from
    content_hash: str  # sha256 of the file's bytes


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    title: str
    text: str
    start: int  # offsets into the document's cleaned text: text == cleaned[start:end]
    end: int
