"""The Chinese word lists and tag sets more than one module reads, each defined once here, and
the rule of which words point back to what was said before.

The tags are jieba's part-of-speech tags (ICTCLAS's set), as embeddings.lexical.tagged gives them.
"""

from __future__ import annotations

import re

# The CJK ideograph ranges: embeddings/ (which never imports qa/) holds their one definition.
from embeddings.cleaning import CJK

__all__ = [
    "AFFIRM_DENY",
    "ASKING_MORPHEMES",
    "CJK",
    "DETERMINING",
    "EVENT_ENDINGS",
    "NAMED_EVENTS",
    "NAME_OR_LATIN_TAGS",
    "NAME_TAGS",
    "PERSON_TAGS",
    "PRONOUN_WORDS",
    "QUESTION_WORDS",
    "points_back",
]

# Proper names: people (nr; nrt transliterated, nrfg …), places (ns), organisations (nt), others (nz).
NAME_TAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nt", "nz"})
PERSON_TAGS = frozenset({"nr", "nrt", "nrfg"})
# A word in Latin letters (eng) names something in a Chinese question as a proper name does.
NAME_OR_LATIN_TAGS = NAME_TAGS | {"eng"}

# Interrogative morphemes of both usages (吕叔湘《现代汉语八百词》's 疑问代词 and the literary 何,
# 孰 that Taiwan's written usage keeps): a word containing one asks; it names no content.
ASKING_MORPHEMES = r"[哪谁何孰几啥甚吗呢嘛]|什么|怎|多少|多久|多长|多大|多高|多远"
# A yes/no question asks by a verb said, then denied (是不是, 有没有, 能不能, 可不可以) or by
# 是否/与否: those characters ask, as an interrogative does; the answer settles the rest.
AFFIRM_DENY = r"(.)[不没]\1|是否|与否"
# An interrogative that stands before the noun it asks for (什么作用, 哪个县, 何种方式): that word is
# the kind asked for whatever the tagger files it as (作用 as a verb).
DETERMINING = r"什么|啥|何种|哪[一]?[个些种类家位样]?"
# The question words a chat follow-up is read by (qa/followup.py), found in text without its tags:
# so 何 counts only in 如何, 为何, 何时 (何炅 asks nothing) and 甚, 呢 not at all; and 是否.
QUESTION_WORDS = r"什么|哪|谁|几|多少|怎|如何|为何|为什么|为啥|何时|吗|是否"

# What a named event ends with (联合国气候变化大会, 第八届深圳国际低碳城论坛, 辛亥革命), and the events
# whose name is the word alone: the kind 哪个会议 asks for, and what the answer names. Not 事件:
# 哪一个事件 is answered by what happened (泰晤士河爆发大恶臭) more than by a name.
EVENT_ENDINGS = tuple(
    "会议 大会 峰会 论坛 年会 博览会 运动会 研讨会 发布会 比赛 大赛 赛事 战役 战争 大战 会战 革命 起义 "
    "典礼".split()
)
NAMED_EVENTS = frozenset({"奥运会", "冬奥会", "亚运会", "世博会", "世界杯"})

# Words, in jieba's cut, that point back: personal pronouns, 其, and 这/那/该/此 alone or with one
# more character (这个, 这座, 那里, 此次, 该线), but not 这么/那么/此外.
PRONOUN_WORDS = frozenset({"他", "她", "它", "他们", "她们", "它们", "其", "上述", "前者", "后者"})
_DEMONSTRATIVE = re.compile(rf"^[这那该此][{CJK}]?$")
_NOT_DEMONSTRATIVE = {"这么", "那么", "那末", "此外", "那就"}


def points_back(word: str, position: int) -> bool:
    """The word (simplified, in jieba's cut, at that position of its text) points back to what
    was said before: a follow-up to the last turn, an answer sentence to the one before it."""
    if word in PRONOUN_WORDS:
        return True
    if word == "其中":  # 「其中哪个最早？」, but not 「……，其中……」 inside a question
        return position == 0
    return bool(_DEMONSTRATIVE.match(word)) and word not in _NOT_DEMONSTRATIVE
