"""How the extractive backend's refusal thresholds trade answers for refusals on the seed questions.

Run: python bench/extractive_threshold.py
MIN_WORDING applies to Chinese questions, MIN_SIMILARITY_EN to English ones (see
qa/answering/extractive.py). Each row: answerable questions answered correctly (of 14) and
unanswerable ones refused (of 2).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from embeddings.indexer import build_index
from qa.answering import extractive
from qa.api import Assistant
from qa.config import seeds_dir
from qa.evaluation import answer_is_correct

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "seed_qa.jsonl"
# The seed set has no unanswerable English question; these ask what neither document holds.
ENGLISH_OFF_TOPIC = [
    "What is the population of Tokyo?",
    "Who won the 2018 World Cup?",
    "Which company makes the iPhone?",
    "How tall is Mount Everest?",
    "What did Zhenjiang's GDP reach in 2019?",
]


def score(assistant: Assistant, questions: list[dict]) -> tuple[int, int]:
    correct = refused = 0
    for q in questions:
        answer = assistant.ask(q["question"])
        if q["kind"] == "unanswerable":
            refused += answer.abstained
        elif not answer.abstained:
            correct += answer_is_correct(answer.answer, q["answers"], q.get("all_of"))
    return correct, refused


def run() -> dict:
    questions = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    chinese = [q for q in questions if q["lang"] != "en"]
    english = [q for q in questions if q["lang"] == "en"]
    off_topic = [{"question": q, "kind": "unanswerable", "answers": []} for q in ENGLISH_OFF_TOPIC]
    figures = {"min_wording": {}, "min_similarity_en": {}}
    defaults = extractive.MIN_WORDING, extractive.MIN_SIMILARITY_EN
    with tempfile.TemporaryDirectory() as tmp:
        build_index(Path(tmp), [seeds_dir()])
        assistant = Assistant(index=tmp, backend="extractive")
        try:
            for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
                extractive.MIN_WORDING = threshold
                correct, refused = score(assistant, chinese)
                figures["min_wording"][str(threshold)] = {"correct": correct, "refused": refused}
            extractive.MIN_WORDING = defaults[0]
            for threshold in (0.74, 0.76, 0.78, 0.80, 0.82):
                extractive.MIN_SIMILARITY_EN = threshold
                correct, refused = score(assistant, english + off_topic)
                figures["min_similarity_en"][str(threshold)] = {
                    "correct": correct,
                    "refused": refused,
                }
        finally:
            extractive.MIN_WORDING, extractive.MIN_SIMILARITY_EN = defaults
    return figures


def main() -> None:
    figures = run()
    print("Chinese questions (12 answerable, 2 not): MIN_WORDING → correct, refused")
    for threshold, row in figures["min_wording"].items():
        print(f"  {threshold:<5} {row['correct']:>2} correct  {row['refused']} of 2 refused")
    print(f"English questions (2) and {len(ENGLISH_OFF_TOPIC)} off-topic ones: MIN_SIMILARITY_EN")
    for threshold, row in figures["min_similarity_en"].items():
        print(
            f"  {threshold:<5} {row['correct']} correct  "
            f"{row['refused']} of {len(ENGLISH_OFF_TOPIC)} off-topic refused"
        )


if __name__ == "__main__":
    main()
