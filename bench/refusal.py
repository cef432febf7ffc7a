"""Calibrates the extractive answerer's refusal on answerable and made-up unanswerable questions.

Run: python bench/refusal.py [--quick] [--json] [--index DIR]
Each CMRC dev question is asked twice: as it is (answerable), and with its own paragraph left
out of what retrieval returns, which makes it unanswerable from the rest of the corpus, with
close neighbours still there (other paragraphs of the same article, other fish of the same
family). Left out at retrieval, not by building 500 indexes: dense scores are the same either
way, BM25's term statistics differ by one paragraph in 848.

Every candidate sentence of each answer is kept with its features, so every setting of the
thresholds is scored without asking again: answer_accuracy (answerable, answered with the gold
answer), false_abstain_rate (answerable, refused), abstain_accuracy (unanswerable, refused) and
answer_chars_mean. Prints the trade-off curve; the chosen setting is qa/answering/extractive.py's.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import cmrc_subset
import numpy as np

from qa.answering import extractive
from qa.answering.extractive import ExtractiveAnswerer
from qa.evaluation import normalise_answer

K = 5
WORDINGS = (0.3, 0.4, 0.5, 0.6, 0.7)
SIMILARITIES = (0.0, 0.80, 0.82, 0.84, 0.86, 0.88)
MOST = (1, 2, 3)


def _features(answerer, question, passages, gold: list[str]) -> list[tuple]:
    """(wording, similarity, touched, holds the gold answer, characters, passage number,
    wording of the sentence alone) per candidate."""
    found = []
    pieces = extractive.question_pieces(question)
    for c in answerer.candidates(question, passages):
        text = normalise_answer(c.text)
        holds = any(normalise_answer(g) in text for g in gold)
        own = extractive.wording(pieces, c.text)
        found.append((c.wording, c.similarity, c.touched, holds, len(c.text), c.passage.n, own))
    return found


def _decide(candidates, least_wording, least_similarity, touched_needed, most):
    """What the answerer would say under these settings: None (refuse) or (correct, chars)."""
    kept = [
        c
        for c in candidates
        if c[0] >= least_wording and c[1] >= least_similarity and (c[2] or not touched_needed)
    ]
    if not kept:
        return None
    kept.sort(key=lambda c: -(c[0] + c[1]))
    best = kept[0][0] + kept[0][1]
    chosen = [c for c in kept[:most] if c[0] + c[1] >= extractive.KEEP_WITHIN * best]
    return any(c[3] for c in chosen), sum(c[4] for c in chosen)


def curve(answerable: list, unanswerable: list) -> list[dict]:
    rows = []
    for wording, similarity, touched, most in itertools.product(
        WORDINGS, SIMILARITIES, (True, False), MOST
    ):
        said = [_decide(c, wording, similarity, touched, most) for c in answerable]
        refused = [_decide(c, wording, similarity, touched, most) is None for c in unanswerable]
        answered = [s for s in said if s is not None]
        rows.append(
            {
                "min_wording": wording,
                "min_similarity": similarity,
                "every_piece_named": touched,
                "max_sentences": most,
                "answer_accuracy": round(sum(s[0] for s in answered) / len(said), 3),
                "false_abstain_rate": round(1 - len(answered) / len(said), 3),
                "abstain_accuracy": round(float(np.mean(refused)), 3),
                "answer_chars_mean": round(float(np.mean([s[1] for s in answered])), 1)
                if answered
                else None,
            }
        )
    return rows


def run(quick: bool = False, index: Path | None = None, features: Path | None = None) -> dict:
    """features: a JSON file to keep every question's candidates in (and read them back from,
    when it exists), so that new settings are scored without asking again."""
    if features is not None and features.exists():
        answerable, unanswerable = json.loads(features.read_text(encoding="utf-8"))
        return _summary(len(answerable), answerable, unanswerable)
    corpus, questions, _ = cmrc_subset.load(quick)
    with cmrc_subset.retriever(corpus, index) as retriever:
        answerer = ExtractiveAnswerer(
            retriever.embedder, retriever.store.document_text, retriever.query_vector
        )
        answerable, unanswerable = [], []
        for q in questions:
            found = retriever.search(q.question, K + 10)
            answerable.append(_features(answerer, q.question, found[:K], q.answers))
            others = [p for p in found if p.doc_id != q.doc_id][:K]
            unanswerable.append(_features(answerer, q.question, others, q.answers))
    if features is not None:
        features.write_text(json.dumps([answerable, unanswerable]), encoding="utf-8")
    return _summary(len(questions), answerable, unanswerable)


def _summary(questions: int, answerable: list, unanswerable: list) -> dict:
    rows = curve(answerable, unanswerable)
    chosen = next(
        r
        for r in rows
        if r["min_wording"] == extractive.MIN_WORDING
        and r["min_similarity"] == extractive.MIN_SIMILARITY_ZH
        and r["every_piece_named"]
        and r["max_sentences"] == extractive.MAX_SENTENCES
    )
    return {"questions": questions, "chosen": chosen, "curve": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--index", type=Path, help="reuse (or keep) the CMRC index in this folder")
    parser.add_argument("--features", type=Path, help="keep (or reuse) the candidates' features")
    args = parser.parse_args()
    figures = run(args.quick, args.index, args.features)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    keys = list(figures["chosen"])
    print(f"{figures['questions']} questions, each answerable and made unanswerable")
    print("  ".join(keys))
    # the useful part of the curve: settings that refuse most unanswerable questions
    for row in sorted(figures["curve"], key=lambda r: -r["answer_accuracy"])[:40]:
        print("  ".join(f"{row[k]}" for k in keys))
    print("chosen:", figures["chosen"])


if __name__ == "__main__":
    main()
