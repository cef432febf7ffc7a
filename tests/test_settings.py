"""One Settings: flags over the environment over the defaults, each value's source remembered."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from embeddings.errors import QAError
from qa.cli import app
from qa.settings import DEFAULT_MODEL, DEFAULT_TIMEOUT_S, Settings, described


def test_flags_win_over_the_environment_which_wins_over_the_defaults():
    environ = {"QA_MODEL": "env-model", "QA_TIMEOUT": "7.5", "QA_INDEX": "/env/index"}
    settings = Settings.load(environ, model="flag-model", threads=2)
    assert settings.model == "flag-model" and settings.source("model") == "flag"
    assert settings.threads == 2 and settings.source("threads") == "flag"
    assert settings.timeout == 7.5 and settings.source("timeout") == "environment"
    assert settings.index == Path("/env/index") and settings.source("index") == "environment"
    assert settings.kb == "default" and settings.source("kb") == "default"
    assert (
        Settings.load({}).model == DEFAULT_MODEL and Settings.load({}).timeout == DEFAULT_TIMEOUT_S
    )
    # a flag not given (None) leaves the environment's value
    assert Settings.load(environ, model=None).source("model") == "environment"


def test_the_store_defaults_to_the_index_folder():
    settings = Settings.load({"QA_INDEX": "/some/index"})
    assert settings.store_location == Path("/some/index")
    url = "postgresql://qa@localhost/qa"
    assert Settings.load({"QA_INDEX": "/x", "QA_STORE": url}).store_location == url


def test_every_setting_is_described_and_a_bad_number_is_one_clear_error():
    assert all(f.metadata["help"] for f in described())
    with pytest.raises(QAError, match="QA_TIMEOUT is 'soon', not a positive number"):
        Settings.load({"QA_TIMEOUT": "soon"})
    with pytest.raises(TypeError):
        Settings.load({}, no_such_setting=1)


def test_qa_config_prints_each_value_and_source_with_the_key_masked(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-verysecretkey123")
    monkeypatch.setenv("QA_MODEL", "qwen2.5")
    result = CliRunner().invoke(app, ["config", "--index", str(tmp_path / "ix")])
    assert result.exit_code == 0, result.output
    assert "sk-verysecretkey123" not in result.output
    assert "api_key = ***  [environment ($OPENAI_API_KEY)]" in result.output
    assert "model = qwen2.5  [environment ($QA_MODEL)]" in result.output
    assert f"index = {tmp_path / 'ix'}  [flag ($QA_INDEX)]" in result.output
    assert "reranker = -  [default ($QA_RERANKER)]" in result.output


def test_qa_config_reports_a_bad_value_on_one_line(monkeypatch):
    monkeypatch.setenv("QA_THREADS", "many")
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: QA_THREADS is 'many', not a positive number"
