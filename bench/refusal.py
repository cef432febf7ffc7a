"""Calibrates the extractive answerer's score and refusal on answerable and made-up unanswerable
questions, on each development set separately.

Run: python bench/refusal.py [--set cmrc|drcd ...] [--quick] [--limit N] [--grid] [--json]
                             [--index-root DIR]
Sets: the CMRC 2018 dev subset (mainland usage) and the DRCD subset (Taiwan usage). Each
question is asked twice: as it is (answerable), and with its own paragraph left out of what
retrieval returns, which makes it unanswerable from the rest of the corpus, with close
neighbours still there (other paragraphs of the same article). Left out at retrieval, not by
building 500 indexes: dense scores are the same either way, BM25's term statistics differ by
one paragraph. The passages left are numbered again from 1, as a search that never found the
paragraph would number them (kept at their old ranks, 2 to 6, they were refused for their
ranks: abstain_accuracy read 0.06 too high on CMRC), and the first of them re-sorted by their
wording (qa/retrieve/wording.py) as such a search would have.

Every candidate sentence of each answer is kept with its features, so every setting of the
weights and thresholds is scored without asking again: answer_accuracy (answerable, answered
with the gold answer), false_abstain_rate (answerable, refused), abstain_accuracy (unanswerable,
refused), answer_chars_mean and short_answer_accuracy (the short answer exact or inside a gold
answer, where one is given). Also, for each threshold, how many decisions lie within ±0.01 of it
and the figures at the threshold ±0.01, and at each weight of similarity in choosing the
answering sentence (pick_curve). The three rates are also given for each half of the questions
(bench/halves.py), each with its standard error; --grid chooses each combination's threshold and
ranks the combinations on the tuning half only. Embeddings are cached under --index-root, so a
second run takes seconds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import cmrc_subset
import numpy as np
from halves import TUNE, rate, split

from qa.answering.extractive import Candidate, ExtractiveAnswerer, choose
from qa.evaluation import normalise_answer
from qa.retrieve.wording import reorder_by_wording
from qa.rules import AnswerRules

K = 5
RESULTS = Path(__file__).resolve().parent / "results"
MARGIN = 0.01
GRID = {
    "similarity_weight": (2.0, 4.0, 6.0),
    "missing_names_weight": (0.25, 0.5, 1.0),
    "type_weight": (0.0, 0.15, 0.3),
    "rank_weight": (0.0, 0.1, 0.2),
    "lexical_weight": (0.5, 1.0, 1.5),
    "passage_similarity_weight": (0.0, 1.5, 3.0),
}
SCORES = tuple(round(x, 3) for x in np.arange(0.90, 2.001, 0.025))
PICK_SIMILARITY_WEIGHTS = (4.0, 6.0, 8.0, 10.0, 12.0)


class CachedEmbedder:
    """The index's embedder, remembering every vector it made (kept on disk between runs)."""

    def __init__(self, embedder, path: Path):
        self.embedder, self.path = embedder, path
        self.name, self.dim = embedder.name, embedder.dim
        self.vectors = pickle.loads(path.read_bytes()) if path.exists() else {}

    def _cached(self, kind: str, texts: list[str], embed) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if (kind, t) not in self.vectors]
        if new:
            self.vectors.update(((kind, t), v) for t, v in zip(new, embed(new), strict=True))
        return np.stack([self.vectors[(kind, t)] for t in texts])

    def embed_queries(self, texts):
        return self._cached("query", list(texts), self.embedder.embed_queries)

    def embed_passages(self, texts):
        return self._cached("passage", list(texts), self.embedder.embed_passages)

    def save(self) -> None:
        self.path.write_bytes(pickle.dumps(self.vectors))


@contextmanager
def cached_retriever(dataset: str, quick: bool, root: Path):
    corpus, questions, _ = cmrc_subset.load(quick, dataset)
    folder = root / f"{dataset}{'-quick' if quick else ''}-index"
    with cmrc_subset.retriever(corpus, folder) as retriever:
        cache = CachedEmbedder(retriever.embedder, folder.parent / f"{folder.name}-vectors.pkl")
        retriever.embedder = cache
        try:
            yield retriever, questions
        finally:
            cache.save()


def asked(
    dataset: str, quick: bool, root: Path, limit: int | None = None
) -> tuple[list, list, list[str]]:
    """Each question's candidates, answerable and made unanswerable, with its gold answers, and
    the questions' ids (the first `limit` questions only, when given)."""
    with cached_retriever(dataset, quick, root) as (retriever, questions):
        questions = questions[:limit]
        answerer = ExtractiveAnswerer.over(retriever)
        answerable, unanswerable = [], []
        for q in questions:
            context = retriever.context()
            found = retriever.search(q.question, K + 10, context)
            gold = [normalise_answer(g) for g in q.answers]
            answerable.append((answerer.candidates(q.question, found[:K], context), gold))
            # in fused order, re-sorted and numbered again from 1, as a search over an index
            # without the paragraph would have them
            others = sorted((p for p in found if p.doc_id != q.doc_id), key=lambda p: -p.score)
            others = reorder_by_wording(q.question, others, retriever.store.idf, retriever.rules)[
                :K
            ]
            unanswerable.append((answerer.candidates(q.question, others, context), gold))
    return answerable, unanswerable, [q.id for q in questions]


def _holds(candidate: Candidate, gold: list[str]) -> bool:
    text = normalise_answer(candidate.shown)  # with the sentence before it, where it is shown
    return any(g in text for g in gold)


def _shown_chars(chosen: list[Candidate]) -> int:
    """The characters the answer shows: each sentence once, leads included."""
    return sum(len(s) for s in dict.fromkeys(s for c in chosen for s in (c.lead, c.text)))


def score(answerable: list, unanswerable: list, rules: AnswerRules) -> dict:
    """The figures under these rules."""
    said = [(choose(c, True, rules), gold) for c, gold in answerable]
    answered = [(chosen, gold) for chosen, gold in said if chosen]
    refused = [not choose(c, True, rules) for c, _ in unanswerable]
    shorts = [
        any(normalise_answer(chosen[0].short_answer) in g for g in gold)
        for chosen, gold in answered
        if chosen[0].short_answer
    ]
    return {
        "answer_accuracy": round(
            sum(any(_holds(c, gold) for c in chosen) for chosen, gold in answered) / len(said), 3
        ),
        "false_abstain_rate": round(1 - len(answered) / len(said), 3),
        "abstain_accuracy": round(float(np.mean(refused)), 3),
        "answer_chars_mean": round(
            float(np.mean([_shown_chars(chosen) for chosen, _ in answered])), 1
        )
        if answered
        else None,
        "short_answer_given": len(shorts),
        "short_answer_accuracy": round(float(np.mean(shorts)), 3) if shorts else None,
    }


def rates(answerable: list, unanswerable: list, rules: AnswerRules) -> dict:
    """answer_accuracy, false_abstain_rate and abstain_accuracy, each with its standard error."""
    said = [(choose(c, True, rules), gold) for c, gold in answerable]
    return {
        "answer_accuracy": rate([any(_holds(c, gold) for c in chosen) for chosen, gold in said]),
        "false_abstain_rate": rate([not chosen for chosen, _ in said]),
        "abstain_accuracy": rate([not choose(c, True, rules) for c, _ in unanswerable]),
    }


def halves_of(answerable: list, unanswerable: list, ids: list[str]) -> dict[str, tuple]:
    """The questions of each half (bench/halves.py), answerable and made unanswerable alike."""
    at = split(range(len(ids)), question_id=lambda i: ids[i])
    return {
        name: ([answerable[i] for i in kept], [unanswerable[i] for i in kept])
        for name, kept in at.items()
    }


def best_scores(candidates_lists: list, rules: AnswerRules) -> list[float]:
    """Each question's deciding score: its best candidate's (None: nothing to answer from)."""
    return [
        max((c.score(rules) for c in cands), default=float("-inf")) for cands, _ in candidates_lists
    ]


def margins(answerable: list, unanswerable: list, rules: AnswerRules) -> dict:
    """How many decisions lie within MARGIN of min_score, and the figures at min_score ± MARGIN."""
    near = sum(
        abs(s - rules.min_score) <= MARGIN
        for s in best_scores(answerable, rules) + best_scores(unanswerable, rules)
    )
    figures = {"decisions": len(answerable) + len(unanswerable), "within_margin": near}
    for sign, name in ((-1, "below"), (1, "above")):
        moved = replace(rules, min_score=round(rules.min_score + sign * MARGIN, 3))
        figures[name] = score(answerable, unanswerable, moved)
    return figures


def curve(answerable: list, unanswerable: list, rules: AnswerRules) -> list[dict]:
    """The refusal trade-off: the figures at each min_score, the other rules as given."""
    return [
        {"min_score": threshold}
        | score(answerable, unanswerable, replace(rules, min_score=threshold))
        for threshold in SCORES
    ]


def pick_curve(answerable: list, unanswerable: list, rules: AnswerRules) -> list[dict]:
    """The figures at each weight of similarity in choosing the answering sentence (which
    questions are refused does not move with it)."""
    return [
        {"pick_similarity_weight": weight}
        | score(answerable, unanswerable, replace(rules, pick_similarity_weight=weight))
        for weight in PICK_SIMILARITY_WEIGHTS
    ]


def grid(halves: dict[str, tuple], rules: AnswerRules) -> list[dict]:
    """Every combination of the weights, each at the min_score that refuses at least 90 % of the
    tuning half's unanswerable with the fewest false refusals, ranked by the tuning half's
    answer_accuracy; both halves' figures shown, the report half's saying how well the choice
    holds."""
    rows = []
    names = list(GRID)
    for values in itertools.product(*GRID.values()):
        weights = dict(zip(names, values, strict=True))
        for threshold in SCORES:
            tried = replace(rules, **weights, min_score=threshold)
            if score(*halves[TUNE], tried)["abstain_accuracy"] >= 0.9:
                figures = {name: rates(*questions, tried) for name, questions in halves.items()}
                rows.append(weights | {"min_score": threshold} | figures)
                break
    return sorted(rows, key=lambda r: -r[TUNE]["answer_accuracy"]["mean"])


def run(
    datasets: list[str], quick: bool, root: Path, search: bool, limit: int | None = None
) -> dict:
    figures = {}
    rules = AnswerRules()
    for dataset in datasets:
        answerable, unanswerable, ids = asked(dataset, quick, root, limit)
        halves = halves_of(answerable, unanswerable, ids)
        figures[dataset] = {
            "questions": len(answerable),
            "chosen": score(answerable, unanswerable, rules),
            "halves": {name: rates(*questions, rules) for name, questions in halves.items()},
            "min_score_margin": margins(answerable, unanswerable, rules),
            "curve": curve(answerable, unanswerable, rules),
            "pick_curve": pick_curve(answerable, unanswerable, rules),
        }
        if search:
            figures[dataset]["grid"] = grid(halves, rules)[:15]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", choices=sorted(cmrc_subset.SETS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--grid", action="store_true", help="also search the weights")
    parser.add_argument("--index-root", type=Path, default=RESULTS)
    parser.add_argument("--limit", type=int, help="the first N questions of each set only")
    args = parser.parse_args()
    figures = run(args.set or ["cmrc", "drcd"], args.quick, args.index_root, args.grid, args.limit)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    for dataset, found in figures.items():
        print(f"{dataset}: {found['questions']} questions, each answerable and made unanswerable")
        print("  chosen:", found["chosen"])
        for name, rated in found["halves"].items():
            shown = ", ".join(f"{k} {v['mean']} ± {v['se']} (n={v['n']})" for k, v in rated.items())
            print(f"  {name} half: {shown}")
        print("  min_score margin:", found["min_score_margin"])
        keys = list(found["curve"][0])
        print("  " + "  ".join(keys))
        for row in found["curve"]:
            print("  " + "  ".join(str(row[k]) for k in keys))
        for row in found["pick_curve"]:
            print("  pick:", row)
        for row in found.get("grid", []):
            print("  grid:", row)


if __name__ == "__main__":
    main()
