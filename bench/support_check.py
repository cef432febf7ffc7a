"""Calibrates the support check (qa/verify/support.py) on claims made from the CMRC dev subset.

Run: python bench/support_check.py [--quick] [--json] [--index DIR]
A claim is a question with its gold answer put in place of the question word (赵鹏…没有出场的
原因是什么 → 赵鹏…没有出场的原因是伤病困扰), which is how an answer sentence reads. Each claim is
checked three ways, which the check must tell apart:
- right: citing the passage that holds the answer (should be supported);
- wrong passage: citing the best retrieved passage that does not hold it (should not be);
- wrong number: a claim whose answer has a number, with that number changed, citing the right
  passage (should not be);
- wrong name: a claim naming a place, person or organisation, with that name swapped for one
  from another claim that the passage's document does not hold, citing the right passage
  (should not be).
  Each kind is also judged without the name rule (qa/verify/support.py names_agree), to show what it costs.
English claims (the translated question, its gold answer appended) over the Chinese passages test
the embedding similarity the same way. Prints each threshold's share of each kind judged right.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import cmrc_subset
import numpy as np

from qa.overlap import unit_share
from qa.retrieve.retriever import Retriever
from qa.rules import SupportRules
from qa.verify.support import (
    embedding_similarity,
    names,
    names_agree,
    numbers_agree,
    sentences_of,
)

RULES = SupportRules()  # the rules the margins are measured around
OVERLAPS = (0.4, 0.5, 0.6, 0.7, 0.8)
SIMILARITIES = (0.78, 0.80, 0.82, 0.84, 0.86)
# Scores this close to a threshold are decisions a small change of the scores could flip: the
# margin the calibration is judged at, and the most that another build of the embedder moved a
# similarity (bench/vector_stability.py).
MARGIN = 0.01
BUILD_NOISE = 0.002
_ASKED = re.compile(
    r"哪一年|哪一天|哪些|哪个|哪里|哪儿|哪国|什么样的|什么|多少|几号|几个|几|谁|如何|怎么样|怎样|为什么"
)


def claim_of(question: str, answer: str) -> str:
    question = question.rstrip("？?。 ")
    if _ASKED.search(question):
        return _ASKED.sub(answer, question, count=1)
    return f"{question}：{answer}"


def _changed_number(claim: str) -> str | None:
    match = re.search(r"\d+", claim)
    if not match:
        return None
    changed = str(int(match.group()) + 1)
    return claim[: match.start()] + changed + claim[match.end() :]


def _passages(retriever: Retriever, question, answer: str):
    """(a passage of the question's document holding the answer, the best retrieved passage
    that does not hold it), either None when there is none."""
    right = wrong = None
    for passage in retriever.search(question.question, 10):
        holds = answer in passage.text
        if holds and right is None and passage.doc_id == question.doc_id:
            right = passage
        if not holds and wrong is None:
            wrong = passage
    return right, wrong


def _verdicts(claim: str, passage, document: str, thresholds, check_names=True) -> list[bool]:
    """document: the passage's title and document text, where the product looks up names."""
    evidence = passage.text
    agree = numbers_agree(claim, evidence) and (not check_names or names_agree(claim, document))
    score = unit_share(claim, evidence)
    return [agree and score >= t for t in thresholds]


def margins(scores: list[float], right: list[bool], threshold: float) -> dict:
    """How a threshold's decisions hold when the scores move: the share of calibration scores
    within MARGIN of it, and the share judged right at the threshold and MARGIN either side.
    right[i]: whether score i should be at or above the threshold."""
    values, should = np.asarray(scores), np.asarray(right)
    judged = {
        f"{t:.2f}": round(float(np.mean((values >= t) == should)), 3)
        for t in (threshold - MARGIN, threshold, threshold + MARGIN)
    }
    near = np.abs(values - threshold) <= MARGIN
    return {
        "within_margin": int(near.sum()),
        "within_margin_share": round(float(near.mean()), 3),
        "within_build_noise": int((np.abs(values - threshold) <= BUILD_NOISE).sum()),
        "judged_right": judged,
    }


def _changed_name(claim: str, evidence: str, pool: list[str]) -> str | None:
    """The claim with its first name swapped for one of the pool the evidence does not hold."""
    found = sorted(names(claim), key=claim.find)
    if not found or found[0] not in claim:
        return None
    start = sum(map(ord, claim)) % len(pool)  # a fixed, claim-dependent pick
    for other in pool[start:] + pool[:start]:
        if other not in evidence and other not in claim:
            return claim.replace(found[0], other, 1)
    return None


def run(quick: bool = False, index: Path | None = None) -> dict:
    corpus, zh, en = cmrc_subset.load(quick)
    with cmrc_subset.retriever(corpus, index) as retriever:
        kinds: dict[str, list[list[bool]]] = {
            "right": [],
            "wrong passage": [],
            "wrong number": [],
            "wrong name": [],
        }
        # at min_overlap, with and without the name rule
        name_rule: dict[str, dict[str, list[bool]]] = {"with": {}, "without": {}}
        claims = [claim_of(q.question, q.answers[0]) for q in zh]
        # (wording overlap, should be supported) where the number and name rules let it decide
        overlaps: list[tuple[float, bool]] = []

        def document_of(passage) -> str:
            return f"{passage.title}\n{retriever.store.document_text(passage.doc_id)}"

        pool = sorted({name for claim in claims for name in names(claim)})
        for q in zh:
            answer = q.answers[0]
            right, wrong = _passages(retriever, q, answer)
            claim = claim_of(q.question, answer)
            cases = []  # (kind, claim, evidence, should be supported)
            if right is not None:
                cases.append(("right", claim, right, True))
                changed = _changed_number(claim)
                if changed is not None and changed != claim:
                    cases.append(("wrong number", changed, right, False))
                renamed = _changed_name(claim, document_of(right), pool)
                if renamed is not None:
                    cases.append(("wrong name", renamed, right, False))
            if wrong is not None:
                cases.append(("wrong passage", claim, wrong, False))
            for kind, text, passage, supported in cases:
                document = document_of(passage)
                if numbers_agree(text, passage.text) and names_agree(text, document):
                    overlaps.append((unit_share(text, passage.text), supported))
                kinds[kind].append(
                    [v == supported for v in _verdicts(text, passage, document, OVERLAPS)]
                )
                for rule, check in (("with", True), ("without", False)):
                    [verdict] = _verdicts(text, passage, document, [RULES.min_overlap], check)
                    name_rule[rule].setdefault(kind, []).append(verdict == supported)
        similarity = embedding_similarity(retriever.embedder)
        english: dict[str, list[float]] = {"right": [], "wrong passage": []}
        for q in en:
            answer = q.answers[0]
            right, wrong = _passages(retriever, q, answer)
            claim = f"{q.question.rstrip('?')}: {answer}"
            if right is not None:
                english["right"].append(similarity(claim, sentences_of(right.text)))
            if wrong is not None:
                english["wrong passage"].append(similarity(claim, sentences_of(wrong.text)))
    figures = {"overlap": {}, "similarity": {}, "claims": {k: len(v) for k, v in kinds.items()}}
    for i, threshold in enumerate(OVERLAPS):
        figures["overlap"][str(threshold)] = {
            kind: round(float(np.mean([row[i] for row in rows])), 3) for kind, rows in kinds.items()
        }
    for threshold in SIMILARITIES:
        figures["similarity"][str(threshold)] = {
            "right": round(float(np.mean([s >= threshold for s in english["right"]])), 3),
            "wrong passage": round(
                float(np.mean([s < threshold for s in english["wrong passage"]])), 3
            ),
        }
    figures["english_claims"] = {k: len(v) for k, v in english.items()}
    figures["margins"] = {
        f"min_overlap {RULES.min_overlap}": margins(
            *zip(*overlaps, strict=True), RULES.min_overlap
        ),
        f"min_similarity {RULES.min_similarity}": margins(
            english["right"] + english["wrong passage"],
            [True] * len(english["right"]) + [False] * len(english["wrong passage"]),
            RULES.min_similarity,
        ),
    }
    figures["name_rule"] = {
        rule: {kind: round(float(np.mean(v)), 3) for kind, v in rows.items()}
        for rule, rows in name_rule.items()
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--index", type=Path, help="reuse (or keep) the CMRC index in this folder")
    args = parser.parse_args()
    figures = run(args.quick, args.index)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    print(f"claims judged right, by minimum wording overlap ({figures['claims']})")
    for threshold, row in figures["overlap"].items():
        print(f"  {threshold:>5}  " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
    print(f"at overlap {RULES.min_overlap}, with and without the name rule")
    for rule, row in figures["name_rule"].items():
        print(f"  {rule:>7}  " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
    print(f"English claims, by minimum similarity ({figures['english_claims']})")
    for threshold, row in figures["similarity"].items():
        print(f"  {threshold:>5}  " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
    print(
        f"decisions within ±{MARGIN} (±{BUILD_NOISE}) of each threshold, and judged right at it "
        "and either side"
    )
    for name, row in figures["margins"].items():
        judged = "  ".join(f"{t}: {v:.3f}" for t, v in row["judged_right"].items())
        near = f"{row['within_margin']} ({row['within_margin_share']:.3f}; {row['within_build_noise']})"
        print(f"  {name:>20}  {near}  {judged}")


if __name__ == "__main__":
    main()
