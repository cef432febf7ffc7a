"""Real documents of every format, made by real tools (tests/make_documents.py), read back: whole
paragraphs, no spaces inside Chinese, columns in order, running headers and footers gone, each
sentence on its page, table headers in every row."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import make_documents as made_by
import pytest

from embeddings.chunking import chunk_document
from embeddings.loading import load_documents, load_file
from embeddings.readers import UnreadableFile
from embeddings.records import span_location

SPACE_IN_CHINESE = re.compile(r"[\u4e00-\u9fff，。、；：][ \u00a0]+[\u4e00-\u9fff，。、；：]")
SPACE_BESIDE_CHINESE = re.compile(
    r"[\u4e00-\u9fff][ ]+[0-9A-Za-z%]|[0-9A-Za-z%][ ]+[\u4e00-\u9fff，。]"
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("formats")


@pytest.fixture(scope="module")
def report(folder):
    made = made_by.make_report_pdf(folder / "2023年政府工作报告.pdf")
    return made, load_file(made.path, "report")


def located(doc, sentence: str):
    start = doc.text.index(sentence)
    return span_location(doc.sections, start, start + len(sentence))


def test_pdf_paragraphs_come_out_whole_in_reading_order(report):
    made, doc = report
    assert made.extra["pages"] == 3
    positions = [doc.text.index(p) for p in made.paragraphs]  # ValueError: a paragraph was cut
    assert positions == sorted(positions), "columns or pages out of order"
    lines = doc.text.split("\n")
    for paragraph in made.paragraphs:
        assert paragraph in lines, f"not a line of its own: {paragraph[:20]}"


def test_pdf_has_no_layout_spaces_and_no_broken_words(report):
    made, doc = report
    assert not SPACE_IN_CHINESE.search(doc.text)
    assert not SPACE_BESIDE_CHINESE.search(doc.text), SPACE_BESIDE_CHINESE.search(doc.text)
    assert made.extra["hyphenated"], "the report was meant to break a word with a hyphen"
    assert "reviewed the information provided" in doc.text
    assert "\ufffe" not in doc.text and "infor-" not in doc.text


def test_pdf_running_header_and_page_numbers_are_gone(report):
    _, doc = report
    assert "华南市人民政府办公室" not in doc.text
    assert not re.search(r"^-\s*\d+\s*-$", doc.text, re.MULTILINE)


def test_pdf_every_sentence_is_located_on_its_page(report):
    made, doc = report
    assert len(made.pages) > 10
    for sentence, page in made.pages.items():
        assert located(doc, sentence).page == page, sentence
    # The sentence the page break cuts in two on paper is one sentence here, on both pages.
    across = [s for s in made.pages if located(doc, s).last_page]
    assert across and all(located(doc, s).last_page == made.pages[s] + 1 for s in across)
    assert doc.kind == "pdf" and doc.pages == 3 and doc.ocr_pages == 0


def test_chunks_know_every_page_they_span(report):
    _, doc = report
    chunks = chunk_document(doc)
    assert {c.location.page for c in chunks} == {1, 2, 3}
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        first = span_location(doc.sections, chunk.start, chunk.start + 1).page
        last = span_location(doc.sections, chunk.end - 1, chunk.end).page
        assert (chunk.location.page, chunk.location.last_page) == (
            first,
            last if last != first else None,
        )


def test_pdf_pages_are_counted_as_they_are_read(report):
    made, _ = report
    seen = []
    load_file(made.path, "report", progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_docx_keeps_order_headings_lists_tables_and_runs(folder):
    made = made_by.make_docx(folder / "统计公报.docx")
    doc = load_file(made.path, "gazette")
    lines = doc.text.split("\n")
    positions = [doc.text.index(p) for p in made.paragraphs]
    assert positions == sorted(positions)
    split = made.paragraphs[2]  # bold, plain and italic runs: one sentence
    assert split in lines
    for row in made.extra["rows"]:
        assert row in lines
    assert doc.text.count(made.extra["header"]) == 1
    for sentence, section in made.extra["section_of"].items():
        assert located(doc, sentence).section == section
    assert doc.title == "华南市统计公报" and doc.kind == "docx"


def test_pptx_slides_in_order_with_notes_and_tables(folder):
    made = made_by.make_pptx(folder / "汇报.pptx")
    doc = load_file(made.path, "deck")
    for text, slide in made.pages.items():
        assert located(doc, text).slide == slide, text
    chunks = chunk_document(doc)
    assert all(len({s.location.slide for s in c.sections}) == 1 for c in chunks)
    assert doc.title == "华南市数字经济发展汇报"


def test_spreadsheet_rows_carry_their_headers(folder):
    made = made_by.make_xlsx(folder / "指标.xlsx")
    doc = load_file(made.path, "sheet")
    lines = doc.text.split("\n")
    for row in made.paragraphs:
        assert row in lines
    for row, (sheet, number) in made.extra["row_of"].items():
        where = located(doc, row)
        assert (where.sheet, where.row) == (sheet, number)
    csv = made_by.make_csv(folder / "指标.csv")
    assert csv.paragraphs[0] in load_file(csv.path, "csv").text.split("\n")


@pytest.mark.parametrize("charset", ["utf-8", "gb2312"])
def test_html_keeps_the_article_and_drops_the_page_around_it(folder, charset):
    made = made_by.make_html(folder / f"news-{charset}.html", charset)
    doc = load_file(made.path, "news")
    lines = doc.text.split("\n")
    for paragraph in made.paragraphs:
        assert paragraph in lines  # 朱镕基 too: GBK-only, in a page labelled gb2312
    for boilerplate in made.extra["boilerplate"]:
        assert boilerplate not in doc.text
    assert located(doc, made.paragraphs[-1]).section == "华南市召开优化营商环境大会 > 会议要求"


def test_epub_reads_chapters_in_spine_order(folder):
    made = made_by.make_epub(folder / "山城.epub")
    doc = load_file(made.path, "book")
    positions = [doc.text.index(p) for p in made.paragraphs]
    assert positions == sorted(positions)
    for sentence, section in made.extra["section_of"].items():
        assert located(doc, sentence).section == section
    assert doc.title == made.extra["title"]


def test_markdown_headings_give_the_section_and_the_text_stays_as_written(tmp_path):
    text = "# 年报\n\n## 财务\n\n收入增长一成。\n\n## 人员\n\n员工三百人。"
    (tmp_path / "a.md").write_text(text, encoding="utf-8")
    doc = load_file(tmp_path / "a.md", "a")
    assert doc.text == text
    assert located(doc, "员工三百人。").section == "年报 > 人员"
    assert located(doc, "收入增长一成。").section == "年报 > 财务"


def _zip_bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            zeros = b"\0" * (1 << 20)
            for _ in range(80):
                member.write(zeros)


def _bad_files(folder: Path) -> dict[str, str]:
    """file name → a word its skip reason must hold"""
    from reportlab.pdfgen import canvas

    locked = canvas.Canvas(str(folder / "locked.pdf"), encrypt="secret")
    locked.drawString(72, 720, "secret text")
    locked.save()
    good = made_by.make_report_pdf(folder / "whole.pdf").path.read_bytes()
    (folder / "truncated.pdf").write_bytes(good[: len(good) // 3])
    (folder / "whole.pdf").unlink()
    (folder / "garbage.pdf").write_bytes(b"%PDF-1.7\n" + b"\x13\x37" * 500)
    import pypdfium2 as pdfium

    empty = pdfium.PdfDocument.new()
    empty.save(str(folder / "no-pages.pdf"))
    empty.close()
    _zip_bomb(folder / "bomb.docx")
    (folder / "not-really.xlsx").write_text("just text", encoding="utf-8")
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04broken")
    (folder / "book.epub").write_bytes(b"")
    (folder / "data.bin").write_bytes(b"\x00\x01")
    return {
        "locked.pdf": "password",
        "truncated.pdf": "PDF",
        "garbage.pdf": "PDF",
        "no-pages.pdf": "no pages",
        "bomb.docx": "zip bomb",
        "not-really.xlsx": "corrupted",
        "slides.pptx": "corrupted",
        "book.epub": "corrupted",
        "data.bin": "unsupported file type .bin",
    }


def test_bad_files_are_each_skipped_with_the_reason(tmp_path):
    expected = _bad_files(tmp_path)
    (tmp_path / "fine.txt").write_text("好的文件。", encoding="utf-8")
    loaded = load_documents([tmp_path])
    assert [d.doc_id for d in loaded.documents] == ["fine"]
    reasons = {Path(path).name: why for path, why in loaded.skipped}
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])


def test_an_unknown_format_named_on_its_own_is_refused(tmp_path):
    path = tmp_path / "notes.rtf"
    path.write_text("{\\rtf1 hello}", encoding="utf-8")
    with pytest.raises(UnreadableFile, match="unsupported file type .rtf"):
        load_file(path, "notes")


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """One file of each format, as a user's folder holds them."""
    folder = tmp_path_factory.mktemp("library")
    made_by.make_report_pdf(folder / "2023年政府工作报告.pdf")
    made_by.make_docx(folder / "统计公报.docx")
    made_by.make_pptx(folder / "数字经济汇报.pptx")
    made_by.make_xlsx(folder / "经济指标.xlsx")
    made_by.make_html(folder / "营商环境大会.html", "gb2312")
    made_by.make_epub(folder / "山城江岸记.epub")
    return folder


@pytest.fixture(scope="module")
def library_index(library, tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    from qa.cli import app

    root = tmp_path_factory.mktemp("library-index")
    result = CliRunner().invoke(app, ["index", str(library), "--index", str(root)])
    assert result.exit_code == 0, result.output
    assert "indexed 6 documents" in result.stdout
    assert "files: 1 docx, 1 epub, 1 html, 1 pdf, 1 pptx, 1 xlsx; 3 pages; 0 skipped" in (
        result.stdout
    )
    return root


@pytest.mark.integration
def test_a_question_about_the_pdf_cites_its_page(library_index):
    from typer.testing import CliRunner

    from qa.cli import app

    runner = CliRunner()
    args = ["--index", str(library_index), "--backend", "extractive"]
    result = runner.invoke(app, ["ask", "全市将新建多少座城市公园？", *args])
    assert result.exit_code == 0, result.output
    assert "十二座" in result.stdout
    assert (
        "[1] 2023年政府工作报告.pdf, p. 3, § 2023年华南市政府工作报告 > 三、2024年主要任务\n"
        in result.stdout
    )
    result = runner.invoke(app, ["ask", "全市将新建多少座城市公园？", "--json", *args])
    citation = __import__("json").loads(result.stdout)["citations"][0]
    assert (citation["page"], citation["slide"], citation["sheet"]) == (3, None, None)
    assert citation["source"].endswith("2023年政府工作报告.pdf")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "expected", "where"),
    [
        ("建成了多少个5G基站？", "两万一千个", {"slide": 2}),
        ("2020年常住人口是多少？", "850万人", {"sheet": "经济指标", "row": 3}),
        (
            "第三产业增加值占地区生产总值的比重是多少？",
            "百分之五十八点三",
            {"section": "华南市统计公报 > 一、综合"},
        ),
        (
            "谁与市政府签署了人才培养合作协议？",
            "朱镕基经济管理学院",
            {"section": "华南市召开优化营商环境大会 > 会议要求"},
        ),
    ],
)
def test_answers_cite_the_slide_sheet_row_or_section(library_index, question, expected, where):
    from qa import answer

    reply = answer(question, index=library_index, backend="extractive")
    assert expected in reply.answer
    cited = [c for c in reply.citations if expected in c.quote]
    assert cited, reply.citations
    location = cited[0].location
    assert {key: getattr(location, key) for key in where} == where


@pytest.mark.integration
def test_reindexing_reads_no_unchanged_file_again(library, library_index):
    from embeddings.indexer import build_index

    read = []
    report = build_index(library_index, [library], reading=lambda *args: read.append(args))
    assert read == []
    assert len(report.unchanged) == 6 and report.embedded == []
    assert report.formats["pdf"] == 1 and report.pages == 3


def test_dry_run_prints_each_page(library):
    from typer.testing import CliRunner

    from qa.cli import app

    result = CliRunner().invoke(
        app, ["index", "--dry-run", str(library / "2023年政府工作报告.pdf")]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "2023年政府工作报告.pdf (pdf, 3 pages, title 「2023年华南市政府工作报告」)" in out
    assert out.index("--- p. 1 ---") < out.index("--- p. 2 ---") < out.index("--- p. 3 ---")
    assert out.index("--- p. 3 ---") < out.index("全市将新建城市公园十二座")


@pytest.mark.integration
def test_show_prints_what_the_index_holds(library_index):
    from typer.testing import CliRunner

    from qa.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["show", "数字经济汇报", "--index", str(library_index)])
    assert result.exit_code == 0, result.output
    assert result.stdout.index("--- slide 2 ---") < result.stdout.index("建成5G基站两万一千个。")
    missing = runner.invoke(app, ["show", "nope", "--index", str(library_index)])
    assert missing.exit_code == 1 and "no document 'nope'" in missing.stderr


@pytest.mark.integration
def test_indexing_skips_bad_files_names_them_and_exits_3(tmp_path):
    from typer.testing import CliRunner

    from qa.cli import app

    docs = tmp_path / "docs"
    docs.mkdir()
    expected = _bad_files(docs)
    (docs / "fine.txt").write_text("杭州西湖位於浙江省杭州市西部。", encoding="utf-8")
    result = CliRunner().invoke(app, ["index", str(docs), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 3, result.output
    assert "indexed 1 documents" in result.stdout
    assert f"{len(expected)} skipped" in result.stdout
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning: skipped")]
    assert sorted(Path(ln.split(": ")[1].removeprefix("skipped ")).name for ln in warnings) == (
        sorted(expected)
    )
    assert "Traceback" not in result.output


needs_scan_font = pytest.mark.skipif(
    not made_by.SCAN_FONT.exists(),
    reason=f"drawing a scanned page needs {made_by.SCAN_FONT} (apt-get install fonts-wqy-microhei)",
)


@needs_scan_font
def test_without_the_ocr_extra_a_scan_is_skipped_naming_the_extra(tmp_path, monkeypatch):
    from embeddings.readers import ocr

    monkeypatch.setattr(ocr, "available", lambda: False)
    image, scanned = made_by.make_scanned(tmp_path)
    for path in (image.path, scanned.path):
        with pytest.raises(UnreadableFile, match=r"pip install 'qa\[ocr\]'"):
            load_file(path, "scan")


@pytest.mark.slow
@needs_scan_font
def test_a_scanned_pdf_is_read_by_ocr_and_cited_by_page(tmp_path, embedder):
    from embeddings.indexer import build_index
    from qa import answer

    _, scanned = made_by.make_scanned(tmp_path)
    doc = load_file(scanned.path, "scan")
    assert (doc.pages, doc.ocr_pages) == (1, 1)
    found = [s for s in scanned.paragraphs if s in doc.text.split("\n")]
    assert len(found) == len(scanned.paragraphs), doc.text
    build_index(tmp_path / "ix", [scanned.path], embedder=embedder)
    reply = answer("哪些重点领域支出得到有力保障？", index=tmp_path / "ix", backend="extractive")
    assert "教育、科技、卫生健康" in reply.answer
    assert reply.citations[0].location.page == 1


@pytest.mark.slow
@needs_scan_font
def test_an_image_is_read_by_ocr(tmp_path):
    image, _ = made_by.make_scanned(tmp_path)
    doc = load_file(image.path, "scan")
    assert doc.kind == "image" and doc.ocr_pages == 1
    assert made_by.SCANNED[1] in doc.text
    assert located(doc, made_by.SCANNED[1]).page == 1


def test_the_chat_model_sees_where_each_passage_sits():
    from embeddings.records import Location
    from qa.answering.chat_model import format_passages
    from qa.records import Passage

    passages = [
        Passage(
            1,
            "r",
            "政府工作报告",
            "全市将新建城市公园十二座。",
            0,
            13,
            1.0,
            location=Location(page=3),
        ),
        Passage(
            2,
            "s",
            "指标",
            "指标：GDP，2019：4127亿元",
            0,
            18,
            0.5,
            location=Location(sheet="经济指标", row=2),
        ),
        Passage(3, "t", "镇江", "镇江提出2020年实现碳峰值。", 0, 14, 0.4),
    ]
    headers = [block.split("\n")[0] for block in format_passages(passages).split("\n\n")]
    assert headers == [
        "[1] 《政府工作报告》 p. 3",
        "[2] 《指标》 sheet 经济指标, row 2",
        "[3] 《镇江》",
    ]
