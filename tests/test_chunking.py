import re

from embeddings.chunking import (
    CHUNK_CHARS,
    MIN_UNSHARED_WORD_CHARS,
    chunk_document,
    sentence_spans,
    unshared_texts,
)
from embeddings.loading import load_documents
from embeddings.records import Document
from qa.config import seeds_dir


def _doc(text: str) -> Document:
    return Document("d", "t", text, "/d.txt", "0")


def test_sentences_keep_their_marks_and_split_on_line_breaks():
    text = "第一句。第二句！第三句？第四句；\nEnglish one. And two! Three?\n最後一行"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "第一句。",
        "第二句！",
        "第三句？",
        "第四句；",
        "English one.",
        "And two!",
        "Three?",
        "最後一行",
    ]


def test_a_damaged_character_shown_as_question_mark_does_not_end_a_sentence():
    text = "金山網訊?自11月30日起，大會舉行。"
    assert [text[s:e] for s, e in sentence_spans(text)] == [text]


def test_chunk_offsets_slice_the_cleaned_text_exactly_on_the_seeds():
    for doc in load_documents([seeds_dir()]).documents:
        chunks = chunk_document(doc)
        assert len(chunks) > 5
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text) <= CHUNK_CHARS
            assert chunk.doc_id == doc.doc_id and chunk.title == doc.title
        # every sentence of the document lands in some chunk
        covered = set()
        for chunk in chunks:
            covered.update(range(chunk.start, chunk.end))
        for start, end in sentence_spans(doc.text):
            assert start in covered and end - 1 in covered


def test_neighbouring_chunks_share_one_sentence():
    sentences = [f"這是第{i}個句子，內容足夠長一些。" for i in range(12)]
    text = "".join(sentences)
    chunks = chunk_document(_doc(text), size=60)
    assert len(chunks) >= 3
    for first, second in zip(chunks, chunks[1:], strict=False):
        start, end = sentence_spans(first.text)[-1]
        last_sentence = first.text[start:end]
        assert second.text.startswith(last_sentence)
        assert second.start < first.end


def test_each_character_is_embedded_once_but_what_a_fragment_shares_and_within_its_chunk():
    documents = load_documents([seeds_dir()]).documents
    chunks = [c for doc in documents for c in chunk_document(doc)]
    texts = unshared_texts(chunks)
    assert len(texts) == len(chunks)
    for doc in documents:
        embedded = [0] * len(doc.text)
        shared = 0
        # the sentence a chunk embedded whole (its unshared part a fragment) shares with the one
        # before: embedded with each of them
        twice_expected: set[int] = set()
        before = None
        for chunk, text in zip(chunks, texts, strict=True):
            if chunk.doc_id != doc.doc_id:
                continue
            # the end of the chunk's own text: a passage found by its vector holds what matched
            assert text and chunk.text.endswith(text)
            shared += text != chunk.text
            if before is not None and text == chunk.text and before.end > chunk.start:
                twice_expected.update(range(chunk.start, before.end))
            for offset in range(chunk.end - len(text), chunk.end):
                embedded[offset] += 1
            before = chunk
        assert shared > 0
        for start, end in sentence_spans(doc.text):
            assert all(times >= 1 for times in embedded[start:end])
        assert {i for i, times in enumerate(embedded) if times > 1} == twice_expected
        assert all(embedded[i] == 2 for i in twice_expected)


def test_a_chunk_whose_unshared_part_is_a_fragment_is_embedded_whole():
    sentences = [
        f"這是第{i}個句子，內容足夠長一些，再長一點點，還要更長一些才行，一直寫到很長很長很長很長為止。"
        for i in range(4)
    ]
    # longer than the limit, but markup: fewer word characters than it
    fragment = '|-style="text-align: center; background: #FFE4E1;"'
    text = "".join(sentences[:2]) + "\n" + fragment + "\n" + "".join(sentences[2:])
    chunks = chunk_document(_doc(text), size=120)
    texts = unshared_texts(chunks)
    (short,) = [c for c in chunks if c.text.endswith(fragment)]
    assert len(re.findall(r"\w", fragment)) < MIN_UNSHARED_WORD_CHARS < len(fragment)
    assert texts[chunks.index(short)] == short.text
    # the others still leave out the sentence they share
    assert any(t != c.text for c, t in zip(chunks, texts, strict=True) if c is not short)


def test_the_first_chunk_of_each_document_is_embedded_whole():
    sentences = [f"這是第{i}個句子，內容足夠長一些，再長一點點吧。" for i in range(12)]
    first = chunk_document(Document("a", "t", "".join(sentences), "/a.txt", "0"), size=80)
    second = chunk_document(Document("b", "t", "".join(sentences), "/b.txt", "1"), size=80)
    texts = unshared_texts(first + second)
    assert texts[0] == first[0].text and texts[len(first)] == second[0].text
    assert texts[1] == sentences[3] + sentences[4]


def test_a_sentence_longer_than_a_chunk_is_cut_at_a_comma():
    long_sentence = "，".join(["這是一個很長的從句"] * 40) + "。"
    chunks = chunk_document(_doc(long_sentence), size=100)
    assert len(chunks) > 3
    assert all(len(c.text) <= 100 for c in chunks)
    assert all(c.text.endswith(("，", "。")) for c in chunks)
    assert "".join(c.text for c in chunks) == long_sentence
