"""How the extractive backend's refusal thresholds trade answers for refusals on the seed questions,
and how far each seed decision lies from them.

Run: python bench/extractive_threshold.py [--json]
min_score applies to Chinese questions, min_score_en to English ones (AnswerRules, qa/rules.py). Each row: answerable questions answered correctly and unanswerable
ones refused. The margins: each question's deciding value (its best sentence's score, or for
English its best english_score) minus the threshold; a decision within ±0.01 could flip on another
machine's rounding. Each row also gives, for each half of the questions (bench/halves.py), the
share of the answerable answered correctly and of the unanswerable refused, with standard errors;
the threshold the tuning half alone would choose (the most of its questions decided right) is
named, for the report half to check.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from halves import HALVES, TUNE, rate, split

from embeddings.cleaning import has_cjk
from embeddings.indexer import build_index
from qa.api import Assistant
from qa.config import seeds_dir
from qa.evaluation import answer_is_correct
from qa.rules import Rules

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "seed_qa.jsonl"
# The seed set has no unanswerable English question; these ask what neither document holds.
ENGLISH_OFF_TOPIC = [
    "What is the population of Tokyo?",
    "Who won the 2018 World Cup?",
    "Which company makes the iPhone?",
    "How tall is Mount Everest?",
    "What did Zhenjiang's GDP reach in 2019?",
]
RULES = Rules()
# around the rules' own thresholds, so that the table follows a recalibration
MIN_SCORES = tuple(round(RULES.answer.min_score + step, 2) for step in (-0.4, -0.2, -0.1, 0, 0.1))
MIN_SCORES_EN = tuple(
    round(RULES.answer.min_score_en + step, 3) for step in (-0.04, -0.02, 0, 0.02, 0.04)
)


def with_answer_rules(**values) -> Rules:
    """The rules with some of the answer rules replaced."""
    return replace(RULES, answer=replace(RULES.answer, **values))


def score(assistant: Assistant, questions: list[dict]) -> dict:
    """The answerable answered correctly and the unanswerable refused: counts, and each half's
    shares with their standard errors."""
    right = {}
    for q in questions:
        answer = assistant.ask(q["question"])
        if q["kind"] == "unanswerable":
            right[q["id"]] = answer.abstained
        else:
            right[q["id"]] = not answer.abstained and answer_is_correct(
                answer.answer, q["answers"], q.get("all_of")
            )
    answerable = [q for q in questions if q["kind"] != "unanswerable"]
    unanswerable = [q for q in questions if q["kind"] == "unanswerable"]
    row: dict = {
        "correct": sum(right[q["id"]] for q in answerable),
        "refused": sum(right[q["id"]] for q in unanswerable),
    }
    for name in HALVES:
        row[name] = {
            "correct": rate([right[q["id"]] for q in split(answerable)[name]]),
            "refused": rate([right[q["id"]] for q in split(unanswerable)[name]]),
            "decided_right": sum(right[q["id"]] for q in split(questions)[name]),
        }
    return row


def chosen_on_tune(rows: dict[str, dict], current: float) -> str:
    """The threshold deciding the most questions of the tuning half right; among equals the
    rules' own, else the lowest."""
    return max(rows, key=lambda t: (rows[t][TUNE]["decided_right"], float(t) == current))


def margins(assistant: Assistant, questions: list[dict]) -> list[dict]:
    """Each question's deciding value less its threshold."""
    answerer = assistant.pipeline.extractive()
    rules = answerer.rules.answer
    rows = []
    for q in questions:
        context = assistant.retriever.context()
        passages = assistant.retriever.search(q["question"], context=context)
        candidates = answerer.candidates(q["question"], passages, context)
        if has_cjk(q["question"]):
            value = max((c.score(rules) for c in candidates), default=float("-inf"))
            threshold = rules.min_score
        else:
            value = max((c.english_score(rules) for c in candidates), default=float("-inf"))
            threshold = rules.min_score_en
        rows.append({"id": q["id"], "kind": q["kind"], "margin": round(value - threshold, 3)})
    return rows


def run() -> dict:
    questions = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    chinese = [q for q in questions if q["lang"] != "en"]
    english = [q for q in questions if q["lang"] == "en"]
    off_topic = [
        {"id": f"off-{i}", "question": q, "kind": "unanswerable", "answers": []}
        for i, q in enumerate(ENGLISH_OFF_TOPIC, start=1)
    ]
    figures = {"min_score": {}, "min_score_en": {}}
    with tempfile.TemporaryDirectory() as tmp:
        build_index(Path(tmp), [seeds_dir()])
        for threshold in MIN_SCORES:
            assistant = Assistant(
                index=tmp, backend="extractive", rules=with_answer_rules(min_score=threshold)
            )
            figures["min_score"][str(threshold)] = score(assistant, chinese)
        for threshold in MIN_SCORES_EN:
            assistant = Assistant(
                index=tmp, backend="extractive", rules=with_answer_rules(min_score_en=threshold)
            )
            figures["min_score_en"][str(threshold)] = score(assistant, english + off_topic)
        assistant = Assistant(index=tmp, backend="extractive", rules=RULES)
        figures["margins"] = margins(assistant, questions + off_topic)
    figures["chosen_on_tune"] = {
        "min_score": chosen_on_tune(figures["min_score"], RULES.answer.min_score),
        "min_score_en": chosen_on_tune(figures["min_score_en"], RULES.answer.min_score_en),
    }
    return figures


def _halves_line(row: dict) -> str:
    return "  ".join(
        f"{name}: correct {row[name]['correct']['mean']} ± {row[name]['correct']['se']}, "
        f"refused {row[name]['refused']['mean']} ± {row[name]['refused']['se']}"
        for name in HALVES
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run()
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    print("Chinese questions (12 answerable, 2 not): min_score → correct, refused")
    for threshold, row in figures["min_score"].items():
        print(f"  {threshold:<5} {row['correct']:>2} correct  {row['refused']} of 2 refused")
        print(f"        {_halves_line(row)}")
    print(f"English questions (2) and {len(ENGLISH_OFF_TOPIC)} off-topic ones: min_score_en")
    for threshold, row in figures["min_score_en"].items():
        print(
            f"  {threshold:<5} {row['correct']} correct  "
            f"{row['refused']} of {len(ENGLISH_OFF_TOPIC)} off-topic refused"
        )
        print(f"        {_halves_line(row)}")
    print("Chosen on the tuning half:", figures["chosen_on_tune"])
    print("Each question's deciding value less its threshold:")
    for row in figures["margins"]:
        print(f"  {row['id']:<8} {row['kind']:<13} {row['margin']:+.3f}")


if __name__ == "__main__":
    main()
