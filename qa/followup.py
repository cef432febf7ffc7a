"""Follow-up questions in a chat: spot the ones that lean on an earlier turn, make them standalone.

「那深圳呢？」 after 「镇江提出哪一年实现碳峰值？」 means 「深圳提出哪一年实现碳峰值？」. With a chat model
the model rewrites it; without one, the subject of the last question is swapped for the new one.
"""

from __future__ import annotations

import logging
import re

from qa.cleaning import has_cjk

_ZH_ELLIPSIS = re.compile(
    r"^(?:那么?|那末|还有|另外)?\s*(?P<subject>[^，,。？?！!]{1,12}?)\s*呢\s*[？?]?$"
)
_ZH_LEADS = re.compile(r"^(?:那么|那)\s*")
_ZH_PRONOUNS = re.compile(
    r"他们|她们|它们|他|她|它|其|该|此|这个|那个|这些|那些|上述|前者|后者|这里|那里"
)
_EN_ELLIPSIS = re.compile(
    r"^(?:and\s+)?(?:what|how)\s+about\s+(?P<subject>.+?)\s*\??$|^and\s+(?P<subject2>.+?)\s*\?$",
    re.IGNORECASE,
)
_EN_PRONOUNS = re.compile(
    r"\b(?:he|she|it|they|them|his|her|its|their|this|that|these|those|there)\b", re.IGNORECASE
)
# jieba part-of-speech tags of names: place, person, organisation, other proper noun
_NAME_TAGS = ("ns", "nr", "nt", "nz")


def _ellipsis_subject(text: str) -> str | None:
    text = text.strip()
    if has_cjk(text):
        match = _ZH_ELLIPSIS.match(text)
        return match.group("subject").strip() if match else None
    match = _EN_ELLIPSIS.match(text)
    if not match:
        return None
    return (match.group("subject") or match.group("subject2")).strip()


def refers_back(text: str) -> bool:
    """Whether a question leans on the conversation: ellipsis (那深圳呢？) or a pronoun (他还说了什么)."""
    if _ellipsis_subject(text):
        return True
    pronouns = _ZH_PRONOUNS if has_cjk(text) else _EN_PRONOUNS
    return pronouns.search(text) is not None


def _names(question: str) -> list[str]:
    if has_cjk(question):
        import jieba
        import jieba.posseg  # loaded only when a chat needs it: about a second

        jieba.setLogLevel(logging.WARNING)
        return [w.word for w in jieba.posseg.cut(question) if w.flag in _NAME_TAGS]
    words = re.findall(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*", question)
    return words[1:] if words and question.startswith(words[0]) and len(words) > 1 else words


def carry_subject(previous: str, follow_up: str) -> str:
    """Make a follow-up standalone without a model, from the last standalone question."""
    subject = _ellipsis_subject(follow_up)
    names = _names(previous)
    if subject:
        subject = _ZH_LEADS.sub("", subject)
        if names:
            return previous.replace(names[0], subject, 1)
        return f"{subject} {previous}"
    if names:
        pronouns = _ZH_PRONOUNS if has_cjk(follow_up) else _EN_PRONOUNS
        return pronouns.sub(names[0], follow_up, count=1)
    return follow_up
