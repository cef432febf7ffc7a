"""Indexing as a user would, with real `qa` processes on real folders: a folder of documents
holding a Python package marker is indexed cleanly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from embeddings.loading import find_files
from qa.config import seeds_dir

ZHENJIANG = "000_7aa804dae9d1415a"


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
