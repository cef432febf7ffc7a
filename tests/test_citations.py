import pytest

from qa.records import Passage
from qa.verify.citations import StreamingMarkerFilter, check_citations, rewrite_markers

DOC = "深圳碳排放市場配額累計總成交額13.52億元。公交機動化分擔率達56.5%。垃圾回收利用率超過30%。"


def _passages(count: int) -> list[Passage]:
    # passage n holds the n-th sentence of DOC (cycling), with its real offsets
    sentences = [s + "。" for s in DOC.split("。") if s]
    passages, start = [], 0
    starts = []
    for s in sentences:
        starts.append(start)
        start += len(s)
    for n in range(1, count + 1):
        i = (n - 1) % len(sentences)
        text = sentences[i]
        passages.append(Passage(n, "shenzhen", "深圳", text, starts[i], starts[i] + len(text), 0.9))
    return passages


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("答案[1]。", "答案[1]。"),
        ("答案［2］。", "答案[2]。"),
        ("答案【3】。", "答案[3]。"),
        ("答案[1,2]。", "答案[1][2]。"),
        ("答案[1，3]。", "答案[1][3]。"),
        ("答案[1][2]。", "答案[1][2]。"),
        ("答案[ 2 ]。", "答案[2]。"),
    ],
)
def test_every_marker_form_is_read_and_normalised(raw, expected):
    assert rewrite_markers(raw, {1, 2, 3})[0] == expected


def test_numbers_that_were_not_passages_are_dropped_and_reported():
    text, invented = rewrite_markers("甲[7]。乙[2,9]。丙【5】。", {1, 2, 3, 4, 5})
    assert text == "甲。乙[2]。丙[5]。"
    assert invented == [7, 9]


def test_citations_map_to_the_exact_sentence_of_the_cited_passage():
    passages = _passages(3)
    checked = check_citations("成交額是13.52億元[1]。分擔率56.5%［2］。另有說法[7]。", passages)
    assert checked.invented == [7]
    assert "[7]" not in checked.text
    assert [c.n for c in checked.citations] == [1, 2]
    for citation in checked.citations:
        assert DOC[citation.start : citation.end] == citation.quote
        assert citation.doc_id == "shenzhen"
    assert "13.52" in checked.citations[0].quote
    assert "56.5%" in checked.citations[1].quote


def test_streamed_markers_split_across_pieces_come_out_as_the_final_text():
    raw = "成交額13.52億元[1]，分擔率【2】，另外[7]，還有[1,9]。"
    valid = {1, 2, 3}
    for size in (1, 2, 3, 5):
        stream = StreamingMarkerFilter(valid)
        shown = "".join(stream.feed(raw[i : i + size]) for i in range(0, len(raw), size))
        shown += stream.flush()
        assert (
            shown
            == rewrite_markers(raw, valid)[0]
            == "成交額13.52億元[1]，分擔率[2]，另外，還有[1]。"
        )


def test_a_bracket_that_is_not_a_citation_streams_through_unchanged():
    stream = StreamingMarkerFilter({1})
    shown = stream.feed("見[附件A] 與 [") + stream.feed("note]") + stream.flush()
    assert shown == "見[附件A] 與 [note]"


def test_a_marker_after_the_full_stop_belongs_to_the_sentence_before_it():
    passages = _passages(3)
    checked = check_citations("分擔率達56.5%。[2]成交額13.52億元。[1]", passages)
    assert [(c.n, c.quote) for c in checked.citations] == [
        (1, "深圳碳排放市場配額累計總成交額13.52億元。"),
        (2, "公交機動化分擔率達56.5%。"),
    ]
