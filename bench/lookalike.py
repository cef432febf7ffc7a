"""Retrieval among look-alike paragraphs: does the passage's own wording, weighted by the question's
IDF (the extractive answerer's evidence), reorder the fused top passages for the better?

Run: python bench/lookalike.py [--set cmrc|drcd ...] [--index-root DIR]
For each question: recall@1 of the top wording_depth passages re-sorted by fused score + w ×
wording (qa/retrieve/wording.py: the question's words held by the passage and its title), for
several w; w = 0 is the fused order, RetrievalRules.wording_weight what retrieval uses. Only questions whose top
passages include another paragraph of the same article (the same title) are "look-alike"; they
are counted separately, and so are those whose article has more than one paragraph in the corpus
("shared article", whatever retrieval returned).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import cmrc_subset
import refusal

from qa.rules import RetrievalRules

WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def run(datasets: list[str], root: Path) -> dict:
    figures = {}
    for dataset in datasets:
        corpus, _, _ = cmrc_subset.load(False, dataset)
        title = {d.doc_id: d.title for d in corpus}
        paragraphs = Counter(title.values())
        with refusal.cached_retriever(dataset, False, root) as (retriever, questions):
            rows = []
            for q in questions:
                passages = retriever.search(q.question, RetrievalRules().wording_depth)
                rows.append(
                    (
                        q.doc_id,
                        [p.doc_id for p in passages],
                        [p.score for p in passages],
                        [p.wording or 0.0 for p in passages],
                    )
                )
        found = {}
        for weight in WEIGHTS:
            hits = lookalike = lookalike_hits = shared = shared_hits = 0
            for gold, ids, scores, held in rows:
                order = sorted(range(len(ids)), key=lambda i: -(scores[i] + weight * held[i]))
                hit = bool(ids) and ids[order[0]] == gold
                hits += hit
                if len({d for d in ids if title[d] == title[gold]}) > 1:
                    lookalike += 1
                    lookalike_hits += hit
                if paragraphs[title[gold]] > 1:
                    shared += 1
                    shared_hits += hit
            found[str(weight)] = {
                "recall@1": round(hits / len(rows), 3),
                "lookalike_questions": lookalike,
                "lookalike_recall@1": round(lookalike_hits / lookalike, 3) if lookalike else None,
                "shared_article_questions": shared,
                "shared_article_recall@1": round(shared_hits / shared, 3) if shared else None,
            }
        figures[dataset] = found
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", choices=["cmrc", "drcd"])
    parser.add_argument("--index-root", type=Path, default=refusal.RESULTS)
    args = parser.parse_args()
    print(json.dumps(run(args.set or ["cmrc", "drcd"], args.index_root), indent=2))


if __name__ == "__main__":
    main()
