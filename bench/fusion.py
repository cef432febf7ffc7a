"""Which fusion of BM25 and dense retrieval ranks best, on the CMRC dev subset at passage level.

Run: python bench/fusion.py [--quick] [--json]
The same candidates (top CANDIDATES of each list) are fused every way, for the questions in
simplified Chinese, converted to traditional characters, and translated into English. A hit at k:
a passage of the question's document among the top k. Also compares BM25 without each chunk's
document title in its tokens (the index has it since tokenizer v2), alone and fused, and for the
fused ranking with and without titles the share of questions whose top 5 passages hold an answer
(answer_recall@5). English questions get their own table: the four signals they are read with
(qa/retrieve/retriever.py), alone and mixed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cmrc_subset
import numpy as np

from embeddings.lexical import LexicalIndex, tokenize
from embeddings.records import Chunk
from qa.evaluation import normalise_answer
from qa.retrieve.fusion import reciprocal_rank, weighted_zscore, zscored
from qa.retrieve.retriever import Retriever
from qa.rules import RetrievalRules

RULES = RetrievalRules()  # the rules retrieval runs with

# The fusions compared. Each takes, per candidate, the dense cosine, the BM25 score and the
# 1-based rank in each list (0 when not in that list), and returns one score, higher better.


def rrf(dense, lexical, dense_rank, lexical_rank, weight: float) -> np.ndarray:
    """Scores thrown away, only ranks count."""
    k = RULES.rrf_k
    return weight * reciprocal_rank(dense_rank, k=k) + (1 - weight) * reciprocal_rank(
        lexical_rank, k=k
    )


def _minmax(values: np.ndarray) -> np.ndarray:
    spread = values.max() - values.min() if len(values) else 0.0
    return (values - values.min()) / spread if spread > 0 else np.zeros_like(values)


def minmax(dense, lexical, dense_rank, lexical_rank, weight: float) -> np.ndarray:
    """Both scores rescaled to 0..1 over the candidates, then mixed. A question that shares no
    term with the corpus (English over Chinese) has BM25 all zero and falls back to dense alone."""
    return weight * _minmax(dense) + (1 - weight) * _minmax(lexical)


def zscore(dense, lexical, dense_rank, lexical_rank, weight: float) -> np.ndarray:
    return weight * zscored(dense) + (1 - weight) * zscored(lexical)


def dense_only(dense, lexical, dense_rank, lexical_rank, weight: float) -> np.ndarray:
    return np.asarray(dense, dtype=np.float64)


def lexical_only(dense, lexical, dense_rank, lexical_rank, weight: float) -> np.ndarray:
    # dense breaks ties among chunks BM25 cannot tell apart (all zero for an English question)
    return np.asarray(lexical, dtype=np.float64) + 1e-6 * np.asarray(dense)


FUSIONS = {
    "dense": dense_only,
    "bm25": lexical_only,
    "rrf": rrf,
    "minmax": minmax,
    "zscore": zscore,
}

WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)
ENGLISH_VARIANTS = {
    "dense": {"dense": 1.0},
    "use": {"use": 1.0},
    "dict_bm25": {"dict_bm25": 1.0},
    "dict_dense": {"dict_dense": 1.0},
    "dense+use 0.4/0.6": {"dense": 0.4, "use": 0.6},
    "dense+use+dict_bm25": {"dense": 1 / 3, "use": 1 / 3, "dict_bm25": 1 / 3},
    "all but use": {"dense": 1 / 3, "dict_bm25": 1 / 3, "dict_dense": 1 / 3},
    "all four (chosen)": RULES.fusion_weights["en"],
}


def _variants() -> list[tuple[str, str, float]]:
    variants = [("dense", "dense", 1.0), ("bm25", "bm25", 0.0), ("rrf", "rrf", 0.5)]
    for name in ("minmax", "zscore"):
        variants += [(f"{name} w={w}", name, w) for w in WEIGHTS]
    return variants


def _traditional(questions):
    import opencc

    converter = opencc.OpenCC("s2t")
    return [
        type(q)(q.id, converter.convert(q.question), q.answers, q.doc_id, q.kind, q.all_of)
        for q in questions
    ]


def _score(ranked_doc_ids: list[list[str]], targets: list[str]) -> dict:
    ranks = []
    for docs, target in zip(ranked_doc_ids, targets, strict=True):
        ranks.append(docs.index(target) + 1 if target in docs else None)
    n = len(ranks)
    return {
        "recall@1": round(sum(r == 1 for r in ranks if r) / n, 4),
        "recall@5": round(sum(r <= 5 for r in ranks if r) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 4),
    }


def _ranked_docs(fused: np.ndarray, positions: np.ndarray, doc_of: list[str]) -> list[str]:
    order = np.argsort(-fused, kind="stable")[:10]
    return [doc_of[int(positions[i])] for i in order]


def _holds_answer(question, texts: list[str]) -> bool:
    gold = [normalise_answer(a) for a in question.answers]
    return any(g in normalise_answer(t) for t in texts for g in gold)


def _all_chunks(retriever: Retriever) -> list[Chunk]:
    """Every chunk of the index, in position order, through the Store's public reads."""
    return retriever.store.chunks_at(range(retriever.store.chunk_count()))


def _evaluate(retriever: Retriever, questions, untitled: LexicalIndex | None) -> dict:
    """Chinese questions: the two-list fusions of dense and BM25, and BM25 without titles."""
    chunks = _all_chunks(retriever)
    doc_of = [c.doc_id for c in chunks]
    rankings: dict[str, list[list[str]]] = {name: [] for name, _, _ in _variants()}
    untitled_rankings: list[list[str]] = []
    untitled_fused: list[list[str]] = []
    answer_hits: dict[str, list[bool]] = {"with titles": [], "without titles": []}
    for q in questions:
        found = retriever.candidates(q.question)
        dense, bm25 = found.scores["dense"], found.scores["bm25"]
        for name, fusion, weight in _variants():
            fused = FUSIONS[fusion](dense, bm25, found.ranks["dense"], found.ranks["bm25"], weight)
            rankings[name].append(_ranked_docs(fused, found.positions, doc_of))
        if untitled is None:
            continue
        chosen = found.fused(RULES.fusion_weights["zh"])
        top5 = found.positions[np.argsort(-chosen, kind="stable")[:5]]
        answer_hits["with titles"].append(_holds_answer(q, [chunks[int(i)].text for i in top5]))
        scores = untitled.scores(tokenize(q.question))
        top = np.argsort(-scores, kind="stable")[: RULES.candidates]
        untitled_rankings.append([doc_of[int(i)] for i in top[:10]])
        # the chosen fusion, with the untitled BM25 in place of the titled one
        positions = np.union1d(found.positions[found.ranks["dense"] > 0], top)
        vector = retriever.context().query_vector(q.question)
        dense_all = np.stack([retriever.store.vectors.reconstruct(int(p)) for p in positions])
        fused = weighted_zscore(
            {"dense": dense_all @ vector, "bm25": scores[positions]}, RULES.fusion_weights["zh"]
        )
        untitled_fused.append(_ranked_docs(fused, positions, doc_of))
        top5 = positions[np.argsort(-fused, kind="stable")[:5]]
        answer_hits["without titles"].append(_holds_answer(q, [chunks[int(i)].text for i in top5]))
    targets = [q.doc_id for q in questions]
    table = {name: _score(ranked, targets) for name, ranked in rankings.items()}
    if untitled is not None:
        table["bm25 without titles"] = _score(untitled_rankings, targets)
        table["zscore 0.6 without titles"] = _score(untitled_fused, targets)
        table["answer_recall@5"] = {
            name: round(float(np.mean(hits)), 4) for name, hits in answer_hits.items()
        }
    return table


def _evaluate_english(retriever: Retriever, questions) -> dict:
    """English questions: each of the four signals alone, and mixes of them."""
    doc_of = [c.doc_id for c in _all_chunks(retriever)]
    rankings: dict[str, list[list[str]]] = {name: [] for name in ENGLISH_VARIANTS}
    for q in questions:
        found = retriever.candidates(q.question)
        for name, weights in ENGLISH_VARIANTS.items():
            rankings[name].append(_ranked_docs(found.fused(weights), found.positions, doc_of))
    targets = [q.doc_id for q in questions]
    return {name: _score(ranked, targets) for name, ranked in rankings.items()}


def run(quick: bool = False, index: Path | None = None) -> dict:
    corpus, zh, en = cmrc_subset.load(quick)
    with cmrc_subset.retriever(corpus, index) as retriever:
        untitled = LexicalIndex.build([tokenize(c.text) for c in _all_chunks(retriever)])
        return {
            "zh": _evaluate(retriever, zh, untitled),
            "zh_hant": _evaluate(retriever, _traditional(zh), None),
            "en": _evaluate_english(retriever, en),
            "questions": {"zh": len(zh), "en": len(en)},
            "chunks": retriever.store.manifest.chunk_count,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--index", type=Path, help="reuse (or keep) the index in this folder")
    args = parser.parse_args()
    figures = run(args.quick, args.index)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    answer_recall = figures["zh"].pop("answer_recall@5", {})
    print(_table(figures, ("zh", "zh_hant")))
    print(
        "answer_recall@5 (zh, z-score 0.6): "
        + ", ".join(f"{k} {v}" for k, v in answer_recall.items())
    )
    print()
    print(_table(figures, ("en",)))


def _table(figures: dict, sets: tuple[str, ...]) -> str:
    lines = [
        f"{'fusion':<22}"
        + "".join(f"{s + ' r@1':>12}{s + ' r@5':>12}{s + ' mrr':>11}" for s in sets)
    ]
    for name in figures[sets[0]]:
        cells = ""
        for s in sets:
            row = figures[s].get(name)
            cells += "".join(f"{row[m]:>12}" for m in ("recall@1", "recall@5")) if row else " " * 24
            cells += f"{row['mrr']:>11}" if row else " " * 11
        lines.append(f"{name:<22}{cells}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
