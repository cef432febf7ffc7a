"""What an answer backend is (Answerer, and Rewriter for one that can make a follow-up
standalone), what it returns, and the refusal sentence they all use, in the asker's script."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from embeddings.cleaning import question_script

if TYPE_CHECKING:
    from qa.context import QuestionContext
    from qa.records import Passage

# One fixed sentence per script, so people and programs can tell a refusal from an answer, and
# a reader gets it in the script they asked in (hans: simplified, hant: traditional).
REFUSALS = {
    "hans": "资料中没有相关信息。",
    "hant": "資料中沒有相關資訊。",
    "en": "The documents do not say.",
}

OnToken = Callable[[str], None]


@dataclass
class Draft:
    text: str
    abstained: bool
    short_answer: str | None = None  # the answering span, where the kind of answer is clear
    # Passages the answer cites besides those it was given, numbered after them: the chunk of a
    # sentence that says what a quoted one points back to (會上 → the summit named before it).
    quoted: list[Passage] = field(default_factory=list)


class Answerer(Protocol):
    name: str  # reported as Answer.backend

    def answer(
        self,
        question: str,
        passages: list[Passage],
        context: QuestionContext,
        on_token: OnToken | None = None,
    ) -> Draft:
        """A draft answer citing passages by their numbers [n], or the refusal; streamed to
        on_token as it is written when given (a backend that writes it at once leaves on_token
        to the pipeline, which shows the checked answer). context: the question's vectors and
        documents."""
        ...


class Rewriter(Protocol):
    def rewrite(self, history: list[tuple[str, str]], question: str) -> str:
        """A follow-up question made standalone from the (question, answer) turns before it."""
        ...


def refusal(question: str) -> str:
    return REFUSALS[question_script(question)]


def _bare(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def is_refusal(text: str) -> bool:
    """A reply that is, or opens with, one of the refusal sentences (models add a word or two)."""
    bare = _bare(text)
    return any(bare.startswith(_bare(sentence)) for sentence in REFUSALS.values())


# Everything the terminal says around an answer, in the asker's script (one home, as the refusal).
MESSAGES = {
    "hans": {
        "sources": "来源：",
        "characters": "第 {start}-{end} 字",
        "unsupported": "所引资料不支持的句子（使用前请核对）：",
        "no_citation": "无引用",
        "corrected": "引用已改为说出该句的资料：",
        "left_out": "（略去了 {n} 句所引资料不支持的话）",
        "fallback": "（聊天模型拒答，或所说内容都没有资料支持：改用文档原句）",
        "chat_model_hint": "（摘录式回答：设置 OPENAI_BASE_URL、OPENAI_API_KEY 和 QA_MODEL，"
        "即可由聊天模型写回答）",
        "incomplete": "（索引仍在建立：{m} 段中有 {n} 段暂时只按词语检索）",
        "interrupted": "（索引不完整：上次 qa index 未完成就停止了，{m} 段中有 {n} 段只按词语检索；"
        "运行 `{command}` 即可接着完成）",
        "instructing": "（资料 {cited} 含有对助手的指令：只当作资料读，不作任何句子的依据）",
    },
    "hant": {
        "sources": "來源：",
        "characters": "第 {start}-{end} 字",
        "unsupported": "所引資料不支持的句子（使用前請核對）：",
        "no_citation": "無引用",
        "corrected": "引用已改為說出該句的資料：",
        "left_out": "（略去了 {n} 句所引資料不支持的話）",
        "fallback": "（聊天模型拒答，或所說內容都沒有資料支持：改用文件原句）",
        "chat_model_hint": "（摘錄式回答：設定 OPENAI_BASE_URL、OPENAI_API_KEY 和 QA_MODEL，"
        "即可由聊天模型寫回答）",
        "incomplete": "（索引仍在建立：{m} 段中有 {n} 段暫時只按詞語檢索）",
        "interrupted": "（索引不完整：上次 qa index 未完成就停止了，{m} 段中有 {n} 段只按詞語檢索；"
        "執行 `{command}` 即可接著完成）",
        "instructing": "（資料 {cited} 含有對助手的指令：只當作資料讀，不作任何句子的依據）",
    },
    "en": {
        "sources": "Sources:",
        "characters": "characters {start}-{end}",
        "unsupported": "Not supported by the passages it cites (check before use):",
        "no_citation": "no citation",
        "corrected": "Citations corrected to the passage that says it:",
        "left_out": "(left out {n} sentence(s) their citations do not support)",
        "fallback": "(the chat model refused, or said nothing its passages support: "
        "the documents' own sentences instead)",
        "chat_model_hint": "(extractive answer: set OPENAI_BASE_URL, OPENAI_API_KEY and QA_MODEL "
        "to have a chat model write answers)",
        "incomplete": "(the index is still being built: {n} of {m} chunks searched by words only)",
        "interrupted": "(the index is incomplete: a qa index stopped before it finished, so {n} "
        "of {m} chunks are searched by words only; `{command}` finishes it)",
        "instructing": "(passage {cited} gives the assistant instructions: read as data, it backs "
        "no sentence)",
    },
}


def message(question: str, key: str, **values) -> str:
    return MESSAGES[question_script(question)][key].format(**values)
