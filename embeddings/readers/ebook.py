"""EPUB e-books: the OPF package's spine gives the reading order, each chapter read as a web
page (trafilatura) under its own title."""

from __future__ import annotations

import posixpath
from pathlib import Path

from embeddings.readers.base import Block, Extracted, PageProgress, UnreadableFile, guard_zip
from embeddings.readers.web import decode_html, structured_blocks
from embeddings.records import Location

_CONTAINER = "META-INF/container.xml"
_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def _plain_blocks(xhtml: str, title: str | None) -> list[Block]:
    """A chapter too short for trafilatura to call it an article: its paragraphs as they are."""
    from lxml import html

    root = html.fromstring(xhtml.encode())
    blocks = []
    for element in root.iter("p", "h1", "h2", "h3", "li"):
        text = " ".join(element.text_content().split())
        heading = element.tag != "p" and element.tag != "li"
        if text:
            blocks.append(Block(text, Location(section=title, heading=heading or None)))
    return blocks


def read(path: Path, progress: PageProgress | None = None) -> Extracted:
    from lxml import etree, html

    with guard_zip(path, "EPUB") as book:
        try:
            container = etree.fromstring(book.read(_CONTAINER))
            package_path = container.find(".//c:rootfile", _NS).get("full-path")
            package = etree.fromstring(book.read(package_path))
        except (KeyError, AttributeError, etree.XMLSyntaxError) as exc:
            raise UnreadableFile(f"not a readable EPUB (no package document: {exc})") from None
        folder = posixpath.dirname(package_path)
        items = {
            item.get("id"): posixpath.normpath(posixpath.join(folder, item.get("href")))
            for item in package.iterfind(".//opf:manifest/opf:item", _NS)
        }
        spine = [
            items[ref.get("idref")]
            for ref in package.iterfind(".//opf:spine/opf:itemref", _NS)
            if ref.get("idref") in items
        ]
        book_title = package.findtext(".//dc:title", namespaces=_NS)
        blocks: list[Block] = []
        for n, name in enumerate(spine, start=1):
            try:
                xhtml = decode_html(book.read(name), str(path))
            except (KeyError, ValueError):
                continue  # a spine entry the archive lacks: the rest of the book still reads
            chapter_title = html.fromstring(xhtml.encode()).findtext(".//title")
            chapter = structured_blocks(xhtml) or _plain_blocks(xhtml, chapter_title)
            if chapter and chapter[0].location.section is None and chapter_title:
                chapter = [
                    Block(b.text, Location(section=chapter_title, heading=b.location.heading))
                    for b in chapter
                ]
            blocks.extend(chapter)
            if progress:
                progress(n, len(spine))
    if not blocks:
        raise UnreadableFile("no text in any chapter")
    return Extracted(blocks, "epub", title=book_title)
