"""Issue 35's second probe of the index files: bytes garbled in place, each file's size and shape
kept. `qa index --check` names the file in one line, a plain `qa index` repairs it from what is
left, and `qa ask` never shows a traceback, a numpy warning or a NaN."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pytest
from typer.testing import CliRunner

from embeddings.errors import QAError
from embeddings.indexer import build_index
from embeddings.store.local import VECTOR_CACHE, IndexStore
from qa.cli import app
from qa.config import seeds_dir
from qa.records import Answer, Passage

runner = CliRunner()
ZHENJIANG = "000_7aa804dae9d1415a"
QUESTION = "镇江提出哪一年实现碳峰值？"
ENGLISH = "When does Zhenjiang plan to reach its carbon peak?"
UNREADABLE = "\ufffd"  # what bytes that are not UTF-8 become when printed


@pytest.fixture(scope="module")
def small_index(tmp_path_factory, embedder) -> Path:
    """One seed document indexed once; tests garble copies of it."""
    base = tmp_path_factory.mktemp("integrity")
    docs = base / "docs"
    docs.mkdir()
    shutil.copy(seeds_dir() / f"{ZHENJIANG}.txt", docs)
    build_index(base / "ix", [docs], embedder=embedder)
    return base / "ix"


def _live(root: Path) -> Path:
    generation = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["generation"]
    return root / f"gen-{generation:06d}"


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    """Bytes written over the file's own, its size unchanged: a bad sector or a stray write."""
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def _qa(*args: str) -> subprocess.CompletedProcess:
    """`qa` as the user runs it, in its own process: what reaches its stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, timeout=300
    )


def _error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert lines, "nothing on stderr"
    return lines[-1]


def _shifted_start(generation: Path, token: str, by: int) -> None:
    """The end of `token`'s postings in bm25/starts.npy moved by `by`."""
    folder = generation / "bm25"
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    starts = np.load(folder / "starts.npy", mmap_mode="r")
    end = vocab[token] + 1
    value = starts.dtype.type(int(starts[end]) + by)
    _overwrite(folder / "starts.npy", starts.offset + end * starts.itemsize, value.tobytes())


def _answering_position(generation: Path) -> int:
    db = sqlite3.connect(generation / "chunks.sqlite")
    (position,) = db.execute("SELECT pos FROM chunks WHERE text LIKE '%2020年%'").fetchone()
    db.close()
    return int(position)


def _vector_replaced(generation: Path, name: str, position: int, values: np.ndarray) -> None:
    """The vector at `position` of a FAISS flat index overwritten in place."""
    path = generation / name
    index = faiss.read_index(str(path))
    vectors_start = path.stat().st_size - 4 * index.d * index.ntotal
    vector = np.broadcast_to(np.asarray(values, dtype=np.float32), (index.d,))
    _overwrite(path, vectors_start + 4 * index.d * position, vector.tobytes())


def _component_nudged(path: Path) -> None:
    """The first component of a FAISS flat index's first vector made 0.1 % larger: its length
    stays 1 to within a millionth, so only the file's checksum can tell."""
    index = faiss.read_index(str(path))
    vectors_start = path.stat().st_size - 4 * index.d * index.ntotal
    _overwrite(path, vectors_start, np.float32(index.reconstruct(0)[0] * 1.001).tobytes())


def _text_garbled(generation: Path, text: str, garbage: bytes) -> int:
    """Every stored copy of `text` in chunks.sqlite (chunk rows and the document's row)
    overwritten with `garbage`; how many there were."""
    path = generation / "chunks.sqlite"
    data = path.read_bytes()
    needle = text.encode("utf-8")
    found = 0
    at = data.find(needle)
    while at >= 0:
        _overwrite(path, at, garbage[: len(needle)])
        found += 1
        at = data.find(needle, at + 1)
    return found


def _strict_json(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    parsed: dict = json.loads(text, parse_constant=refuse)
    return parsed


# 3. bm25/starts.npy


def test_a_garbled_bm25_starts_is_named_then_rebuilt_from_the_stored_tokens(index_copy):
    _shifted_start(_live(index_copy), "镇江", by=-1000)  # 镇江's postings end before they begin
    asked = runner.invoke(app, ["ask", QUESTION, "--index", str(index_copy)])
    assert asked.exit_code == 1
    error = _error_line(asked.stderr)
    assert error.startswith("error: ") and "bm25/starts.npy" in error and "qa index" in error
    checked = runner.invoke(app, ["index", "--check", "--index", str(index_copy)])
    assert checked.exit_code == 1 and "bm25/starts.npy" in checked.stderr
    repaired = runner.invoke(app, ["index", "--index", str(index_copy)])
    assert repaired.exit_code == 0, repaired.output
    assert "repaired: " in repaired.stderr and "bm25/starts.npy" in repaired.stderr
    assert "(0 embedded, 1 unchanged" in repaired.stdout  # BM25 came from the stored tokens
    assert runner.invoke(app, ["index", "--check", "--index", str(index_copy)]).exit_code == 0
    answer = runner.invoke(app, ["ask", QUESTION, "--json", "--index", str(index_copy)])
    assert "2020" in json.loads(answer.stdout)["answer"]


# Damage whose file still loads and looks plausible: only its checksum gives it away.
SUBTLE: dict[str, Callable[[Path], object]] = {
    "bm25/starts.npy": lambda gen: _shifted_start(gen, "碳", by=1),
    "bm25/weights.npy": lambda gen: _overwrite(
        gen / "bm25" / "weights.npy",
        int(np.load(gen / "bm25" / "weights.npy", mmap_mode="r").offset),
        np.float32(0.5).tobytes(),
    ),
    "bm25/vocab.json": lambda gen: (gen / "bm25" / "vocab.json").write_text(
        (gen / "bm25" / "vocab.json").read_text("utf-8").replace('"镇江": ', '"镇汀": '), "utf-8"
    ),
    "chunks.sqlite": lambda gen: _text_garbled(gen, "2020", b"2035"),
    "vectors.faiss": lambda gen: _component_nudged(gen / "vectors.faiss"),
}


@pytest.mark.parametrize("file", list(SUBTLE))
def test_check_names_a_file_whose_bytes_changed(index_copy, file):
    SUBTLE[file](_live(index_copy))
    checked = runner.invoke(app, ["index", "--check", "--index", str(index_copy)])
    assert checked.exit_code == 1
    errors = checked.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: ") and file in errors[0]


# Damage an index from before checksums still shows: found by each file's structure.
STRUCTURAL: dict[str, Callable[[Path], object]] = {
    "bm25/starts.npy": lambda gen: _shifted_start(gen, "镇江", by=-1000),
    "chunks.sqlite": lambda gen: _text_garbled(gen, "2020年", b"\xff" * 16),
    "vectors.faiss": lambda gen: _vector_replaced(gen, "vectors.faiss", 2, np.float32(np.nan)),
    "crosslingual.faiss": lambda gen: _vector_replaced(
        gen, "crosslingual.faiss", 2, np.float32(3e38)
    ),
}


@pytest.mark.parametrize("file", list(STRUCTURAL))
def test_an_index_without_checksums_is_checked_by_its_structure(index_copy, file):
    manifest = json.loads((index_copy / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("checksums", None)  # as qa wrote it before it recorded them
    (index_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert runner.invoke(app, ["index", "--check", "--index", str(index_copy)]).exit_code == 0
    STRUCTURAL[file](_live(index_copy))
    checked = runner.invoke(app, ["index", "--check", "--index", str(index_copy)])
    assert checked.exit_code == 1
    errors = checked.stderr.strip().splitlines()
    assert len(errors) == 1 and file in errors[0] and UNREADABLE not in errors[0]


# 4. chunks.sqlite


def test_garbled_text_in_chunks_sqlite_is_one_readable_line_then_rebuilt_from_the_files(
    index_copy,
):
    assert _text_garbled(_live(index_copy), "2020年", b"\xff" * 16) >= 2
    asked = runner.invoke(app, ["ask", QUESTION, "--index", str(index_copy)])
    assert asked.exit_code == 1
    error = _error_line(asked.stderr)
    assert error.startswith("error: ") and "chunks.sqlite" in error
    assert UNREADABLE not in asked.stderr and "not UTF-8" in error
    checked = runner.invoke(app, ["index", "--check", "--index", str(index_copy)])
    assert checked.exit_code == 1 and "chunks.sqlite" in checked.stderr
    assert UNREADABLE not in checked.stderr
    repaired = runner.invoke(app, ["index", "--index", str(index_copy)])
    assert repaired.exit_code == 0, repaired.output
    assert "repaired: " in repaired.stderr and UNREADABLE not in repaired.stderr
    assert "(0 embedded, 1 unchanged" in repaired.stdout  # the stored vectors were whole
    assert runner.invoke(app, ["index", "--check", "--index", str(index_copy)]).exit_code == 0
    answer = runner.invoke(app, ["ask", QUESTION, "--json", "--index", str(index_copy)])
    assert "2020" in json.loads(answer.stdout)["answer"]


def _brace_lost(path: Path) -> None:
    """The closing brace of a .npy file's header overwritten with a space."""
    _overwrite(path, path.read_bytes().index(b"}"), b" ")


def _schema_garbled(path: Path) -> None:
    """A byte of the name of an index in chunks.sqlite's schema made one that is not UTF-8."""
    _overwrite(path, path.read_bytes().index(b"sqlite_autoindex") + 5, b"\x80")


# Found by tests/test_fuzz.py: numpy parses a header with Python's tokenizer, which raises its
# own error, and SQLite's message about a garbled schema quotes bytes Python cannot decode.
GARBLED_HEADER = {"bm25/chunks.npy": _brace_lost, "chunks.sqlite": _schema_garbled}


@pytest.mark.parametrize("file", list(GARBLED_HEADER))
def test_a_garbled_header_or_schema_is_one_error_line_then_repaired(index_copy, file):
    GARBLED_HEADER[file](_live(index_copy) / file)
    asked = runner.invoke(app, ["ask", QUESTION, "--index", str(index_copy)])
    assert asked.exit_code == 1 and isinstance(asked.exception, SystemExit)  # no traceback
    error = _error_line(asked.stderr)
    assert error.startswith("error: ") and file in error and UNREADABLE not in error
    checked = runner.invoke(app, ["index", "--check", "--index", str(index_copy)])
    assert checked.exit_code == 1 and checked.stderr.count("\n") == 1 and file in checked.stderr
    repaired = runner.invoke(app, ["index", "--index", str(index_copy)])
    assert repaired.exit_code == 0, repaired.output
    assert "repaired: " in repaired.stderr and file in repaired.stderr
    assert runner.invoke(app, ["index", "--check", "--index", str(index_copy)]).exit_code == 0


# 5. vectors.faiss and crosslingual.faiss

GARBLED_VECTOR = {
    "vectors.faiss": (np.float32(np.nan), QUESTION),
    "crosslingual.faiss": (np.float32(3e38), ENGLISH),
}


@pytest.mark.parametrize("file", list(GARBLED_VECTOR))
def test_a_garbled_vector_never_reaches_an_answer_and_is_embedded_again(
    small_index, index_copy, file
):
    value, question = GARBLED_VECTOR[file]
    generation = _live(index_copy)
    _vector_replaced(generation, file, _answering_position(generation), value)
    asked = _qa("ask", question, "--json", "--explain", "--index", str(index_copy))
    assert asked.returncode == 1 and asked.stdout == ""
    assert asked.stderr.strip().splitlines() == [_error_line(asked.stderr)]
    assert file in asked.stderr and "qa index" in asked.stderr
    checked = runner.invoke(app, ["index", "--check", "--index", str(index_copy)])
    assert checked.exit_code == 1 and file in checked.stderr
    repaired = runner.invoke(app, ["index", "--index", str(index_copy)])
    assert repaired.exit_code == 0, repaired.output
    assert "repaired: " in repaired.stderr and file in repaired.stderr
    assert runner.invoke(app, ["index", "--check", "--index", str(index_copy)]).exit_code == 0
    answered = _qa("ask", question, "--json", "--explain", "--index", str(index_copy))
    assert answered.returncode == 0 and answered.stderr == ""
    before = _qa("ask", question, "--json", "--index", str(small_index))
    assert _strict_json(answered.stdout)["answer"] == _strict_json(before.stdout)["answer"]


def test_only_the_documents_whose_vectors_are_lost_are_embedded_again(tmp_path, embedder):
    from test_index import CountingEmbedder

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(seeds_dir() / f"{ZHENJIANG}.txt", docs)
    (docs / "short.txt").write_text(
        "深圳国际低碳城论坛在龙岗举办。\n\n杭州西湖位于浙江省杭州市西部。", encoding="utf-8"
    )
    root = tmp_path / "ix"
    build_index(root, [docs], embedder=embedder)
    documents = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["documents"]
    short = next(e for e in documents.values() if e["source"].endswith("short.txt"))
    _vector_replaced(_live(root), "vectors.faiss", short["first"], np.float32(np.nan))
    counting = CountingEmbedder(embedder)
    report = build_index(root, [docs], embedder=counting)
    assert report.repaired and counting.passages_embedded == short["count"]
    assert IndexStore.open(root).damage() == {}


def test_json_output_never_holds_a_nan():
    passage = Passage(1, ZHENJIANG, "title", "text", 0, 4, math.nan)
    answer = Answer("q", "a", [], [passage], "extractive", False)
    assert _strict_json(Answer("q", "a", [], [], "extractive", False).to_json())["answer"] == "a"
    with pytest.raises(QAError, match="not a number"):
        answer.to_json(explain=True)


# 6. .vector-cache.sqlite


@pytest.mark.parametrize("rebuild", [False, True], ids=["index", "rebuild"])
def test_a_damaged_vector_cache_is_set_aside_with_one_warning(index_copy, rebuild):
    garbage = os.urandom(4096)
    (index_copy / VECTOR_CACHE).write_bytes(garbage)
    checked = runner.invoke(app, ["index", "--check", "--index", str(index_copy)])
    assert checked.exit_code == 0 and checked.stdout.startswith("ok: ")
    assert VECTOR_CACHE in checked.stderr and checked.stderr.startswith("warning: ")
    indexed = runner.invoke(
        app, ["index", "--index", str(index_copy), *(["--rebuild"] if rebuild else [])]
    )
    assert indexed.exit_code == 0, indexed.output
    warnings = [line for line in indexed.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and VECTOR_CACHE in warnings[0], indexed.stderr
    set_aside = [p for p in index_copy.iterdir() if p.name.startswith(f"{VECTOR_CACHE}-damaged")]
    assert [p.read_bytes() for p in set_aside] == [garbage]
    assert set_aside[0].name in warnings[0]
    checked = runner.invoke(app, ["index", "--check", "--index", str(index_copy)])
    assert checked.exit_code == 0 and checked.stderr == ""
