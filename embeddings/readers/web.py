"""Web pages (.html, .htm, saved pages) with trafilatura: the article, without navigation,
sidebars, cookie banners and footers; headings give each paragraph its section path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from embeddings import bounds
from embeddings.decoding import decode, head_bytes
from embeddings.readers.base import Block, Extracted, PageProgress, UnreadableFile, labelled_row
from embeddings.records import Location

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)""", re.IGNORECASE)
# Pages labelled GB2312 or GBK routinely hold characters only GB18030 (a superset of both) has.
_GB_LABELS = {"gb2312", "gbk", "gb_2312-80", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"}
# Precision mode keeps headings and paragraphs apart but, on some pages, keeps too little; below
# this share of what the default mode finds, the default's text is taken instead.
_PRECISION_SHARE = 0.6


def decode_html(data: bytes, name: str) -> str:
    """The page's text in the charset its <meta> names, else as decode() reads text files;
    name: the file that warnings name."""
    label = _CHARSET.search(data[:4096])
    if label and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        charset = label.group(1).decode("ascii").lower()
        encoding = "gb18030" if charset in _GB_LABELS else charset
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode(data, name)


def structured_blocks(html: str, heading_path: list[str] | None = None) -> list[Block]:
    """The main text of a page as blocks, each carrying the path of the headings above it."""
    import trafilatura
    from lxml import etree

    options: dict[str, Any] = dict(output_format="xml", include_tables=True, include_comments=False)
    default = trafilatura.extract(html, **options)
    precise = trafilatura.extract(html, favor_precision=True, **options)
    chosen = default
    if precise and default:
        length = len(etree.fromstring(default.encode()).xpath("string(//main)"))
        precise_length = len(etree.fromstring(precise.encode()).xpath("string(//main)"))
        if precise_length >= _PRECISION_SHARE * length:
            chosen = precise
    if not chosen:
        return []
    main = etree.fromstring(chosen.encode()).find("main")
    outer = list(heading_path or [])
    headings: list[tuple[int, str]] = []  # (level, text) of the headings above, outermost first
    blocks: list[Block] = []

    def add(text: str, heading: bool = False) -> None:
        section = " > ".join(outer + [h for _, h in headings]) or None
        if text.strip():
            blocks.append(Block(text.strip(), Location(section=section, heading=heading or None)))

    for element in main:
        text = "".join(element.itertext()).strip()
        if element.tag == "head":
            level = int((element.get("rend") or "h2").lstrip("h") or 2)
            while headings and headings[-1][0] >= level:
                headings.pop()
            headings.append((level, text))
            add(text, heading=True)
        elif element.tag == "table":
            header = None
            for row in element.iter("row"):
                cells = [" ".join("".join(c.itertext()).split()) for c in row.iter("cell")]
                if header is None and (
                    row.get("role") == "head"
                    or any(c.get("role") == "head" for c in row.iter("cell"))
                ):
                    header = cells
                    continue
                add(labelled_row(cells, header))
        elif element.tag == "list":
            for item in element.iter("item"):
                add("".join(item.itertext()).strip())
        else:
            add(text)
    return blocks


def read(path: Path, progress: PageProgress | None = None) -> Extracted:
    import trafilatura

    data, cut = head_bytes(path)
    try:
        html = decode_html(data, str(path))
    except ValueError as exc:
        raise UnreadableFile(f"not a readable web page ({exc})") from None
    blocks = structured_blocks(html)
    if not blocks:
        raise UnreadableFile("no article text found in the page")
    metadata = trafilatura.extract_metadata(html)
    title = metadata.title if metadata and metadata.title else None
    if progress:
        progress(1, 1)
    return Extracted(blocks, "html", title=title, warnings=[bounds.CHARS_CUT] if cut else [])
