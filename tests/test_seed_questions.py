"""The 16 seed questions (tests/data/seed_qa.jsonl, copied from ../shared/eval): retrieval and the
extractive backend, scored the way that folder's README says."""

import pytest

from qa.answering.base import REFUSALS
from qa.api import Assistant
from qa.evaluation import answer_is_correct


@pytest.fixture(scope="module")
def assistant(seed_index):
    return Assistant(index=seed_index, backend="extractive")


def test_every_answerable_question_finds_its_document_in_the_top_5(assistant, seed_questions):
    for q in seed_questions:
        if q["doc_id"]:
            passages = assistant.retriever.search(q["question"], k=5)
            assert q["doc_id"] in {p.doc_id for p in passages}, q["id"]


def test_extractive_answers_hold_their_answer_strings(assistant, seed_questions):
    answerable = [q for q in seed_questions if q["kind"] != "unanswerable"]
    assert len(answerable) == 14
    correct = []
    for q in answerable:
        answer = assistant.ask(q["question"], k=5)
        if not answer.abstained and answer_is_correct(answer.answer, q["answers"], q.get("all_of")):
            correct.append(q["id"])
            # an extractive answer is sentences of the passages, each cited exactly
            assert answer.citations
            for citation in answer.citations:
                text = assistant.retriever.store.document_text(citation.doc_id)
                assert text[citation.start : citation.end] == citation.quote
                assert citation.quote in answer.answer
    assert len(correct) >= 12, f"only {correct}"


def test_both_unanswerable_questions_get_the_refusal(assistant, seed_questions):
    unanswerable = [q for q in seed_questions if q["kind"] == "unanswerable"]
    assert len(unanswerable) == 2
    for q in unanswerable:
        answer = assistant.ask(q["question"], k=5)
        assert answer.abstained, q["id"]
        assert answer.answer == REFUSALS["hans"]  # both are asked in simplified characters
        assert answer.citations == []


def test_the_readme_question_is_answered_2020_citing_zhenjiang(assistant):
    answer = assistant.ask("镇江提出哪一年实现碳峰值？")
    assert "2020" in answer.answer
    assert {c.doc_id for c in answer.citations} == {"000_7aa804dae9d1415a"}
