"""Hybrid retrieval: BM25 kept in step with the index, fusion, --explain, the reranker stage."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from embeddings.indexer import build_index
from embeddings.lexical import tokenize
from embeddings.store import IndexStore
from qa.cli import app
from qa.records import Passage
from qa.retrieve.retriever import Retriever
from qa.retrieve.wording import reorder_by_wording
from qa.rules import RetrievalRules

runner = CliRunner()

DOCS = {
    "lake": "杭州西湖位於浙江省杭州市西部，是著名的風景名勝區。西湖十景包括蘇堤春曉和斷橋殘雪。",
    "bridge": "港珠澳大橋是連接香港、珠海和澳門的跨海大橋，全長約五十五公里。",
    "panda": "大熊貓主要生活在四川的竹林裡，以竹子為主要食物。",
}


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


def _bm25_docs(store: IndexStore, question: str) -> list[str]:
    scores = store.lexical.scores(tokenize(question))
    chunks = store.chunks_at(range(store.chunk_count()))
    return [chunks[i].doc_id for i in np.argsort(-scores) if scores[i] > 0]


def test_tokens_are_the_matching_form_in_jieba_search_mode():
    assert tokenize("鎮江提出哪一年實現碳峰值？") == tokenize("镇江提出哪一年实现碳峰值?")
    assert "镇江" in tokenize("鎮江提出哪一年實現碳峰值？")
    assert all(token.strip() for token in tokenize("Ｈｅｌｌｏ，  世界！"))


def test_bm25_scores_read_from_disk_equal_bm25s_own(tmp_path):
    bm25s = pytest.importorskip("bm25s")
    from embeddings.lexical import LexicalIndex

    corpus = [tokenize(text) for text in DOCS.values()] + [[], tokenize("西湖的大熊貓")]
    reference = bm25s.BM25()
    reference.index(corpus, show_progress=False)
    LexicalIndex.build(corpus).save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    for question in ("西湖在哪裡", "大熊貓吃竹子，大熊貓", "沒有這個詞"):
        tokens = tokenize(question)
        assert np.allclose(loaded.scores(tokens), reference.get_scores(tokens), atol=1e-6)


def test_bm25_follows_the_index_through_changes_and_removals(tmp_path, corpus, embedder):
    root = tmp_path / "ix"
    build_index(root, [corpus], embedder=embedder)
    assert _bm25_docs(IndexStore.open(root), "港珠澳大橋有多長") == ["bridge"]

    (corpus / "bridge.txt").unlink()
    (corpus / "panda.txt").write_text("大熊貓從不走大橋，只吃竹子。", encoding="utf-8")
    build_index(root, [corpus], embedder=embedder)
    store = IndexStore.open(root)
    assert set(store.manifest.documents) == {"lake", "panda"}
    # a removed document's passages never come back, by BM25 or by the fused ranking
    assert _bm25_docs(store, "港珠澳大橋有多長") == ["panda"]
    assert len(store.lexical.scores(["大桥"])) == store.manifest.chunk_count
    passages = Retriever.open(root, embedder).search("港珠澳大橋全長多少公里？", k=5)
    assert "bridge" not in {p.doc_id for p in passages}


def test_bm25_reads_each_chunk_with_its_documents_title(tmp_path, embedder):
    from embeddings.indexer import index_documents
    from embeddings.records import Document

    # Look-alike entries whose text never repeats the name the question asks about
    habits = {
        "虫纹阿南鱼": "栖息于珊瑚礁浅海域，夜晚潜入沙中睡眠。",
        "北斗阿南鱼": "栖息于岩礁区，白天觅食。",
    }
    documents = [
        Document(f"fish{i}", title, text, str(tmp_path / f"fish{i}"), str(i))
        for i, (title, text) in enumerate(habits.items())
    ]
    root = tmp_path / "ix"
    index_documents(root, documents, embedder=embedder)
    store = IndexStore.open(root)
    assert _bm25_docs(store, "虫纹阿南鱼的生活习性是怎样的？")[0] == "fish0"
    assert _bm25_docs(store, "北斗阿南鱼的生活习性是怎样的？")[0] == "fish1"
    assert [c.text for c in store.chunks_at(range(store.chunk_count()))] == list(
        habits.values()
    )  # the text stays as is


def test_traditional_and_simplified_questions_find_the_same_passage(tmp_path, corpus, embedder):
    root = tmp_path / "ix"
    build_index(root, [corpus], embedder=embedder)
    retriever = Retriever.open(root, embedder)
    simplified = retriever.search("大熊猫以什么为食物？", k=1)[0]
    assert simplified.wording == 1.0  # 大熊猫 and 食物, its content words, are both in it
    traditional = retriever.search("大熊貓以什麼為食物？", k=1)[0]
    assert simplified.doc_id == traditional.doc_id == "panda"
    assert set(simplified.signals) == {"dense", "bm25"} and simplified.signals["bm25"][1] == 1


def test_an_english_question_uses_the_cross_lingual_signal(tmp_path, corpus, embedder):
    root = tmp_path / "ix"
    build_index(root, [corpus], embedder=embedder)
    top = Retriever.open(root, embedder).search("What do giant pandas eat?", k=1)[0]
    assert top.doc_id == "panda"
    assert set(top.signals) == {"dense", "use", "dict_bm25", "dict_dense"}
    assert top.signals["use"][1] is not None
    # its words are not the passages': they stay in fused order, not re-sorted by wording
    assert top.wording is None


def test_explain_shows_each_retrievers_rank_and_the_fused_score(seed_index):
    result = runner.invoke(
        app, ["ask", "深圳公交機動化分擔率是多少？", "--explain", "--index", str(seed_index)]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.split("Why these passages")[1].strip().splitlines()[1:]
    assert len(lines) == 5
    assert lines[0].startswith("[1] dense #") and " bm25 #" in lines[0] and " fused " in lines[0]
    assert " wording " in lines[0]
    as_json = runner.invoke(
        app,
        ["ask", "深圳公交機動化分擔率是多少？", "--json", "--explain", "--index", str(seed_index)],
    )
    passages = json.loads(as_json.stdout)["passages"]
    why = passages[0]["explain"]
    assert set(why) == {
        "dense_rank",
        "dense_score",
        "bm25_rank",
        "bm25_score",
        "fused_score",
        "wording",
        "rerank_score",
    }
    assert why["fused_score"] == round(passages[0]["score"], 4)
    assert why["dense_rank"] or why["bm25_rank"]
    assert all(0 <= p["explain"]["wording"] <= 1 for p in passages)
    ordered = [p["explain"]["fused_score"] + 2 * p["explain"]["wording"] for p in passages]
    assert ordered == sorted(ordered, reverse=True)
    plain = runner.invoke(app, ["ask", "深圳", "--json", "--index", str(seed_index)])
    assert "explain" not in json.loads(plain.stdout)["passages"][0]


def test_wording_puts_the_paragraph_that_says_the_questions_words_before_its_look_alike():
    # DRCD: the county's opening paragraph fused first, the one with its extent second
    def passage(n: int, text: str, score: float) -> Passage:
        return Passage(n, f"p{n}", "南华县", text, 0, len(text), score)

    found = [
        passage(1, "南華縣是雲南省楚雄彝族自治州下屬的一個縣，位於楚雄州西部。", 2.61),
        passage(2, "南華縣境東西橫距64.6公里，南北端的距離為71.7公里。", 2.53),
        passage(3, "1954年，鎮南縣更名為南華縣。", 2.33),
        passage(4, "境內亞熱帶至中溫帶的氣候兼有。", 2.31),
        passage(5, "南華縣的縣城是龍川鎮。", 2.30),
        passage(6, "南華縣南北端距離多遠？南北端距離很遠。", 0.2),
    ]
    reordered = reorder_by_wording("南華縣南北端距離多遠？", found, idf=lambda word: 1.0)
    assert [p.doc_id for p in reordered] == ["p2", "p1", "p3", "p4", "p5", "p6"]
    assert [p.n for p in reordered] == [1, 2, 3, 4, 5, 6]
    assert reordered[0].wording == 1.0 and reordered[1].wording < 1.0
    keys = [p.score + RetrievalRules().wording_weight * p.wording for p in reordered[:5]]
    assert keys == sorted(keys, reverse=True)
    # a passage below the first five is not lifted, however much of the question it says
    assert reordered[5].wording is None


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    """A BERT cross-encoder made here from a small config with random weights: no download."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *sorted(set("".join(DOCS.values()))),
        *"什麼哪裡多長吃",
    ]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)), encoding="utf-8")
    tokenizer = transformers.BertTokenizer(str(folder / "vocab.txt"))
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    transformers.set_seed(0)
    model = transformers.BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.mark.slow
def test_a_reranker_reorders_the_fused_passages(tmp_path, corpus, embedder, tiny_cross_encoder):
    from sentence_transformers import CrossEncoder

    from qa.retrieve.rerank import CrossEncoderReranker

    root = tmp_path / "ix"
    build_index(root, [corpus], embedder=embedder)
    retriever = Retriever.open(root, embedder)
    question = "西湖在哪裡？"
    fused = retriever.search(question, k=3)
    retriever.reranker = CrossEncoderReranker(tiny_cross_encoder)
    reranked = retriever.search(question, k=2)
    assert [p.n for p in reranked] == [1, 2]
    scores = CrossEncoder(tiny_cross_encoder, device="cpu").predict(
        [(question, p.text) for p in fused]
    )
    expected = [fused[i].text for i in np.argsort(-scores)[:2]]
    assert [p.text for p in reranked] == expected
    assert all(p.rerank_score is not None for p in reranked)
    assert reranked[0].rerank_score >= reranked[1].rerank_score
    result = runner.invoke(
        app, ["ask", question, "--reranker", tiny_cross_encoder, "--explain", "--index", str(root)]
    )
    assert result.exit_code == 0, result.output
    assert " rerank " in result.stdout


def test_a_reranker_that_cannot_be_loaded_is_a_clear_error(seed_index, tmp_path):
    result = runner.invoke(
        app, ["ask", "深圳", "--reranker", str(tmp_path / "no-model"), "--index", str(seed_index)]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot load reranker")
