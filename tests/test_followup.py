import pytest

from qa.api import Assistant
from qa.chat import ChatSession
from qa.followup import carry_subject, refers_back


@pytest.mark.parametrize(
    "question",
    [
        "那深圳呢？",
        "深圳呢",
        "那么武汉呢?",
        "他还说了什么？",
        "这个平台是谁建的？",
        "What about Shenzhen?",
        "And Beijing?",
        "What did he say there?",
    ],
)
def test_follow_ups_that_refer_back_are_spotted(question):
    assert refers_back(question)


@pytest.mark.parametrize(
    "question",
    ["深圳的公交机动化分担率是多少？", "镇江提出哪一年实现碳峰值？", "Where was the summit held?"],
)
def test_standalone_questions_are_left_alone(question):
    assert not refers_back(question)


def test_the_subject_of_the_last_question_is_carried_over():
    assert carry_subject("镇江提出哪一年实现碳峰值？", "那深圳呢？") == "深圳提出哪一年实现碳峰值？"
    assert carry_subject("朱晓明率团赴哪个城市参加联合国气候变化大会？", "他还说了什么？") == (
        "朱晓明还说了什么？"
    )
    assert carry_subject("When did Zhenjiang plan to peak emissions?", "What about Shenzhen?") == (
        "When did Shenzhen plan to peak emissions?"
    )


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
