"""Images (.png, .jpg, .tif…), read by OCR: an image is a page, each frame of a multi-page TIFF
one more."""

from __future__ import annotations

from pathlib import Path

from embeddings.readers import ocr
from embeddings.readers.base import Extracted, PageProgress, UnreadableFile
from embeddings.readers.layout import Page, located_blocks, paragraphs


def read(path: Path, progress: PageProgress | None = None) -> Extracted:
    import numpy as np
    from PIL import Image, ImageSequence, UnidentifiedImageError

    if not ocr.available():
        raise UnreadableFile(f"an image: {ocr.MISSING}")
    try:
        image = Image.open(path)
        frames = [f.convert("RGB") for f in ImageSequence.Iterator(image)]
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise UnreadableFile(f"not a readable image ({exc})") from None
    pages = []
    for number, frame in enumerate(frames, start=1):
        pages.append(Page(number, ocr.read_lines(np.asarray(frame)), frame.height, ocr=True))
        if progress:
            progress(number, len(frames))
    blocks = located_blocks(paragraphs(pages))
    if not blocks:
        raise UnreadableFile("no text found in the image (OCR)")
    return Extracted(blocks, "image", pages=len(frames), ocr_pages=len(frames))
