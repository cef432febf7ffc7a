"""What a page's layout means, read back from documents made here: a sentence across line ends
and columns stays one sentence, a table's rows carry their headers, headings and cover lines are
units of their own, headings marked as such."""

from __future__ import annotations

import make_documents as made_by

from embeddings.chunking import sentence_spans
from embeddings.loading import load_file
from embeddings.records import span_location


def located(doc, text: str):
    start = doc.text.index(text)
    return span_location(doc.sections, start, start + len(text))


def sentences_of(doc) -> list[str]:
    return [doc.text[start:end] for start, end in sentence_spans(doc.text)]


def test_a_sentence_across_line_ends_and_columns_stays_one_sentence(tmp_path):
    # Lines that end on Q1, inside 《…》 and before a sum, the next starting with a digit set in
    # a Latin font (a box of another height at the same type size).
    made = made_by.make_columns_pdf(tmp_path / "研报.pdf")
    doc = load_file(made.path, "report")
    found = sentences_of(doc)
    for sentence in made.paragraphs:
        assert sentence in found, sentence
    assert "\n" not in doc.text


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
