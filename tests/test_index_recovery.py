"""Recovering an index as a user would, with real `qa` processes on real folders: a damaged
manifest is repaired by `qa index` from the index's newest whole generation, the index remembers
the files and folders it was given, a stopped `qa index` is told from a running one, and a folder
of documents holding a Python package marker is indexed cleanly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embeddings.indexer import build_index
from embeddings.loading import find_files
from embeddings.store.local import MANIFEST, IndexStore
from qa.cli import app
from qa.config import seeds_dir

runner = CliRunner()
ZHENJIANG, SHENZHEN = "000_7aa804dae9d1415a", "003_bc47f9885a0855f0"
QUESTION = "镇江提出哪一年实现碳峰值？"


def _qa(*args: str, env: dict | None = None, cwd: Path | None = None) -> tuple[int, str, str]:
    """`qa` as the user runs it, in its own process: (exit status, stdout, stderr)."""
    run = subprocess.run(
        [sys.executable, "-m", "qa", *args],
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
        cwd=cwd,
        timeout=600,
    )
    return run.returncode, run.stdout, run.stderr


def _seed_folder(folder: Path, *names: str) -> Path:
    folder.mkdir()
    for name in names:
        shutil.copy(seeds_dir() / f"{name}.txt", folder)
    return folder


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def small_index(tmp_path_factory, embedder) -> Path:
    """One seed document indexed once; tests damage copies of it."""
    base = tmp_path_factory.mktemp("small")
    build_index(base / "ix", [_seed_folder(base / "docs", ZHENJIANG)], embedder=embedder)
    return base / "ix"


# 10. A damaged manifest is repaired by `qa index`, and the index knows its sources.

DAMAGED_MANIFEST = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[:200]),
    "garbage": lambda path: path.write_bytes(b"\x00\xffnot json at all"),
}


@pytest.mark.parametrize("damage", list(DAMAGED_MANIFEST))
def test_a_damaged_manifest_is_named_then_repaired_from_the_newest_generation(index_copy, damage):
    DAMAGED_MANIFEST[damage](index_copy / MANIFEST)
    generations = sorted(p.name for p in index_copy.glob("gen-*"))
    code, _, err = _qa("ask", QUESTION, "--index", str(index_copy))
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: "), err
    assert "manifest.json" in err and f"`qa index --index {index_copy}`" in err
    assert sorted(p.name for p in index_copy.glob("gen-*")) == generations  # a reader writes none
    code, out, err = _qa("index", "--index", str(index_copy))
    assert code == 0, err
    assert f"repaired: the index file {index_copy / MANIFEST} is damaged" in err
    assert "indexed 1 documents" in out and "(0 embedded, 1 unchanged" in out
    code, out, err = _qa("ask", QUESTION, "--json", "--index", str(index_copy))
    assert code == 0, err
    assert "2020" in json.loads(out)["answer"]


def test_qa_index_with_no_path_reads_again_the_folders_it_was_given(tmp_path, embedder):
    docs, root = _seed_folder(tmp_path / "docs", ZHENJIANG), tmp_path / "ix"
    build_index(root, [docs], embedder=embedder)
    shutil.copy(seeds_dir() / f"{SHENZHEN}.txt", docs)  # a new file in a folder it was given
    code, out, err = _qa("index", "--index", str(root))
    assert code == 0, err
    assert "indexed 2 documents" in out and "(1 embedded, 1 unchanged" in out
    (root / MANIFEST).write_text("{", encoding="utf-8")
    before = _tree(docs)
    code, out, err = _qa("index", "--rebuild", "--index", str(root))
    assert code == 0, err
    assert "indexed 2 documents" in out and "(2 embedded, 0 unchanged" in out
    store = IndexStore.open(root)
    assert set(store.manifest.documents) == {ZHENJIANG, SHENZHEN} and store.damage() == {}
    assert store.manifest.sources == [str(docs.resolve())]
    assert _tree(docs) == before


@pytest.mark.integration
def test_a_lost_manifest_of_an_index_without_copies_names_the_paths_to_rebuild(index_copy):
    """An index written before generations kept a copy of their manifest cannot be restored
    from them: the message says to rebuild it from the documents, naming --index."""
    for copy in index_copy.glob(f"gen-*/{MANIFEST}"):
        copy.unlink()
    (index_copy / MANIFEST).unlink()
    result = runner.invoke(app, ["index", "--index", str(index_copy)])
    assert result.exit_code == 1
    assert f"run `qa index --rebuild --index {index_copy} PATH...`" in result.stderr
    assert list(index_copy.glob("gen-*"))  # nothing deleted


def test_a_manifest_restored_from_its_copy_still_finds_a_changed_byte(index_copy):
    """A generation's copy of its manifest holds the checksums of the files beside it: restored,
    it finds a plausible weight changed in every generation's BM25 (only a checksum tells), and
    `qa index` rewrites that file from the stored tokens too."""
    live = json.loads((index_copy / MANIFEST).read_text(encoding="utf-8"))
    newest = index_copy / f"gen-{live['generation']:06d}"
    assert json.loads((newest / MANIFEST).read_text(encoding="utf-8")) == live
    assert "bm25/weights.npy" in live["checksums"] and MANIFEST not in live["checksums"]
    for weights in index_copy.glob("gen-*/bm25/weights.npy"):
        with weights.open("r+b") as handle:
            handle.seek(int(np.load(weights, mmap_mode="r").offset))
            handle.write(np.float32(0.5).tobytes())
    (index_copy / MANIFEST).write_bytes(b"\x00\xffnot json at all")
    result = runner.invoke(app, ["index", "--index", str(index_copy)])
    assert result.exit_code == 0, result.output
    repaired = [line for line in result.stderr.splitlines() if line.startswith("repaired: ")]
    assert len(repaired) == 2, result.stderr
    assert str(index_copy / MANIFEST) in repaired[0] and "bm25/weights.npy" in repaired[1]
    assert "(0 embedded, 1 unchanged" in result.stdout  # the newest generation, mended
    checked = runner.invoke(app, ["index", "--check", "--index", str(index_copy)])
    assert checked.exit_code == 0 and checked.stdout.startswith("ok: ")


# 11. A stopped `qa index` is told from a running one.


def _hold_lock(root: Path) -> subprocess.Popen:
    """Another process holding the index's writer lock, as a running `qa index` does, until its
    standard input closes."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from filelock import FileLock; lock = FileLock(sys.argv[1]); "
            "lock.acquire(); print('held', flush=True); sys.stdin.read()",
            str(root / ".lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_stopped_qa_index_is_told_from_a_running_one(tmp_path, embedder):
    from test_index import CountingEmbedder

    docs, root = _seed_folder(tmp_path / "docs", ZHENJIANG), tmp_path / "ix"
    # stopped while embedding its first batch: its words-first generation is live, no writer runs
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(root, [docs], embedder=CountingEmbedder(embedder, fail_after_batches=0))
    assert IndexStore.open(root).manifest.vectors_pending == [ZHENJIANG]
    resume = f"`qa index --index {root}`"
    code, out, err = _qa("index", "--check", "--index", str(root))
    assert code == 1 and out == "", out
    assert err.startswith("error: ") and "stopped before it finished" in err and resume in err
    code, out, err = _qa("ask", QUESTION, "--json", "--index", str(root))
    assert code == 0, err
    assert json.loads(out)["index_interrupted"] is True
    code, out, err = _qa("ask", QUESTION, "--index", str(root))
    assert code == 0 and "2020" in out, err
    assert "上次 qa index 未完成就停止了" in err and resume in err and "仍在建立" not in err

    holder = _hold_lock(root)  # a running `qa index`: still being built, and nothing to do
    try:
        asked = runner.invoke(app, ["ask", QUESTION, "--index", str(root)])
        checked = runner.invoke(app, ["index", "--check", "--index", str(root)])
    finally:
        holder.communicate("")
    assert asked.exit_code == 0 and "索引仍在建立" in asked.stderr and resume not in asked.stderr
    assert checked.exit_code == 0 and "a running `qa index` is computing" in checked.stdout

    resumed = runner.invoke(app, ["index", "--index", str(root)])
    assert resumed.exit_code == 0, resumed.output
    checked = runner.invoke(app, ["index", "--check", "--index", str(root)])
    assert checked.exit_code == 0 and checked.stdout.startswith("ok: ")


# 13. Python's package markers beside documents are not documents.


def test_python_package_markers_in_a_folder_are_not_documents(tmp_path):
    folder = tmp_path / "seeds"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "a.txt").write_text("镇江提出2020年实现碳峰值。", encoding="utf-8")
    (folder / "__init__.py").write_text("", encoding="utf-8")
    (folder / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\xa7\r\r\n")
    (folder / "notes.py").write_text("print('a script, not a marker')", encoding="utf-8")
    found = find_files([folder])
    assert [doc_id for _, doc_id in found.files] == ["a"]
    assert found.unsupported == [folder / "notes.py"]  # other code is still named as skipped


@pytest.mark.integration
def test_qa_index_of_a_checkouts_seeds_folder_succeeds_without_warnings(tmp_path):
    (tmp_path / "seeds").mkdir()
    shutil.copy(seeds_dir() / f"{ZHENJIANG}.txt", tmp_path / "seeds")
    (tmp_path / "seeds" / "__init__.py").write_text("", encoding="utf-8")
    code, out, err = _qa("index", "seeds", "--index", "ix", cwd=tmp_path)
    assert code == 0, err
    assert "warning" not in err and "__init__" not in err
    assert "indexed 1 documents" in out and "0 skipped" in out


@pytest.mark.slow
def test_qa_index_with_no_path_seeds_the_default_index_and_exits_0(tmp_path):
    assert (seeds_dir() / "__init__.py").is_file()  # the bundled seeds are a package
    env = {k: v for k, v in os.environ.items() if k != "QA_INDEX"}  # the default location
    code, out, err = _qa("index", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "warning" not in err and "indexed 2 documents" in out
    code, out, err = _qa("index", env=env, cwd=tmp_path)  # again: its recorded seeds, unchanged
    assert code == 0, err
    assert "(0 embedded, 2 unchanged, 0 removed)" in out
