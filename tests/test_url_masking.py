"""Issue 35: a credential inside a URL qa was given (OPENAI_BASE_URL, --store, QA_STORE) is never
shown: every URL qa prints, in an error line, by `qa config` or next to --json, goes through one
masking function."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from openai_server import ChatServer
from typer.testing import CliRunner

from embeddings.errors import QAError
from embeddings.urls import masked_url
from qa.cli import app

QUESTION = "镇江提出哪一年实现碳峰值？"
SECRETS = ("hunter2", "hunter3", "hunter4")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://alice:hunter2@chat.example/v1", "https://alice:***@chat.example/v1"),
        ("https://chat.example/v1?api-key=hunter2", "https://chat.example/v1?api-key=***"),
        ("https://chat.example/v1?key=hunter2&mode=x", "https://chat.example/v1?key=***&mode=x"),
        ("https://chat.example/v1?a=1&token=hunter2", "https://chat.example/v1?a=1&token=***"),
        (
            "https://chat.example/v1?access_token=hunter2",
            "https://chat.example/v1?access_token=***",
        ),
        ("https://chat.example/v1?sig=hunter2#top", "https://chat.example/v1?sig=***#top"),
        (
            "postgresql://qa:hunter2@db/qa?sslmode=require",
            "postgresql://qa:***@db/qa?sslmode=require",
        ),
        ("postgresql://db/qa?password=hunter2&x=1", "postgresql://db/qa?password=***&x=1"),
        ("postgresql://qa:hun@ter2@db:5433/qa", "postgresql://qa:***@db:5433/qa"),
    ],
)
def test_each_kind_of_credential_in_a_url_is_masked(url, shown):
    assert masked_url(url) == shown


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/v1", "postgresql://postgres:@/qa?host=/tmp", "postgresql://qa@db/qa"],
)
def test_a_url_without_credentials_is_shown_as_given(url):
    assert masked_url(url) == url


def test_a_url_inside_a_message_is_masked_and_the_message_kept():
    from qa.config import masked

    said = "cannot reach the chat model at https://a:hunter2@h/v1?key=hunter3: Connection error."
    assert (
        masked(said)
        == "cannot reach the chat model at https://a:***@h/v1?key=***: Connection error."
    )


def _environment(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "QA_"))}
    return env | changes


def test_qa_config_shows_no_credential_of_a_url(tmp_path):
    env = _environment(
        OPENAI_BASE_URL="https://alice:hunter2@chat.example/v1?api-key=hunter3",
        QA_STORE="postgresql://qa:hunter4@db/qa",
        QA_INDEX=str(tmp_path / "ix"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "qa", "config"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert not any(secret in result.stdout + result.stderr for secret in SECRETS)
    lines = result.stdout.splitlines()
    assert (
        "base_url = https://alice:***@chat.example/v1?api-key=***  [environment ($OPENAI_BASE_URL)]"
        in lines
    )
    assert "store = postgresql://qa:***@db/qa  [environment ($QA_STORE)]" in lines


def test_a_database_that_cannot_be_reached_is_named_without_its_password(tmp_path):
    pytest.importorskip("pg8000")
    result = subprocess.run(
        [sys.executable, "-m", "qa", "index", "--check"],
        capture_output=True,
        text=True,
        env=_environment(QA_STORE="postgresql://qa:hunter2@127.0.0.1:1/qa?connect_timeout=2"),
        timeout=120,
    )
    assert result.returncode == 1
    assert "hunter2" not in result.stdout + result.stderr
    assert "postgresql://qa:***@127.0.0.1:1/qa" in result.stderr


def _with_credentials(base_url: str) -> str:
    """The server's URL with a user, a password and a key in its query, as a proxy may ask."""
    return base_url.replace("http://", "http://alice:hunter2@") + "?api-key=hunter3"


@pytest.mark.integration
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_error_line_shows_no_credential_of_the_chat_url(seed_index, monkeypatch, as_json):
    with ChatServer(lambda messages: "") as server:  # an empty answer: an error naming the URL
        monkeypatch.setenv("OPENAI_BASE_URL", _with_credentials(server.base_url))
        flags = ["--json"] if as_json else []
        result = CliRunner().invoke(app, ["ask", QUESTION, "--index", str(seed_index), *flags])
    assert result.exit_code == 1
    assert not any(secret in result.output for secret in SECRETS)
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "alice:***@127.0.0.1" in error and "api-key=***" in error


@pytest.mark.integration
def test_the_library_names_an_unreachable_chat_url_without_its_credentials(seed_index):
    from qa.api import answer

    with ChatServer(lambda messages: "") as server:
        url = _with_credentials(server.base_url)
    # the server is gone: nothing listens there now
    with pytest.raises(QAError) as raised:
        answer(QUESTION, backend="openai", index=seed_index, settings=_settings(url))
    assert "cannot reach" in str(raised.value) or "did not answer" in str(raised.value)
    assert not any(secret in str(raised.value) for secret in SECRETS)
    assert "alice:***@127.0.0.1" in str(raised.value)


def _settings(base_url: str):
    from qa.settings import Settings

    return Settings.load({"OPENAI_BASE_URL": base_url, "QA_TIMEOUT": "5"})
