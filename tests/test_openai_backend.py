"""The chat-model backend against a real HTTP server on 127.0.0.1 speaking the OpenAI protocol."""

import socket
import time

import pytest
from openai_server import ChatServer

from embeddings.cleaning import to_simplified
from embeddings.errors import QAError
from qa.api import Assistant

QUESTION = "镇江提出哪一年实现碳峰值？"


def _cites(reply_text):
    return lambda messages: reply_text


@pytest.fixture
def chat_env(monkeypatch):
    def point_at(server: ChatServer):
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("QA_MODEL", "test-model")

    return point_at


def test_non_streamed_answer_keeps_valid_citations_and_drops_invented_ones(seed_index, chat_env):
    reply = "镇江提出2020年实现碳峰值[1]。这一目标在巴黎得到称赞【2】。另有说法[7]。"
    with ChatServer(_cites(reply)) as server:
        chat_env(server)
        # as written: the support check would take out the sentences no passage backs
        assistant = Assistant(index=seed_index, show_unsupported=True)
        assert assistant.backend_name == "openai"  # chosen because an endpoint is configured
        answer = assistant.ask(QUESTION, k=5)
    assert answer.answer == "镇江提出2020年实现碳峰值[1]。这一目标在巴黎得到称赞[2]。另有说法。"
    assert answer.invented_citations == [7]
    assert [c.n for c in answer.citations] == [1, 2]
    assert not answer.abstained
    request = server.requests[0]
    assert request["model"] == "test-model" and not request.get("stream")
    system, user = request["messages"]
    assert "资料中没有相关信息。" in system["content"]
    assert QUESTION in user["content"]
    for passage in answer.passages:  # every passage went to the model under its number,
        # in simplified characters (the seeds are traditional), its text on one line
        text = to_simplified(passage.text).replace("\n", " ")
        shown = f"[{passage.n}] 《{to_simplified(passage.title)}》\n{text}"
        assert shown in user["content"]
    assert any("鎮江" in p.text for p in answer.passages)
    assert "鎮江" not in user["content"] and "镇江" in user["content"]
    assert len(answer.passages) == 5


def test_streamed_answer_shows_exactly_the_checked_text(seed_index, chat_env):
    reply = "镇江提出2020年实现碳峰值[1,7]。其他城市也有目标[9]。"
    with ChatServer(_cites(reply), piece_chars=2) as server:
        chat_env(server)
        pieces = []
        answer = Assistant(index=seed_index, show_unsupported=True).ask(
            QUESTION, k=5, on_token=pieces.append
        )
    assert server.requests[0]["stream"] is True
    assert len(pieces) > 5
    assert "".join(pieces) == answer.answer == "镇江提出2020年实现碳峰值[1]。其他城市也有目标。"
    assert answer.invented_citations == [7, 9]
    citation = answer.citations[0]
    assert citation.n == 1 and citation.doc_id == answer.passages[0].doc_id


def test_the_fixed_refusal_is_recognised_as_abstaining(seed_index, chat_env):
    with ChatServer(_cites("资料中没有相关信息。")) as server:
        chat_env(server)
        answer = Assistant(index=seed_index).ask("北京的碳排放配额成交量是多少？")
    assert answer.abstained and answer.citations == []


def test_english_questions_get_the_english_prompt(seed_index, chat_env):
    with ChatServer(_cites("The documents do not say.")) as server:
        chat_env(server)
        answer = Assistant(index=seed_index).ask("What is the GDP of Mars?")
    assert answer.abstained
    system = server.requests[0]["messages"][0]["content"]
    assert "The documents do not say." in system


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_endpoint_that_is_down_is_one_clear_error(seed_index, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{_free_port()}/v1")
    assistant = Assistant(index=seed_index)
    with pytest.raises(QAError, match=r"cannot reach the chat model at http://127\.0\.0\.1"):
        assistant.ask(QUESTION)


def test_an_endpoint_that_does_not_answer_in_time_is_one_clear_error(
    seed_index, chat_env, monkeypatch
):
    with ChatServer(_cites("太慢了[1]。"), delay_s=30) as server:
        chat_env(server)
        monkeypatch.setenv("QA_TIMEOUT", "0.5")
        assistant = Assistant(index=seed_index)
        started = time.perf_counter()
        with pytest.raises(QAError, match="did not answer in time"):
            assistant.ask(QUESTION)
    assert time.perf_counter() - started < 20  # gave up long before the server's 30 s


def test_an_http_error_from_the_endpoint_is_reported_with_its_status(seed_index, chat_env):
    with ChatServer(_cites(""), status=400) as server:
        chat_env(server)
        with pytest.raises(QAError, match="answered HTTP 400.*model overloaded"):
            Assistant(index=seed_index).ask(QUESTION)
