"""Text from page images with rapidocr (PP-OCR models inside the wheel, run by onnxruntime).

Optional: `pip install 'qa[ocr]'`. Without it, scanned pages and images are reported as needing
that extra; nothing else changes.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache

from embeddings.readers.base import UnreadableFile
from embeddings.readers.layout import Line

MISSING = "reading it needs OCR, the optional extra: pip install 'qa[ocr]'"
# Scans are rendered (or taken) at this resolution: rapidocr read every character of a 200-dpi
# page in bench/ingest_formats.py.
DPI = 200


@lru_cache(maxsize=1)
def available() -> bool:
    return all(importlib.util.find_spec(m) for m in ("rapidocr", "onnxruntime"))


@lru_cache(maxsize=1)
def _engine():
    if not available():
        raise UnreadableFile(MISSING)
    from rapidocr import RapidOCR

    # rapidocr logs every model it loads, and every blank image, at INFO and WARNING.
    return RapidOCR(params={"Global.log_level": "error"})


def read_lines(image) -> list[Line]:
    """The printed lines of an RGB image (a numpy array), top to bottom, in pixels."""
    result = _engine()(image)
    if result.txts is None:
        return []
    lines = []
    for box, text in zip(result.boxes, result.txts, strict=True):
        xs, ys = [p[0] for p in box], [p[1] for p in box]
        baseline = max(ys)
        lines.append(Line(text, min(xs), max(xs), baseline, baseline, max(ys) - min(ys)))
    return lines
