"""Issue 11's chat-endpoint probes against the real OpenAI-protocol server on 127.0.0.1: every
fault is one clear line on stderr and exit 1, never a traceback, a blank answer or a key."""

from __future__ import annotations

import time

import pytest
from openai_server import ChatServer
from typer.testing import CliRunner

from qa.answering.chat_model import CUT_MARK
from qa.cli import app

runner = CliRunner()
QUESTION = "镇江提出哪一年实现碳峰值？"
REPLY = "镇江提出2020年实现碳峰值[1]。"


@pytest.fixture
def ask(seed_index, monkeypatch):
    def run(server: ChatServer, *flags: str, key: str = "test-key", timeout: str = "20"):
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", key)
        monkeypatch.setenv("QA_MODEL", "test-model")
        monkeypatch.setenv("QA_TIMEOUT", timeout)
        result = runner.invoke(app, ["ask", QUESTION, "--index", str(seed_index), *flags])
        # from the question reaching the server: the embedder's loading is no part of it
        return result, time.monotonic() - (server.first_request_at or time.monotonic())

    return run


def _one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize("streamed", [True, False])
@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("garbled", "not an OpenAI chat completion"),
        ("empty", ""),  # streamed: no events at all; whole: not JSON
        ("html", ""),
    ],
)
def test_an_unreadable_reply_is_one_line(ask, fault, said, streamed):
    if fault == "garbled" and not streamed:
        pytest.skip("the fault lives in the stream")
    # --show-unsupported streams the answer; the default asks for the whole one, then checks it
    flags = ("--show-unsupported",) if streamed else ()
    with ChatServer(lambda messages: REPLY, fault=fault) as server:
        result, _ = ask(server, *flags)
    error = _one_error_line(result)
    assert server.base_url in error
    assert said in error
    assert "2020" not in result.stdout


def test_an_empty_answer_is_a_failure_not_a_blank_answer(ask):
    with ChatServer(lambda messages: "") as server:
        result, _ = ask(server)
    assert "sent an empty answer" in _one_error_line(result)


def test_a_stream_cut_mid_answer_is_marked_as_cut(ask):
    with ChatServer(
        lambda messages: "镇江提出2020年实现碳峰值，并建立了云平台[1]。", fault="cut"
    ) as server:
        result, _ = ask(server, "--show-unsupported")
    error = _one_error_line(result)
    assert "broke off" in error and "cannot reach" not in error.split("broke off")[0]
    shown = result.stdout.strip()
    assert shown.startswith("镇江") and shown.endswith(CUT_MARK)
    assert "来源：" not in result.stdout


def test_qa_timeout_bounds_the_whole_answer_not_each_read(ask):
    # One piece every 0.8 s: each read is quick, the whole answer would take ~9 s.
    with ChatServer(lambda messages: REPLY, piece_chars=1, piece_delay_s=0.8) as server:
        result, seconds = ask(server, "--show-unsupported", timeout="2")
    assert "did not answer in time" in _one_error_line(result) or CUT_MARK in result.stdout
    assert seconds < 3


def test_a_hung_server_costs_the_timeout_once(ask):
    with ChatServer(lambda messages: REPLY, delay_s=30) as server:
        result, seconds = ask(server, timeout="1.5")
    assert "did not answer in time (QA_TIMEOUT: 1.5 s" in _one_error_line(result)
    assert seconds < 2.5 and len(server.requests) == 1  # no retry past the deadline


def test_a_busy_server_is_retried_once_and_the_retry_is_said(ask):
    with ChatServer(lambda messages: REPLY, status=503) as server:
        result, _ = ask(server)
    assert "answered HTTP 503" in _one_error_line(result)
    assert "asking once more" in result.stderr
    assert len(server.requests) == 2


@pytest.mark.parametrize("key", ["sk-test-SECRET123", "plain-secret-0042"])
def test_a_key_the_server_echoes_is_masked(ask, key):
    with ChatServer(lambda messages: REPLY, fault="echo_key") as server:
        result, _ = ask(server, key=key)
    error = _one_error_line(result)
    assert "HTTP 401" in error and "***" in error
    assert key not in result.output and "SECRET" not in result.output
