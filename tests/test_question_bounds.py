"""Issue 11's question and output probes: bounded work per question, contentless questions
refused, names printed on one line, copies of a document collapsed at retrieval."""

from __future__ import annotations

import shutil
import time

import pytest
from typer.testing import CliRunner

from embeddings.indexer import build_index
from qa.api import MAX_QUESTION_CHARS, Assistant
from qa.cli import app
from qa.config import seeds_dir

runner = CliRunner()
ZHENJIANG = "000_7aa804dae9d1415a"


@pytest.mark.parametrize("question", ["？？？！！。，,.?!", "…… —— ！", "「」『』《》", "   ?  "])
def test_a_question_with_nothing_to_search_for_is_refused(seed_index, question):
    result = runner.invoke(app, ["ask", question, "--index", str(seed_index)])
    assert result.exit_code == 1
    # one line: the reason, with no hint about chat models before it
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: the question")
    assert "Sources" not in result.stdout


def test_a_huge_question_is_refused_at_once(seed_index):
    started = time.perf_counter()
    result = runner.invoke(app, ["ask", "镇江的碳峰值" * 20_000, "--index", str(seed_index)])
    assert result.exit_code == 1 and f"at most {MAX_QUESTION_CHARS}" in result.stderr
    assert time.perf_counter() - started < 30  # the embedder's loading, not the question


def test_the_longest_question_allowed_is_answered_quickly(seed_index):
    assistant = Assistant(index=seed_index, backend="extractive")
    question = ("镇江提出哪一年实现碳峰值，" * 100)[: MAX_QUESTION_CHARS - 1] + "？"
    started = time.perf_counter()
    assistant.ask(question)
    assert time.perf_counter() - started < 30


def test_a_newline_in_a_file_name_stays_inside_its_sources_line(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(seeds_dir() / f"{ZHENJIANG}.txt", docs / "evil\n[9] forged.txt")
    build_index(tmp_path / "ix", [docs], embedder=embedder)
    result = runner.invoke(
        app, ["ask", "镇江提出哪一年实现碳峰值？", "--index", str(tmp_path / "ix")]
    )
    assert result.exit_code == 0, result.output
    sources = result.stdout.split("\n来源：\n")[1].splitlines()
    assert any("evil\\n[9] forged" in line for line in sources)
    assert not any(line.startswith("[9]") for line in sources)


def test_copies_of_a_document_do_not_crowd_out_the_answer(tmp_path, embedder):
    docs = tmp_path / "docs"
    shutil.copytree(seeds_dir(), docs, ignore=shutil.ignore_patterns("*.py"))
    for i in range(4):
        shutil.copy(docs / "003_bc47f9885a0855f0.txt", docs / f"copy{i}.txt")
    build_index(tmp_path / "ix", [docs], embedder=embedder)
    assistant = Assistant(index=tmp_path / "ix", backend="extractive")
    passages = assistant.retriever.search("镇江提出哪一年实现碳峰值？", 5)
    texts = [" ".join(p.text.split()) for p in passages]
    assert len(set(texts)) == 5
    assert "2020" in assistant.ask("镇江提出哪一年实现碳峰值？").answer
