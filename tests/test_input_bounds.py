"""Issue 35's bounds: every input qa takes has a named bound (passages asked for, bytes
unpacked, rows, pages, characters per file), and going past it is one line naming the bound."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from embeddings.loading import load_documents
from qa.api import Assistant, answer
from qa.settings import MAX_K

QUESTION = "镇江提出哪一年实现碳峰值？"


def _qa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("command", ["ask", "chat", "eval"])
def test_k_past_its_bound_is_one_error_line_naming_it(tmp_path, command):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("镇江提出2020年实现碳峰值。", encoding="utf-8")
    (tmp_path / "q.jsonl").write_text(
        json.dumps({"id": "1", "question": QUESTION, "answers": ["2020"], "doc_id": "a"}) + "\n",
        encoding="utf-8",
    )
    given = {
        "ask": ["ask", QUESTION],
        "chat": ["chat"],
        "eval": [
            "eval",
            "--docs",
            str(tmp_path / "docs"),
            "--questions",
            str(tmp_path / "q.jsonl"),
        ],
    }[command]
    result = _qa(*given, "-k", "100000", "--index", str(tmp_path / "ix"))
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"error: k = 100000 asks for more passages than qa reads for one question: at most {MAX_K}"
    ]
    assert not (tmp_path / "ix").exists()  # refused before anything was opened or built


def test_the_library_refuses_k_past_its_bound_with_a_value_error(tmp_path):
    from qa.evaluation import evaluate, load_eval_inputs

    with pytest.raises(ValueError, match=f"at most {MAX_K}"):
        answer(QUESTION, k=MAX_K + 1, index=tmp_path / "ix")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("镇江提出2020年实现碳峰值。", encoding="utf-8")
    (tmp_path / "q.jsonl").write_text(
        json.dumps({"id": "1", "question": QUESTION, "answers": ["2020"], "doc_id": "a"}) + "\n",
        encoding="utf-8",
    )
    inputs = load_eval_inputs(tmp_path / "docs", tmp_path / "q.jsonl")
    with pytest.raises(ValueError, match=f"at most {MAX_K}"):
        evaluate(inputs, k=MAX_K + 1, index=tmp_path / "eval-ix")
    assert not (tmp_path / "ix").exists() and not (tmp_path / "eval-ix").exists()


@pytest.fixture(scope="module")
def assistant(seed_index) -> Assistant:
    return Assistant(index=seed_index, backend="extractive")


def test_an_assistant_refuses_k_past_its_bound(assistant):
    with pytest.raises(ValueError, match=f"at most {MAX_K}"):
        assistant.ask(QUESTION, MAX_K + 1)


def _peak_bytes(assistant: Assistant, k: int) -> int:
    tracemalloc.start()
    try:
        assistant.ask(QUESTION, k)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_memory_an_answer_takes_does_not_grow_with_k(assistant):
    """Every passage of the seeds (47) against 5 of them: the passages' own text grows, not a
    copy of their document for each one, as it did."""
    assistant.ask(QUESTION, MAX_K)  # what is loaded once, on first use, is not the answer's
    few, most = _peak_bytes(assistant, 5), _peak_bytes(assistant, MAX_K)
    assert most - few < 128 * 1024, (few, most)


def _understated_docx(path: Path, unpacked: int, declared: int) -> None:
    """A .docx whose first part inflates to `unpacked` bytes while its local and central
    headers say it holds `declared`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("[Content_Types].xml", "w") as member:
            spaces = b" " * (1 << 20)
            for _ in range(unpacked >> 20):
                member.write(spaces)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 22, declared)  # the local header's uncompressed size
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)  # the central directory's
    path.write_bytes(data)


def test_a_zip_that_understates_its_size_is_skipped_at_the_bound_unpacked(tmp_path):
    _understated_docx(tmp_path / "bomb.docx", unpacked=128 << 20, declared=1000)
    assert (tmp_path / "bomb.docx").stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        loaded = load_documents([tmp_path])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [(path, why)] = loaded.skipped
    assert path == str(tmp_path / "bomb.docx")
    assert why.startswith("refused: unpacks to more than 64 MB from 0.1 MB"), why
    assert "zip bomb" in why
    assert peak < 16 << 20, peak  # read a piece at a time, never whole


def test_a_spreadsheet_is_read_up_to_its_bound_in_rows_and_says_so(tmp_path):
    from embeddings.bounds import MAX_SPREADSHEET_ROWS

    path = tmp_path / "rows.csv"
    rows = [f"镇江{i},{2000 + i % 30}" for i in range(MAX_SPREADSHEET_ROWS + 10)]
    path.write_text("城市,年份\n" + "\n".join(rows) + "\n", encoding="utf-8")
    loaded = load_documents([tmp_path])
    [doc] = loaded.documents
    assert f"镇江{MAX_SPREADSHEET_ROWS - 2}" in doc.text  # the last row within the bound
    assert f"镇江{MAX_SPREADSHEET_ROWS - 1}，" not in doc.text
    assert loaded.warnings == [
        (
            str(path),
            f"read its first {MAX_SPREADSHEET_ROWS:,} rows, the most qa reads from one "
            "spreadsheet; the rest is left out",
        )
    ]


@pytest.mark.slow  # openpyxl writes, then reads, a whole bound of rows
def test_a_workbook_is_read_up_to_its_bound_in_rows_over_all_its_sheets(tmp_path):
    import openpyxl

    from embeddings.bounds import MAX_SPREADSHEET_ROWS

    book = openpyxl.Workbook(write_only=True)
    first, second = book.create_sheet("一"), book.create_sheet("二")
    for sheet, rows in ((first, MAX_SPREADSHEET_ROWS - 5), (second, 10)):
        sheet.append(["城市", "年份"])
        for i in range(rows - 1):
            sheet.append([f"{sheet.title}市{i}", 2020])
    book.save(tmp_path / "book.xlsx")
    loaded = load_documents([tmp_path])
    [doc] = loaded.documents
    assert "二市3" in doc.text and "二市4" not in doc.text
    [(_, what)] = loaded.warnings
    assert what.startswith(f"read its first {MAX_SPREADSHEET_ROWS:,} rows")


def test_a_pdf_is_read_up_to_its_bound_in_pages_and_says_so(tmp_path):
    import pypdfium2 as pdfium

    from embeddings.bounds import MAX_PDF_PAGES

    made = _pdf_page(tmp_path / "first.pdf", "The first page says 2020.")
    pdf = pdfium.PdfDocument(str(made))
    for _ in range(MAX_PDF_PAGES - 1):
        pdf.new_page(200, 200)
    pdf.import_pages(pdfium.PdfDocument(str(_pdf_page(tmp_path / "last.pdf", "Past the bound."))))
    pdf.save(str(tmp_path / "long.pdf"))
    pdf.close()
    made.unlink()
    (tmp_path / "last.pdf").unlink()
    loaded = load_documents([tmp_path])
    [doc] = loaded.documents
    assert "2020" in doc.text and "Past the bound" not in doc.text
    assert doc.pages == MAX_PDF_PAGES
    assert loaded.warnings == [
        (
            str(tmp_path / "long.pdf"),
            f"read its first {MAX_PDF_PAGES:,} of {MAX_PDF_PAGES + 1:,} pages, the most qa "
            "reads from one PDF; the rest is left out",
        )
    ]


def _pdf_page(path: Path, text: str) -> Path:
    from reportlab.pdfgen import canvas

    page = canvas.Canvas(str(path))
    page.drawString(72, 720, text)
    page.save()
    return path


def test_a_file_is_read_up_to_its_bound_in_characters_and_says_so(tmp_path):
    from embeddings.bounds import MAX_FILE_CHARS

    line = "Zhenjiang set 2020 as the year of its carbon peak.\n"
    path = tmp_path / "long.txt"
    path.write_text(line * (MAX_FILE_CHARS // len(line) + 10) + "Past the bound.\n")
    loaded = load_documents([tmp_path])
    [doc] = loaded.documents
    assert len(doc.text) <= MAX_FILE_CHARS and "Past the bound" not in doc.text
    assert doc.text.endswith("carbon peak.")  # cut at a line's end
    assert loaded.warnings == [
        (
            str(path),
            f"read its first {MAX_FILE_CHARS:,} characters, the most qa reads from one file; "
            "the rest is left out",
        )
    ]


def test_a_huge_text_file_is_read_no_further_than_its_most_characters_could_take(tmp_path):
    from embeddings.bounds import MAX_TEXT_FILE_BYTES

    path = tmp_path / "spaces.txt"
    with path.open("wb") as handle:
        handle.write("镇江提出2020年实现碳峰值。\n".encode())
        handle.write(b" " * MAX_TEXT_FILE_BYTES)
        handle.write("秘密在末尾。\n".encode())
    loaded = load_documents([tmp_path])
    [doc] = loaded.documents
    assert doc.text == "镇江提出2020年实现碳峰值。"  # the rest was never read
    [(_, what)] = loaded.warnings
    assert what.startswith("read its first") and what.endswith("the rest is left out")
