import json
from pathlib import Path

import pytest

from qa.api import Assistant
from qa.chat import ChatSession
from qa.followup import carry_subject, refers_back

CMRC_QUESTIONS = Path(__file__).parent.parent / "bench" / "data" / "cmrc_dev_questions.jsonl"
ZHENJIANG = "000_7aa804dae9d1415a"  # seeds/: Zhu Xiaoming, mayor of Zhenjiang, in Paris
SHENZHEN = "003_bc47f9885a0855f0"  # seeds/: Wu You at the Shenzhen forum press conference


@pytest.mark.parametrize(
    "question",
    [
        # ellipsis
        "那深圳呢？",
        "深圳呢",
        "那么武汉呢?",
        "那九龙巴士32M线呢？",
        "如果是深圳呢？",
        "那深圳的呢？",
        "What about Shenzhen?",
        "And Beijing?",
        "how about Yu Le?",
        # a pronoun, also inside a word jieba keeps whole (这座, 该线, 那里)
        "他还说了什么？",
        "这个平台是谁建的？",
        "它是哪一年建成的？",
        "该线一期工程总长多少？",
        "这座车站有几个出入口？",
        "2007年那里发生了什么事故？",
        "他们的人口有多少？",
        "他为什么离开呢？",
        "它的綠色建築面積呢？",
        "What did he say there?",
        "When was it founded?",
        "What was his position?",
        # no subject at all
        "哪一年建成启用的？",
        "有几个出入口？",
        "为什么？",
        "Why?",
    ],
)
def test_follow_ups_that_refer_back_are_spotted(question):
    assert refers_back(question)


@pytest.mark.parametrize(
    "question",
    [
        "深圳的公交机动化分担率是多少？",
        "镇江提出哪一年实现碳峰值？",
        "鎮江提出哪一年實現碳峰值？",
        "Where was the summit held?",
        # 其/该/此/他 inside ordinary words
        "深圳还有其他哪些低碳措施？",
        "镇江应该如何建设低碳城市？",
        "因此镇江提出了什么目标？",
        # a pronoun or demonstrative that points inside the question itself
        "王天成指控谁抄袭了他的文章？",
        "1973年，胜任力这个词为什么受到了广泛关注？",
        "Why was Wang Shen raised by his uncle?",
        # there / that / this that point nowhere
        "Are there any parks in Shenzhen?",
        "What is the name of the river that flows through Paris?",
        "What happened this year in Shenzhen?",
        # short, but naming their subject
        "操场的定义是什么？",
        "什么是碳中和？",
        "《瞄》是谁主编的？",
    ],
)
def test_standalone_questions_are_left_alone(question):
    assert not refers_back(question)


def test_the_trigger_rarely_fires_on_standalone_questions():
    """The CMRC dev questions were written to stand alone (a few lean on their paragraph:
    「这次选举被视为……」, 「该动画在哪个频道放送？」): the trigger may fire on those, not on others."""
    questions = [json.loads(line)["question"] for line in CMRC_QUESTIONS.open(encoding="utf-8")]
    fired = [q for q in questions if refers_back(q)]
    assert len(fired) <= len(questions) // 50, fired
    assert "该动画在哪个频道放送？" in fired


def test_the_subject_of_the_last_question_is_carried_over():
    assert carry_subject("镇江提出哪一年实现碳峰值？", "那深圳呢？") == "深圳提出哪一年实现碳峰值？"
    assert carry_subject("朱晓明率团赴哪个城市参加联合国气候变化大会？", "他还说了什么？") == (
        "朱晓明还说了什么？"
    )
    assert carry_subject("When did Zhenjiang plan to peak emissions?", "What about Shenzhen?") == (
        "When did Shenzhen plan to peak emissions?"
    )


@pytest.mark.parametrize(
    "previous, follow_up, titles, standalone",
    [
        # the subject is the title of a document retrieved for the last question, when named
        ("底特律圣保罗座堂位于哪里？", "它是哪一年始建的？", ["底特律圣保罗座堂"], "底特律圣保罗座堂是哪一年始建的？"),
        ("额肌的主要功能是什么？", "那颈阔肌呢？", ["额肌", "颈阔肌"], "颈阔肌的主要功能是什么？"),
        # else the noun phrase the question opens with, or its first name
        ("上海轨道交通18号线的编号是什么？", "该线一期工程总长多少？", [], "上海轨道交通18号线一期工程总长多少？"),
        ("北土城站位于北京哪个区？", "这座车站有几个出入口？", [], "北土城站车站有几个出入口？"),
        ("吴优是深圳市政府的什么职务？", "他还说了什么？", [], "吴优还说了什么？"),
        ("交银金融大厦的建筑师是谁？", "哪一年建成启用的？", [], "交银金融大厦哪一年建成启用的？"),
        ("赵鹏是哪里人？", "他为什么离开呢？", [], "赵鹏为什么离开呢？"),
        ("深圳公交機動化分擔率是多少？", "它的綠色建築面積呢？", [], "深圳的绿色建筑面积呢？"),
        ("Which team drafted Ralph Sampson in 1983?", "What was his position?", [], "What was Ralph Sampson's position?"),
        ("What is Zhang Shichang's profession?", "What about Yu Le?", [], "What is Yu Le's profession?"),
        ("Where is the Cathedral Church of St. Paul?", "When was it built?", [], "When was Cathedral Church of St. Paul built?"),
    ],
)  # fmt: skip
def test_the_model_free_rewrite(previous, follow_up, titles, standalone):
    assert carry_subject(previous, follow_up, titles) == standalone


def test_a_chat_follow_up_retrieves_with_the_rewritten_question(seed_index):
    session = ChatSession(Assistant(index=seed_index, backend="extractive"))
    first = session.ask("镇江提出哪一年实现碳峰值？")
    assert first.standalone_question is None
    second = session.ask("那深圳呢？")
    assert second.standalone_question == "深圳提出哪一年实现碳峰值？"
    assert second.question == "那深圳呢？"
    assert session.history[-1][0] == "深圳提出哪一年实现碳峰值？"
    session.reset()
    assert session.ask("那深圳呢？").standalone_question is None


def test_a_rewritten_follow_up_retrieves_with_the_rewrite_and_the_users_words(seed_index):
    """「那朱晓明呢？」 after a question about Wu You's post in Shenzhen's government: the rewrite keeps
    「深圳市政府」 and leans to the Shenzhen document, the user's words name Zhu Xiaoming of the
    Zhenjiang one. The chat retrieves with both, and passages from both documents come back."""
    session = ChatSession(Assistant(index=seed_index, backend="extractive"))
    session.ask("吴优是深圳市政府的什么职务？")
    answer = session.ask("那朱晓明呢？")
    assert answer.standalone_question == "朱晓明是深圳市政府的什么职务？"
    retriever = session.assistant.retriever
    rewrite_only = retriever.search(answer.standalone_question, session.k)
    own_words_only = retriever.search("那朱晓明呢？", session.k)
    assert own_words_only[0].doc_id == ZHENJIANG
    got = [(p.doc_id, p.start) for p in answer.passages]
    assert (own_words_only[0].doc_id, own_words_only[0].start) in got
    assert (rewrite_only[0].doc_id, rewrite_only[0].start) in got
    assert {p.doc_id for p in answer.passages} == {ZHENJIANG, SHENZHEN}
    assert [p.n for p in answer.passages] == list(range(1, session.k + 1))
    # each passage at the better of its two fused scores, best first
    best = {(p.doc_id, p.start): p.score for p in rewrite_only + own_words_only}
    for passage in answer.passages:
        assert passage.score >= best.get((passage.doc_id, passage.start), passage.score) - 1e-9
    assert [p.score for p in answer.passages] == sorted(
        (p.score for p in answer.passages), reverse=True
    )


def test_a_standalone_follow_up_is_retrieved_as_asked(seed_index):
    session = ChatSession(Assistant(index=seed_index, backend="extractive"))
    session.ask("镇江提出哪一年实现碳峰值？")
    answer = session.ask("深圳碳排放市场配额累计总成交额是多少？")
    assert answer.standalone_question is None
    assert answer.passages[0].doc_id == SHENZHEN
    expected = session.assistant.retriever.search(answer.question, session.k)
    assert [(p.doc_id, p.start) for p in answer.passages] == [(p.doc_id, p.start) for p in expected]
