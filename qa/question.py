"""What a question asks: its content words, weighted, and the kind of answer it wants; how much of
them a text holds.

The question is segmented and tagged by jieba (embeddings.lexical.tagged, qa's one tagger). Its
content words are weighted by their IDF in the index's own BM25 statistics, names and numbers
more; what only asks (the interrogative words) or only joins (particles, prepositions,
conjunctions, adverbs, pronouns: 之, 皆, 乃, 的, 与) weighs nothing, by part of speech rather than
by a list of one region's phrasings. How much of them a text holds is graded, so a word the
segmenter cut oddly costs a little and a missing name costs much. The extractive answerer weighs
sentences by it, retrieval its first passages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from embeddings.cleaning import matching_form, spaceless_form
from embeddings.lexical import tagged
from qa.lang.zh import (
    AFFIRM_DENY,
    ASKING_MORPHEMES,
    DETERMINING,
    EVENT_ENDINGS,
    NAME_OR_LATIN_TAGS,
    NAMED_EVENTS,
)
from qa.rules import QuestionRules

_ASKING_MORPHEMES = re.compile(ASKING_MORPHEMES)
_AFFIRM_DENY = re.compile(AFFIRM_DENY)
_DETERMINING = re.compile(DETERMINING)
# Interrogatives that ask why or how: the words after them are what they ask about (为何中华民国
# 政府…, 怎么划分时间), not the kind of answer (a place, a date). Why asks for a reason.
_ASKS_WHY = re.compile(r"为什么|为何|为甚么|何以|因何")
_ASKS_HOW = re.compile(r"怎|如何")
# jieba's tags of words that join or point rather than name: particles (u*), prepositions (p),
# conjunctions (c), modal particles (y), interjections (e), onomatopoeia (o), pronouns (r),
# adverbs (d), punctuation (x).
_FUNCTION_TAGS = ("u", "p", "c", "y", "e", "o", "r", "d", "x")
# ICTCLAS, whose tag set jieba's follows, files the copula and the existential verb apart (vshi,
# vyou): they link, as 的 does. A one-character localiser (中, 上, 后) only places.
_LINKING_VERBS = frozenset({"是", "有"})
_NUMBER = re.compile(r"\d")
# What may not touch a number or Latin word where it is found: 16 is not in 2016 (100 is in
# 100m), 32b not in 32bis.
_GLUED_TO_NUMBER = "0-9"
_GLUED_TO_WORD = "0-9a-z"

_COUNTING = re.compile(r"多少|几|多久|多长|多大|多高|多远")
# What an interrogative (with the word after it) asks for, judged by the characters it holds.
_ANSWER_TYPES = (
    ("year", re.compile(r"年(?!龄|纪|级)")),
    ("date", re.compile(r"何时|时候|时间|时期|日期|哪天|哪一天|几月|几日|何日|世纪")),
    ("person", re.compile(r"谁|何人|哪位|哪一位|什么人|孰")),
    # before the place: 哪个国际会议 asks for a meeting, not a country
    ("event", re.compile("|".join((*EVENT_ENDINGS, *NAMED_EVENTS)))),
    ("place", re.compile(r"哪里|哪儿|何地|何处|在哪|国家|城市|地区|省|州|县|岛|地方|国")),
    ("organisation", re.compile(r"公司|组织|机构|大学|学校|球队|俱乐部|团体|政党|部门|企业|银行")),
    ("number", _COUNTING),
)
# What an English question (lower case) asks for, by its interrogative: the kinds whose span the
# rules find in a Chinese sentence. A place's or an organisation's credit as well (where, which
# company) answered no more of CMRC's English questions and refused fewer of the unanswerable
# (docs/BENCHMARKS.md).
_ASKS_FOR_A_SHARE = re.compile(r"\b(?:percentage|proportion|rate|ratio)\b")  # said in %
_ENGLISH_ANSWER_TYPES = (
    ("year", re.compile(r"\b(?:what|which) year\b")),
    ("date", re.compile(r"\bwhen\b|\b(?:what|which) (?:date|day|month|century)\b")),
    ("person", re.compile(r"\b(?:who|whom|whose)\b")),
    (
        "number",
        re.compile(
            r"\bhow (?:many|much|long|tall|high|far|old|big|large|deep|wide)\b|"
            + _ASKS_FOR_A_SHARE.pattern
        ),
    ),
)
# Measure words and units a number is said with (30个, 13.52亿元, 56.5%), so the span is what
# the question counts.
_UNITS = (
    r"%|个|人|元|美元|米|公里|千米|平方公里|公顷|吨|年|岁|次|位|名|座|家|所|条|项|种|件|台|辆|倍|号"
    r"|届|场|天|日|月|周|小时|分钟|秒|公斤|千克|克|度|层|册|部|首|本|集|户|株|只|头|枚|间|英尺|英里"
)
MEASURE = rf"(?:[万亿千百]*[多余]?(?:{_UNITS}))?"
# A count in Chinese numerals (第八届, 三个, 两万人): only with its measure word, without which 一
# and 万 are no count (统一, 万一).
NUMERAL_COUNT = rf"[〇零一二两三四五六七八九十百千万亿]+[多余]?(?:{_UNITS})"
_UNIT = re.compile(rf"(?:{_UNITS})")


@dataclass(frozen=True)
class Term:
    text: str  # matching form
    weight: float
    whole: bool  # a number or Latin word: matched whole (2019 is not found in 2020)
    name: bool  # a proper name or a number: what the answer must be about
    kind: bool = False  # the noun the interrogative asks for (什么地区's 地区)


@dataclass(frozen=True)
class Question:
    terms: list[Term]
    # year, date, number, person, event, place, organisation, reason, or None: not clear
    answer_type: str | None
    unit: str  # the measure word a number is asked in (多少人 → 人), "" when none is said
    form: str  # the matching form, to tell a span the question already says
    idf_mass: float  # its content words' IDF, summed, the kind noun's left out: BM25's most


def analyse(
    question: str,
    idf: Callable[[str], float],
    rarity: Callable[[str], float] | None = None,
    indexed: Callable[[str], bool] | None = None,
    rules: QuestionRules = QuestionRules(),
) -> Question:
    """The question's weighted content words and the kind of answer it asks for (linear in its
    length: one pass of the tagger, one look at each word's neighbour). A word weighs its
    `rarity` (word_rarity's smoothed IDF; the IDF itself when none is given); the IDF mass sums
    `idf`, BM25's own, which the passages' BM25 scores are read against; names weigh
    rules.name_weight times more. `indexed`: whether some chunk of the index holds the word; a
    word that no chunk holds and that names nothing (打算, 搞, 啊: the asker's wording) is left
    out, since no sentence could hold it."""
    rarity = rarity or idf
    form = matching_form(question)
    words = _affirm_deny_asks(tagged(form))
    weights: dict[str, Term] = {}
    idfs: dict[str, float] = {}
    answer_type, unit = None, ""
    kind_noun = None
    asking_until = 0  # past the interrogative and the numerals it takes (哪/一场, 哪/三个)
    for i, (word, tag) in enumerate(words):
        if i < asking_until:
            continue
        if _asks(word, tag):
            asking_until = _past_numerals(words, i + 1)
            if kind_noun is None:
                kind_noun = _kind_noun(
                    words, asking_until, _DETERMINING.fullmatch(word) is not None
                )
            if answer_type is None:
                # the noun it asks about may follow a numeral (哪/一/地区)
                following = "".join(w for w, _ in words[i + 1 : i + 3])
                answer_type = _answer_type(word, following)
                unit = _asked_unit(word, following)
            continue
        if _names_nothing(word, tag):
            continue
        whole = bool(_NUMBER.search(word)) or word.isascii()
        # A Latin word no chunk holds is the asker's, like 打算: mostly an abbreviation of what
        # the documents say in Chinese (GDP for 地区生产总值), not a thing they lack.
        if indexed is not None and not indexed(word) and (tag == "eng" or not _names(tag, whole)):
            continue
        kind = i == kind_noun
        # the kind asked for is no name, however tagged: 什么东西's 东西 (ns), 哪一个城市's 城市.
        # Nor is a Latin word: weighed as a name, one the answering paragraph spells otherwise
        # refused answerable CMRC questions (docs/BENCHMARKS.md, '2026-12-08').
        name = tag != "eng" and (whole or (tag in NAME_OR_LATIN_TAGS and not kind))
        if not kind:  # the answer names its kind (西太平洋 for 什么地区) more than it says it
            idfs[word] = idf(word)
        weight = rarity(word) * (rules.name_weight if name else 1.0)
        if word not in weights or weights[word].weight < weight:
            weights[word] = Term(word, weight, whole, name, kind=kind)
    return Question(list(weights.values()), answer_type, unit, form, sum(idfs.values()))


def word_rarity(
    idf: Callable[[str], float], chunk_count: int, rules: QuestionRules = QuestionRules()
) -> Callable[[str], float]:
    """The smoothed rarity of a word, from the index's BM25 IDF over its chunk_count chunks: BM25's
    IDF smoothed by rules.prior_chunks made-up chunks in which every word is held by
    rules.prior_share of them, so that over an index of a few chunks a word the question says
    otherwise (此名 where the document says 得名) does not outweigh them all."""

    def rarity(word: str) -> float:
        # BM25's IDF is ln((N + 1) / (held + 0.5)) for a word `held` of N chunks hold: the made-up
        # chunks add prior_chunks to N and prior_share of them to held + 0.5
        held = (chunk_count + 1) * math.exp(-idf(word)) + rules.prior_share * rules.prior_chunks
        return math.log((chunk_count + rules.prior_chunks + 1) / held)

    return rarity


def _asks(word: str, tag: str) -> bool:
    """The word is an interrogative: it holds one's morpheme and the tagger files it as neither a
    name (几内亚, 新几内亚) nor an adverb (甚至, 几乎, 几经), which hold one and ask nothing."""
    return (
        _ASKING_MORPHEMES.search(word) is not None
        and tag not in NAME_OR_LATIN_TAGS
        and not tag.startswith("d")
    )


def _names_nothing(word: str, tag: str) -> bool:
    return (
        not word.strip()
        # jieba's "eng" (a Latin word: MaxKB, GDP) is no interjection ("e"): it is a content word
        or (tag != "eng" and tag.startswith(_FUNCTION_TAGS))
        or word in _LINKING_VERBS
        or (tag == "f" and len(word) == 1)
    )


def _past_numerals(words: list[tuple[str, str]], at: int) -> int:
    """The position past the numerals written in characters from `at` on: after 哪 they are part
    of the interrogative (哪/一场/革命's 一场 names nothing; 哪/2019/年's 2019 does)."""
    while at < len(words) and words[at][1] == "m" and not _NUMBER.search(words[at][0]):
        at += 1
    return at


def _kind_noun(words: list[tuple[str, str]], at: int, determining: bool) -> int | None:
    """`at` when the word there is a noun, the one an interrogative before it asks for (哪/一/地区's
    地区, 哪个/地方's 地方), or any content word after one that determines a noun (什么/作用), else
    None."""
    if at >= len(words):
        return None
    word, tag = words[at]
    if tag.startswith("n") or (determining and not _names_nothing(word, tag)):
        return at
    return None


# The tagger's classes of words that name a thing (nouns, names, abbreviations, verbs used as
# nouns, Latin words): a question's subject, which a document that never names it does not hold.
_NAMING_TAGS = ("n", "j", "vn", "eng")


def _names(tag: str, whole: bool) -> bool:
    return whole or tag.startswith(_NAMING_TAGS)


def _affirm_deny_asks(words: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The words, those of an affirm-deny question (是不是, 能/不能, 有没有, 是否) tagged as a
    pronoun (r): like an interrogative, they weigh nothing, and a yes/no question asks for no
    kind of answer."""
    text = "".join(word for word, _ in words)
    asking = [False] * len(text)
    for found in _AFFIRM_DENY.finditer(text):
        asking[found.start() : found.end()] = [True] * (found.end() - found.start())
    out, at = [], 0
    for word, tag in words:
        inside = all(asking[at : at + len(word)])
        out.append((word, "r") if inside else (word, tag))
        at += len(word)
    return out


def _asked_unit(asking: str, following: str) -> str:
    """几岁 → 岁, 多少 个 → 个: the measure word right after 几 or 多少, in or after the word."""
    found = re.search(r"(?:几|多少)(.*)", asking + following)
    if not found:
        return ""
    unit = _UNIT.match(found.group(1))
    if unit and unit.group() == "个":
        # 几个人: 个 only counts; the answer says the measure word after it (3—7人)
        counted = _UNIT.match(found.group(1), 1)
        return counted.group() if counted else "个"
    return unit.group() if unit else ""


# A distributive adverb: the question asks the same of each of the subjects joined before it
# (镇江和深圳分别…, 北京、上海和广州各自…). Joining words: jieba files 与 as a preposition.
_APART = frozenset({"分别", "各自"})
_JOINING = frozenset({"和", "与", "及", "跟", "同", "以及", "、"})
_SUBJECT_TAGS = ("n", "m", "t", "j", "eng")
_LONGEST_SUBJECT = 3  # words


@dataclass(frozen=True)
class SubjectQuestion:
    subject: str  # 镇江
    question: str  # the question asked of it alone: 镇江在哪个会议上介绍了自己的低碳经验？


def asked_apart(question: str) -> list[SubjectQuestion]:
    """The question asked of each subject alone when it asks the same of several apart
    (镇江和深圳分别在哪个会议上… → 镇江在哪个会议上…, 深圳在哪个会议上…); [] otherwise. In the
    question's own characters where its matching form keeps their places."""
    form = matching_form(question)
    text = question if len(form) == len(question) else form
    words, at = [], 0
    for word, tag in tagged(form):
        words.append((at, at + len(word), word, tag))
        at += len(word)
    for i, (apart_start, apart_end, word, _) in enumerate(words):
        if word not in _APART:
            continue
        subjects = _joined_subjects(words[:i])
        if subjects:
            first, last = subjects[0][0], subjects[-1][1]
            return [
                SubjectQuestion(
                    text[a:b], text[:first] + text[a:b] + text[last:apart_start] + text[apart_end:]
                )
                for a, b in subjects
            ]
    return []


def _joined_subjects(words: list[tuple[int, int, str, str]]) -> list[tuple[int, int]]:
    """The spans of the subjects joined last before the adverb (in order), when two or more are;
    nothing but words of one clause may stand between them and the adverb."""

    def is_subject_word(word: str, tag: str) -> bool:
        return (
            tag.startswith(_SUBJECT_TAGS)
            or tag in NAME_OR_LATIN_TAGS
            or (tag == "f" and len(word) > 1)
        )

    end = len(words)
    while end > 0 and words[end - 1][2] not in _JOINING:
        if words[end - 1][3] == "x":
            return []  # another clause
        end -= 1
    if end == 0:
        return []
    joining = end - 1
    subjects: list[tuple[int, int]] = []
    right = joining + 1
    stop = right
    while (
        stop < len(words) and stop - right < _LONGEST_SUBJECT and is_subject_word(*words[stop][2:])
    ):
        stop += 1
    if stop == right:
        return []
    subjects.append((words[right][0], words[stop - 1][1]))
    while joining >= 0 and words[joining][2] in _JOINING:
        start = joining
        while (
            start > 0
            and joining - start < _LONGEST_SUBJECT
            and is_subject_word(*words[start - 1][2:])
        ):
            start -= 1
        if start == joining:
            return []
        subjects.insert(0, (words[start][0], words[joining - 1][1]))
        joining = start - 1
    return subjects if len(subjects) > 1 else []


def english_answer_type(question: str) -> tuple[str | None, str]:
    """The kind of answer an English question asks for and the unit it is said in: % for a rate
    or share (the waste recycling rate → 30%), else none."""
    lowered = question.lower()
    for name, pattern in _ENGLISH_ANSWER_TYPES:
        if pattern.search(lowered):
            share = name == "number" and _ASKS_FOR_A_SHARE.search(lowered)
            return name, "%" if share else ""
    return None, ""


def _answer_type(interrogative: str, following: str) -> str | None:
    """The kind the interrogative asks for with the words after it; one that counts (多少, 几)
    asks for a number whatever it counts (多少个国家, 几场比赛), a year or date aside (几月)."""
    if _ASKS_WHY.search(interrogative):
        return "reason"
    if _ASKS_HOW.search(interrogative):
        return None
    counts = _COUNTING.search(interrogative) is not None
    for name, pattern in _ANSWER_TYPES:
        if pattern.search(interrogative + following):
            return "number" if counts and name not in ("year", "date") else name
    return None


def _bigrams(word: str) -> list[str]:
    return [word[i : i + 2] for i in range(len(word) - 1)]


def share_held(term: Term, form: str) -> float:
    """1 when the text holds the word; for a longer Chinese word the share of its bigrams it
    holds (碳峰值 in 碳排放峰值 counts a half); a number or Latin word only whole."""
    if term.whole:
        return 1.0 if _whole_in(term.text, form) else 0.0
    if term.text in form:
        return 1.0
    if len(term.text) < 3:
        return 0.0
    grams = _bigrams(term.text)
    return sum(gram in form for gram in grams) / len(grams)


@lru_cache(maxsize=4096)
def _whole_pattern(word: str) -> re.Pattern[str]:
    glued = _GLUED_TO_NUMBER if re.fullmatch(r"[\d.,]+", word) else _GLUED_TO_WORD
    return re.compile(rf"(?<![{glued}]){re.escape(word)}(?![{glued}])")


def _whole_in(word: str, form: str) -> bool:
    return word in form and _whole_pattern(word).search(form) is not None


def coverage(terms: list[Term], text: str, empty: float = 0.0) -> float:
    """The IDF-weighted share of the terms that the text holds (`empty` when there are none)."""
    total = sum(term.weight for term in terms)
    if not total:
        return empty
    form = spaceless_form(text)
    return sum(term.weight * share_held(term, form) for term in terms) / total
