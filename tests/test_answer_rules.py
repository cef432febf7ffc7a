"""The answer rules are one frozen value, and the pipeline answers by the rules it is handed."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace

import pytest

from qa.api import Assistant
from qa.rules import Rules

QUESTION = "镇江提出哪一年实现碳峰值？"


def test_the_rules_cannot_be_changed_in_place():
    rules = Rules()
    with pytest.raises(FrozenInstanceError):
        rules.answer.min_score = 0.0  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        rules.answer = rules.answer  # type: ignore[misc]


def test_a_real_answer_is_refused_under_an_unreachable_refusal_threshold(seed_index):
    assert not Assistant(index=seed_index, backend="extractive").ask(QUESTION).abstained
    defaults = Rules()
    unreachable = replace(defaults, answer=replace(defaults.answer, min_score=100.0))
    answer = Assistant(index=seed_index, backend="extractive", rules=unreachable).ask(QUESTION)
    assert answer.abstained


def test_the_support_check_judges_by_the_rules_handed_to_the_pipeline(seed_index):
    defaults = Rules()
    # no sentence shares more than all of its wording with its passage: each is unsupported,
    # dropped, and nothing left to say is the refusal
    strict = replace(defaults, support=replace(defaults.support, min_overlap=1.01))
    answer = Assistant(index=seed_index, backend="extractive", rules=strict).ask(QUESTION)
    assert answer.abstained and answer.dropped
