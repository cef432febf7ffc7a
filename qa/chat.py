"""A conversation: each question made standalone if it leans on the last ones, then answered."""

from __future__ import annotations

from qa.answering.base import OnToken
from qa.api import DEFAULT_K, Assistant, checked_k
from qa.followup import carry_subject, refers_back
from qa.records import Answer

HISTORY_TURNS = 3  # the rewriter sees this many earlier turns


class ChatSession:
    def __init__(self, assistant: Assistant, k: int = DEFAULT_K):
        self.assistant = assistant
        self.k = checked_k(k)
        self.history: list[tuple[str, str]] = []  # (standalone question, answer)
        self.last: Answer | None = None

    def reset(self) -> None:
        self.history.clear()
        self.last = None

    def standalone(self, question: str) -> str:
        if not self.history or not refers_back(question):
            return question
        rewriter = self.assistant.rewriter
        if rewriter is not None:
            return rewriter.rewrite(self.history[-HISTORY_TURNS:], question) or question
        titles = [p.title for p in self.last.passages] if self.last else []
        return carry_subject(self.history[-1][0], question, titles)

    def ask(self, question: str, on_token: OnToken | None = None) -> Answer:
        standalone = self.standalone(question)
        answer = self.assistant.ask(
            question,
            self.k,
            on_token,
            standalone_question=standalone if standalone != question else None,
        )
        self.history.append((standalone, answer.answer))
        self.last = answer
        return answer
