"""What a page's layout means, read back from PDFs and decks made here: a sentence across line
ends and columns stays one sentence, a table's rows carry their headers and caption, headings and
cover lines are units of their own and each sentence knows the heading above it."""

from __future__ import annotations

import make_documents as made_by
import pytest

from embeddings.chunking import chunk_document, sentence_spans
from embeddings.loading import load_file
from embeddings.records import span_location


def located(doc, text: str):
    start = doc.text.index(text)
    return span_location(doc.sections, start, start + len(text))


def sentences_of(doc) -> list[str]:
    return [doc.text[start:end] for start, end in sentence_spans(doc.text)]


@pytest.mark.skipif(not made_by.SCAN_FONT.exists(), reason="needs fonts-wqy-microhei")
def test_a_sentence_across_line_ends_and_columns_stays_one_sentence(tmp_path):
    # Lines that end on Q1, inside 《…》 and before a sum, the next starting with a digit set in
    # Helvetica (a box of another height at the same type size).
    made = made_by.make_columns_pdf(tmp_path / "研报.pdf")
    doc = load_file(made.path, "report")
    found = sentences_of(doc)
    for sentence in made.paragraphs:
        assert sentence in found, sentence
    assert "\n" not in doc.text


@pytest.mark.skipif(not made_by.SCAN_FONT.exists(), reason="needs fonts-wqy-microhei")
def test_a_bulleted_point_with_a_hanging_indent_stays_one_paragraph(tmp_path):
    # The bullet is set in smaller type and hangs left of the point's lines: neither may read
    # as a paragraph's end, which cut 预计一期总投资额约 from 6.66亿元 in a real research note.
    made = made_by.make_bulleted_pdf(tmp_path / "要点.pdf")
    doc = load_file(made.path, "points")
    assert [line.lstrip("•") for line in doc.text.split("\n")] == made.paragraphs, doc.text


@pytest.mark.parametrize("ruled", [False, True])
def test_a_pdf_table_is_read_row_by_row_under_its_header_and_caption(tmp_path, ruled):
    made = made_by.make_table_pdf(tmp_path / "旅游.pdf", ruled=ruled)
    doc = load_file(made.path, "tourism")
    lines = doc.text.split("\n")
    for row in made.extra["rows"]:
        assert row in lines, doc.text
        assert located(doc, row).section == f"二、文化和旅游 > {made_by.TOURISM_CAPTION}"
    for paragraph in made.paragraphs:  # the prose around it stays prose
        assert paragraph in lines
    first_row = made.extra["rows"][0]
    holding = [c for c in chunk_document(doc) if first_row in c.text]
    assert holding and all(made_by.TOURISM_CAPTION in c.text for c in holding)


def test_aligned_prose_is_never_cut_into_cells():
    from embeddings.readers.layout import Cell, Line, Page, paragraphs

    # Three lines with a wide gap at the same place, but sentences on either side: prose set in
    # two columns that one line of text runs across.
    texts = [
        ("会议指出，营商环境是城市的核心竞争力，", "要以企业感受为标准，持续深化改革。"),
        ("各区各部门要聚焦企业全生命周期，", "打造一流营商环境，提供有力支撑。"),
        ("双方将共建营商环境研究中心，", "推动政务服务从能办向好办转变。"),
    ]
    lines = [
        Line(
            f"{left}   {right}",
            72,
            520,
            100 + 20 * n,
            100 + 20 * n,
            12,
            (Cell(left, 72, 72 + 12 * len(left)), Cell(right, 330, 330 + 12 * len(right))),
        )
        for n, (left, right) in enumerate(texts)
    ]
    read = paragraphs([Page(1, lines, 842)])
    assert all(p.role != "table" for page in read for p in page.paragraphs)
    assert "：" not in "".join(p.text for page in read for p in page.paragraphs)


def test_a_pptx_table_gives_a_merged_cell_to_every_row_it_spans(tmp_path):
    made = made_by.make_pptx_table(tmp_path / "芯片.pptx")
    doc = load_file(made.path, "chips")
    lines = doc.text.split("\n")
    for row in made.extra["rows"]:
        assert row in lines
        assert located(doc, row).slide == 1


def test_cover_lines_each_stay_a_unit(tmp_path):
    made = made_by.make_cover_pdf(tmp_path / "封面.pdf")
    doc = load_file(made.path, "cover")
    assert doc.text.split("\n") == made.paragraphs


def heading_spans(doc) -> list[str]:
    return [doc.text[s.start : s.end] for s in doc.sections if s.location.heading]


def test_pdf_headings_are_units_and_give_each_sentence_its_section(tmp_path):
    made = made_by.make_report_pdf(tmp_path / "报告.pdf")
    doc = load_file(made.path, "report")
    headings = [t for kind, t in made_by.REPORT if kind == "heading"]
    assert heading_spans(doc) == [made_by.TITLE, *headings]
    for heading in headings:
        assert heading in doc.text.split("\n")
    sentence = "全市将新建城市公园十二座，新增绿地面积三百公顷。"
    assert located(doc, sentence).section == f"{made_by.TITLE} > 三、2024年主要任务"


def test_word_slide_web_and_markdown_headings_are_marked(tmp_path):
    docx = load_file(made_by.make_docx(tmp_path / "公报.docx").path, "gazette")
    assert heading_spans(docx) == ["华南市统计公报", "一、综合", "二、人口"]
    deck = load_file(made_by.make_pptx(tmp_path / "汇报.pptx").path, "deck")
    assert heading_spans(deck) == ["华南市数字经济发展汇报", "主要成效", "重点项目"]
    page = load_file(made_by.make_html(tmp_path / "news.html").path, "news")
    assert "会议要求" in heading_spans(page)
    (tmp_path / "a.md").write_text("# 年报\n\n收入增长一成。", encoding="utf-8")
    markdown = load_file(tmp_path / "a.md", "a")
    assert heading_spans(markdown) == ["# 年报"]
    assert located(markdown, "收入增长一成。").heading is None


def test_the_index_keeps_which_spans_are_headings(tmp_path):
    from embeddings.store.local import _sections_from_json, _sections_json

    doc = load_file(made_by.make_docx(tmp_path / "公报.docx").path, "gazette")
    assert _sections_from_json(_sections_json(doc.sections)) == doc.sections
    assert '"heading": true' in _sections_json(doc.sections)
    assert '"heading": null' not in _sections_json(doc.sections)  # other spans stored as before
