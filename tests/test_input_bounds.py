"""Issue 35's bounds: every input qa takes has a named bound (passages asked for, bytes
unpacked, rows, pages, characters per file), and going past it is one line naming the bound."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from embeddings.loading import load_documents
from qa.api import Assistant, answer
from qa.settings import MAX_K

QUESTION = "镇江提出哪一年实现碳峰值？"


def _qa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("command", ["ask", "chat", "eval"])
def test_k_past_its_bound_is_one_error_line_naming_it(tmp_path, command):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("镇江提出2020年实现碳峰值。", encoding="utf-8")
    (tmp_path / "q.jsonl").write_text(
        json.dumps({"id": "1", "question": QUESTION, "answers": ["2020"], "doc_id": "a"}) + "\n",
        encoding="utf-8",
    )
    given = {
        "ask": ["ask", QUESTION],
        "chat": ["chat"],
        "eval": [
            "eval",
            "--docs",
            str(tmp_path / "docs"),
            "--questions",
            str(tmp_path / "q.jsonl"),
        ],
    }[command]
    result = _qa(*given, "-k", "100000", "--index", str(tmp_path / "ix"))
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"error: k = 100000 asks for more passages than qa reads for one question: at most {MAX_K}"
    ]
    assert not (tmp_path / "ix").exists()  # refused before anything was opened or built


def test_the_library_refuses_k_past_its_bound_with_a_value_error(tmp_path):
    from qa.evaluation import evaluate, load_eval_inputs

    with pytest.raises(ValueError, match=f"at most {MAX_K}"):
        answer(QUESTION, k=MAX_K + 1, index=tmp_path / "ix")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("镇江提出2020年实现碳峰值。", encoding="utf-8")
    (tmp_path / "q.jsonl").write_text(
        json.dumps({"id": "1", "question": QUESTION, "answers": ["2020"], "doc_id": "a"}) + "\n",
        encoding="utf-8",
    )
    inputs = load_eval_inputs(tmp_path / "docs", tmp_path / "q.jsonl")
    with pytest.raises(ValueError, match=f"at most {MAX_K}"):
        evaluate(inputs, k=MAX_K + 1, index=tmp_path / "eval-ix")
    assert not (tmp_path / "ix").exists() and not (tmp_path / "eval-ix").exists()


@pytest.fixture(scope="module")
def assistant(seed_index) -> Assistant:
    return Assistant(index=seed_index, backend="extractive")


def test_an_assistant_refuses_k_past_its_bound(assistant):
    with pytest.raises(ValueError, match=f"at most {MAX_K}"):
        assistant.ask(QUESTION, MAX_K + 1)


def _peak_bytes(assistant: Assistant, k: int) -> int:
    tracemalloc.start()
    try:
        assistant.ask(QUESTION, k)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_memory_an_answer_takes_does_not_grow_with_k(assistant):
    """Every passage of the seeds (47) against 5 of them: the passages' own text grows, not a
    copy of their document for each one, as it did."""
    assistant.ask(QUESTION, MAX_K)  # what is loaded once, on first use, is not the answer's
    few, most = _peak_bytes(assistant, 5), _peak_bytes(assistant, MAX_K)
    assert most - few < 128 * 1024, (few, most)


def _understated_docx(path: Path, unpacked: int, declared: int) -> None:
    """A .docx whose first part inflates to `unpacked` bytes while its local and central
    headers say it holds `declared`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("[Content_Types].xml", "w") as member:
            spaces = b" " * (1 << 20)
            for _ in range(unpacked >> 20):
                member.write(spaces)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 22, declared)  # the local header's uncompressed size
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)  # the central directory's
    path.write_bytes(data)


def test_a_zip_that_understates_its_size_is_skipped_at_the_bound_unpacked(tmp_path):
    _understated_docx(tmp_path / "bomb.docx", unpacked=128 << 20, declared=1000)
    assert (tmp_path / "bomb.docx").stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        loaded = load_documents([tmp_path])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [(path, why)] = loaded.skipped
    assert path == str(tmp_path / "bomb.docx")
    assert why.startswith("refused: unpacks to more than 64 MB from 0.1 MB"), why
    assert "zip bomb" in why
    assert peak < 16 << 20, peak  # read a piece at a time, never whole
