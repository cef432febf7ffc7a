"""Questions worded the way people type them: yes/no by a verb said and denied (是不是), what-for
(有什么作用), the asker's own words that no document uses (打算, 搞, 啊); and what in a document
cannot answer: the questions it asks and its headings."""

from __future__ import annotations

import pytest

from embeddings.indexer import index_documents
from embeddings.records import Document
from qa.api import Assistant
from qa.question import analyse


def _idf(word: str) -> float:
    return 1.0


@pytest.mark.parametrize(
    ("question", "asking"),
    [
        ("深圳公交车是不是全部电动化了？", "是不是"),
        ("镇江有没有在大会上发言？", "有没有"),
        ("镇江能不能实现碳峰值呢？", "不能"),
        ("深圳是否实现了碳中和？", "是否"),
    ],
)
def test_a_yes_no_question_asks_by_the_verb_it_says_and_denies(question, asking):
    asked = analyse(question, _idf)
    assert asking not in {term.text for term in asked.terms}
    assert asked.answer_type is None


def test_the_word_after_what_is_the_kind_asked_for_whatever_the_tagger_files_it_as():
    # jieba files 作用 as a verb; after 什么 it is the noun the question asks for
    terms = {term.text: term for term in analyse("镇江的低碳云平台有什么作用？", _idf).terms}
    assert terms["作用"].kind
    assert not terms["平台"].kind


@pytest.mark.parametrize(
    ("question", "latin"),
    [
        ("MaxKB是什么？", "maxkb"),
        ("Transformer最早出自哪篇论文？", "transformer"),
        ("广东2024年GDP有多少？", "gdp"),
    ],
)
def test_a_latin_word_in_a_chinese_question_is_a_word_it_asks_about(question, latin):
    terms = {term.text: term for term in analyse(question, _idf).terms}
    assert latin in terms and not terms[latin].name
    # unless no chunk holds it: documents in Chinese say 地区生产总值 where the asker says GDP
    held = {t.text for t in analyse(question, _idf, indexed={latin}.__contains__).terms}
    assert latin in held
    assert latin not in {t.text for t in analyse(question, _idf, indexed=set().__contains__).terms}


def test_a_word_no_chunk_holds_weighs_nothing_unless_it_names_a_thing():
    indexed = {"镇江", "出租车"}.__contains__
    terms = {t.text for t in analyse("镇江打算哪年碳达峰啊", _idf, indexed=indexed).terms}
    assert "打算" not in terms and "啊" not in terms  # the asker's wording
    assert "碳达峰" in terms  # a thing named, which the documents may lack
    everything = {t.text for t in analyse("镇江打算哪年碳达峰啊", _idf).terms}
    assert {"打算", "碳达峰"} <= everything


def test_a_yes_no_question_is_answered_by_the_sentence_that_settles_it(seed_index):
    assistant = Assistant(index=seed_index, backend="extractive")
    answered = assistant.ask("深圳公交车是不是全部电动化了？")
    assert not answered.abstained
    assert "100%純電動化" in answered.answer
    # the same question of what the seeds never name is refused
    assert assistant.ask("深圳出租车是不是也都电动化了？").abstained


REPORT = (
    "臺灣經濟成長率\n"
    "2024年臺灣的經濟成長率是多少？\n"
    "主計總處公布，去年全年成長4.3%，為近三年最高。\n"
    "出口方面，人工智慧伺服器的需求帶動資通訊產品出口大幅成長。\n"
)


def _assistant_over(folder, embedder, name: str, text: str) -> Assistant:
    """An extractive assistant over an index of one document made here."""
    index_documents(
        folder, [Document(name, name, text, f"/{name}.txt", str(len(text)))], embedder=embedder
    )
    return Assistant(index=folder, backend="extractive")


def test_neither_a_question_the_document_asks_nor_its_heading_is_the_answer(tmp_path, embedder):
    answered = _assistant_over(tmp_path, embedder, "report", REPORT).ask(
        "2024年臺灣經濟成長率是多少？"
    )
    assert "4.3%" in answered.answer
    assert "是多少" not in answered.answer
    assert not answered.answer.startswith("臺灣經濟成長率")


def test_a_line_of_its_own_that_ends_as_a_sentence_does_is_a_statement_in_either_language():
    from qa.answering.extractive import _role

    # a line that its comma shows a sentence goes on after: a sentence cut at the line's end
    for line in (
        "The plant makes solar glass.",
        "工厂生产光伏玻璃。",
        "Transformer早在2017年就已经大放异彩，",
    ):
        document = f"Results\n{line}\n"
        start = document.index(line)
        assert _role(document, start, start + len(line), 60) == "statement"
        assert _role(document, 0, len("Results"), 60) == "heading"


def test_a_short_line_heads_what_follows_unless_it_is_one_of_a_run_of_them():
    from qa.answering.extractive import _role

    chapter = "第二回 张翼德怒鞭督邮\n却说董卓字仲颖，陇西临洮人也。\n"
    assert _role(chapter, 0, chapter.index("\n"), 60) == "heading"
    # an advertisement's lines, like a cover page's or a song's, are what it says
    advert = "大桶装更划算\n-40°C深度防冻不结冰\n强力去污符合国标\n"
    line = "-40°C深度防冻不结冰"
    start = advert.index(line)
    assert _role(advert, start, start + len(line), 60) == "statement"


@pytest.mark.parametrize(
    ("question", "sentence", "span"),
    [
        ("深圳国际低碳城论坛今年是第几届？", "本届是第八届深圳国际低碳城论坛。", "八届"),
        ("工会经费审查委员会有几个人？", "经费审查委员会由3—7人组成。", "7人"),
        ("镇江建了几个农业园区？", "镇江建成了三个农业园区。", "三个"),
    ],
)
def test_a_count_is_found_in_chinese_numerals_and_in_the_measure_word_after_ge(
    question, sentence, span
):
    from qa.answering.extractive import answer_span

    assert answer_span(analyse(question, _idf), sentence) == span


FLEET = (
    "深圳新能源汽车推广\n"
    "深圳大力推广新能源汽车，新能源汽车每年的载客人次持续增长。\n"
    "截至去年底，深圳共有纯电动公交车1.6万辆。\n"
)


def test_a_number_no_passage_holds_is_refused_however_well_its_words_match(tmp_path, embedder):
    assistant = _assistant_over(tmp_path, embedder, "fleet", FLEET)
    assert "1.6万辆" in assistant.ask("深圳有多少辆纯电动公交车？").answer
    # every word matches the second line, which gives no count of passengers
    assert assistant.ask("深圳新能源汽车每年载客多少人次？").abstained
