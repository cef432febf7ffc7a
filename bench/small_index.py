"""The extractive answer over an index of a few documents, as a user with one file has it.

Run: python bench/small_index.py [--set cmrc|drcd ...] [--questions N] [--others K ...]
                                 [--prior-chunks M ...] [--json]
For each of N questions (sampled with seed 0) an index is built of its own paragraph and K other
paragraphs of the set, and the question is asked of it (answered; answered with the gold
answer), and so is another question of the set whose paragraph is not indexed (refused): one of
another paragraph of the same article where the set has one (DRCD: near the topic, as the made-up
unanswerable questions of bench/refusal.py are), else any. Each
question is asked at every prior_chunks of QuestionRules (0: the words weigh BM25's IDF as it is),
over the same index. Then the seeds' two documents are indexed and the questions of
bench/data/seed_unanswerable.jsonl, near their topics and not answered by them, are asked at each
prior_chunks (refused). The development sets' own figures, over all their paragraphs, are
bench/refusal.py's.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from dataclasses import replace

import cmrc_subset

from embeddings.embedders import load_embedder
from embeddings.indexer import build_index, index_documents
from qa.api import Assistant
from qa.config import seeds_dir
from qa.evaluation import load_questions, normalise_answer
from qa.rules import Rules

NEAR_SEEDS = cmrc_subset.DATA / "seed_unanswerable.jsonl"
RULES = Rules()


def with_prior(prior: int) -> Rules:
    """The rules with a question's words smoothed by `prior` made-up chunks."""
    return replace(RULES, question=replace(RULES.question, prior_chunks=prior))


def run(dataset: str, count: int, others: int, priors: list[int]) -> list[dict]:
    """The figures of `count` questions of the set, each over its own paragraph and `others`
    more, at each prior."""
    corpus, questions, _ = cmrc_subset.load(False, dataset)
    by_id = {document.doc_id: document for document in corpus}
    chooser = random.Random(0)
    asked = chooser.sample(questions, count)
    embedder = load_embedder()
    counts = {"answered": 0, "right": 0, "sibling_refused": 0, "other_refused": 0}
    tallies = {prior: dict(counts) for prior in priors}
    siblings_asked = 0
    for q in asked:
        rest = [d for d in corpus if d.doc_id != q.doc_id]
        documents = [by_id[q.doc_id], *chooser.sample(rest, others)]
        indexed = {d.doc_id for d in documents}
        unindexed = [o for o in questions if o.doc_id not in indexed]
        title = by_id[q.doc_id].title
        siblings = [o for o in unindexed if by_id[o.doc_id].title == title]
        elsewhere = chooser.choice(siblings or unindexed)
        siblings_asked += bool(siblings)
        gold = [normalise_answer(g) for g in q.answers]
        with tempfile.TemporaryDirectory() as folder:
            index_documents(folder, documents, embedder=embedder)
            for prior in priors:
                assistant = Assistant(index=folder, backend="extractive", rules=with_prior(prior))
                answer = assistant.ask(q.question)
                tally = tallies[prior]
                if not answer.abstained:
                    tally["answered"] += 1
                    shown = normalise_answer(answer.answer)
                    tally["right"] += any(g in shown for g in gold)
                refused = assistant.ask(elsewhere.question).abstained
                tally["sibling_refused" if siblings else "other_refused"] += refused
    out_of = {"answered": count, "right": count, "sibling_refused": siblings_asked}
    out_of["other_refused"] = count - siblings_asked
    return [
        {"set": dataset, "others": others, "prior_chunks": prior, "siblings_asked": siblings_asked}
        | {name: round(n / out_of[name], 3) if out_of[name] else None for name, n in tally.items()}
        for prior, tally in tallies.items()
    ]


def seeds_refused(priors: list[int]) -> list[dict]:
    """The share of the seeds' near-topic unanswerable questions refused at each prior."""
    questions = load_questions(NEAR_SEEDS)
    with tempfile.TemporaryDirectory() as folder:
        build_index(folder, [seeds_dir()])
        rows = []
        for prior in priors:
            assistant = Assistant(index=folder, backend="extractive", rules=with_prior(prior))
            refused = sum(assistant.ask(q.question).abstained for q in questions)
            rows.append({"set": "seeds, near-topic unanswerable", "prior_chunks": prior})
            rows[-1]["refused"] = round(refused / len(questions), 3)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", choices=sorted(cmrc_subset.SETS))
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--others", type=int, action="append")
    parser.add_argument("--prior-chunks", type=int, action="append")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    priors = args.prior_chunks or [0, RULES.question.prior_chunks]
    rows = [
        row
        for dataset in args.set or ["cmrc", "drcd"]
        for others in args.others or [0, 3]
        for row in run(dataset, args.questions, others, priors)
    ] + seeds_refused(priors)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
