"""Answers without a chat model: the best one to three sentences of the passages, each cited.

The question is segmented and tagged by jieba (embeddings.lexical.tagged, qa's one tagger). Its content
words are weighted by their IDF in the index's own BM25 statistics, names and numbers more; what
only asks (the interrogative words) or only joins (particles, prepositions, conjunctions, adverbs,
pronouns: 之, 皆, 乃, 的, 与) weighs nothing, by part of speech rather than by a list of one
region's phrasings. A sentence's evidence is the weighted share of those words that it and the
text before it hold, graded, so a word the segmenter cut oddly costs a little and a missing name
costs much. Evidence, embedding similarity, whether the sentence holds the kind of thing asked for
(a year for 哪一年), the passage's rank, its BM25 score (whole words, where the evidence
matches substrings) and its own similarity to the question add up to one score; below MIN_SCORE
the answer is the refusal. Which sentence answers is chosen by the same sum, without the
passage's BM25 and similarity, with the subject the document's opening already names, and the
kind of thing asked (什么地区's 地区), counting less. An English question over Chinese text shares
no wording: its embedding decides alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

from embeddings.chunking import sentence_spans
from embeddings.cleaning import matching_form, question_language, spaceless_form
from embeddings.embedders import Embedder
from embeddings.lexical import tagged
from embeddings.records import real_title
from qa.answering.base import Draft, OnToken, refusal
from qa.context import QuestionContext
from qa.markers import neutralized
from qa.records import Passage

_SHORTEST_SENTENCE = 6
_CONTEXT_CHARS = 200
_HEAD_CHARS = 100

# Calibrated by bench/refusal.py --grid on the DRCD development subset (Taiwan usage), each
# question asked as it is and with its own paragraph left out (made unanswerable); checked on the
# seed questions; the CMRC dev subset (mainland usage) is measured with the same weights and
# threshold. docs/BENCHMARKS.md has both curves and the decisions within 0.01 of each threshold.
# A missing name costs 1.0, not the grid's best 0.5: at 0.5 a question about 深圳 was answered
# from a sentence about 镇江 (DRCD accuracy 0.822 against 0.854, every target met).
NAME_WEIGHT = 3.0  # a name or number of the question counts this many times its IDF
MISSING_NAMES_WEIGHT = 1.0  # and, missing from the context, costs this times its share
SIMILARITY_WEIGHT = 4.0  # e5 similarities bunch within a few hundredths: spread them out
SIMILARITY_ORIGIN = 0.8
TYPE_WEIGHT = 0.15  # the sentence holds the kind of answer asked for (a year, a number, a name)
# Choosing the answering sentence (not whether to answer), the noun an interrogative asks for
# (什么地区, 哪个地方, 什么小说) counts this share of its weight: it says the answer's kind, which
# the answering sentence names rather than says. Whether to answer weighs it whole: 镇江有什么特产
# over documents without one is refused because no sentence says 特产.
KIND_NOUN_WEIGHT = 0.5
# Choosing the answering sentence, a word the document's title or opening already says counts
# this share of its weight, in every sentence: each of them inherits the subject.
OPENING_SHARE = 0.25
RANK_WEIGHT = 0.2  # the first passage's sentence gets this much more than the fifth's
# Whether to answer, the passage's BM25 score over the question's IDF mass counts this much: it
# matches whole words (谢尔 is not found in 谢尔吉耶夫镇, as the evidence's substrings find it).
LEXICAL_WEIGHT = 1.0
# Whether to answer, the question's similarity to the whole passage (retrieval's dense score)
# counts this much: a sibling paragraph of the same article holds the question's names in a
# sentence as well as the answering one does, and reads less like the question as a whole.
PASSAGE_SIMILARITY_WEIGHT = 3.0
MIN_SCORE = 1.82
MIN_SIMILARITY_EN = 0.78
# Extra sentences join the best one only when nearly as good: lists and two-part questions.
KEEP_WITHIN = 0.1
MAX_SENTENCES = 2
MOST_EMBEDDED = 8
# An English question has no wording to pre-select by: the first sentences in passage order.
MOST_EMBEDDED_EN = 24

# Interrogative morphemes of both usages (吕叔湘《现代汉语八百词》's 疑问代词 and the literary 何,
# 孰 that Taiwan's written usage keeps): a word containing one asks; it names no content.
_ASKING_MORPHEMES = re.compile(r"[哪谁何孰几啥甚吗呢]|什么|怎|多少|多久|多长|多大|多高|多远")
# jieba's tags of words that join or point rather than name: particles (u*), prepositions (p),
# conjunctions (c), modal particles (y), interjections (e), onomatopoeia (o), pronouns (r),
# adverbs (d), punctuation (x).
_FUNCTION_TAGS = ("u", "p", "c", "y", "e", "o", "r", "d", "x")
# ICTCLAS, whose tag set jieba's follows, files the copula and the existential verb apart (vshi,
# vyou): they link, as 的 does. A one-character localiser (中, 上, 后) only places.
_LINKING_VERBS = frozenset({"是", "有"})
_NAME_TAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nt", "nz", "eng"})
_NUMBER = re.compile(r"\d")
# What may not touch a number or Latin word where it is found: 16 is not in 2016 (100 is in
# 100m), 32b not in 32bis.
_GLUED_TO_NUMBER = "0-9"
_GLUED_TO_WORD = "0-9a-z"

# What an interrogative (with the word after it) asks for, judged by the characters it holds.
_ANSWER_TYPES = (
    ("year", re.compile(r"年(?!龄|纪|级)")),
    ("date", re.compile(r"何时|时候|时间|时期|日期|哪天|哪一天|几月|几日|何日|世纪")),
    ("person", re.compile(r"谁|何人|哪位|哪一位|什么人|孰")),
    ("place", re.compile(r"哪里|哪儿|何地|何处|在哪|国家|城市|地区|省|州|县|岛|地方|国")),
    ("organisation", re.compile(r"公司|组织|机构|大学|学校|球队|俱乐部|团体|政党|部门|企业|银行")),
    ("number", re.compile(r"多少|几|多久|多长|多大|多高|多远")),
)
# Measure words and units a number is said with (30个, 13.52亿元, 56.5%), so the span is what
# the question counts.
_UNITS = (
    r"%|个|人|元|美元|米|公里|千米|平方公里|公顷|吨|年|岁|次|位|名|座|家|所|条|项|种|件|台|辆|倍|号"
    r"|届|场|天|日|月|周|小时|分钟|秒|公斤|千克|克|度|层|册|部|首|本|集|户|株|只|头|枚|间|英尺|英里"
)
_MEASURE = rf"(?:[万亿千百]*[多余]?(?:{_UNITS}))?"
_UNIT = re.compile(rf"(?:{_UNITS})")
# The kinds whose span the rules find reliably (bench/refusal.py on DRCD: a year's span is in the
# gold answer 9 times in 10, a place's not one in two): the others get no short answer.
SHORT_ANSWER_TYPES = ("year", "date", "number", "person")
_TYPE_SPANS = {
    "year": re.compile(r"\d{3,4}年|[一二三四五六七八九〇零]{4}年"),
    "date": re.compile(r"\d{3,4}年(?:\d{1,2}月(?:\d{1,2}日)?)?|\d{1,2}月\d{1,2}日|\d{1,2}世纪"),
    "number": re.compile(r"\d+(?:[.,]\d+)*" + _MEASURE),
}
# A place or an organisation is any proper name: the tagger often files one under another
# class (马祖 as a person, 清华 as a place); they get no short answer, only the type's credit.
_TYPE_TAGS = {
    "person": frozenset({"nr", "nrt", "nrfg"}),
    "place": _NAME_TAGS - {"eng"},
    "organisation": _NAME_TAGS - {"eng"},
}


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
    answer_type: str | None  # year, date, number, person, place, organisation, or not clear
    unit: str  # the measure word a number is asked in (多少人 → 人), "" when none is said
    form: str  # the matching form, to tell a span the question already says
    idf_mass: float  # its content words' IDF, summed, the kind noun's left out: BM25's most


def analyse(question: str, idf: Callable[[str], float]) -> Question:
    """The question's weighted content words and the kind of answer it asks for (linear in its
    length: one pass of the tagger, one look at each word's neighbour)."""
    form = matching_form(question)
    words = tagged(form)
    weights: dict[str, Term] = {}
    idfs: dict[str, float] = {}
    answer_type, unit = None, ""
    kind_noun = None
    asking_until = 0  # past the interrogative and the numerals it takes (哪/一场, 哪/三个)
    for i, (word, tag) in enumerate(words):
        if i < asking_until:
            continue
        if _ASKING_MORPHEMES.search(word):
            asking_until = _past_numerals(words, i + 1)
            if kind_noun is None:
                kind_noun = _kind_noun(words, asking_until)
            if answer_type is None:
                # the noun it asks about may follow a numeral (哪/一/地区)
                following = "".join(w for w, _ in words[i + 1 : i + 3])
                answer_type = _answer_type(word + following)
                unit = _asked_unit(word, following)
            continue
        if _names_nothing(word, tag):
            continue
        whole = bool(_NUMBER.search(word)) or word.isascii()
        kind = i == kind_noun
        # the kind asked for is no name, however tagged: 什么东西's 东西 (ns), 哪一个城市's 城市
        name = whole or (tag in _NAME_TAGS and not kind)
        rarity = idf(word)
        if not kind:  # the answer names its kind (西太平洋 for 什么地区) more than it says it
            idfs[word] = rarity
        weight = rarity * (NAME_WEIGHT if name else 1.0)
        if word not in weights or weights[word].weight < weight:
            weights[word] = Term(word, weight, whole, name, kind=kind)
    return Question(list(weights.values()), answer_type, unit, form, sum(idfs.values()))


def _names_nothing(word: str, tag: str) -> bool:
    return (
        not word.strip()
        or tag.startswith(_FUNCTION_TAGS)
        or word in _LINKING_VERBS
        or (tag == "f" and len(word) == 1)
    )


def _past_numerals(words: list[tuple[str, str]], at: int) -> int:
    """The position past the numerals written in characters from `at` on: after 哪 they are part
    of the interrogative (哪/一场/革命's 一场 names nothing; 哪/2019/年's 2019 does)."""
    while at < len(words) and words[at][1] == "m" and not _NUMBER.search(words[at][0]):
        at += 1
    return at


def _kind_noun(words: list[tuple[str, str]], at: int) -> int | None:
    """`at` when the word there is a noun, the one an interrogative before it asks for (哪/一/地区's
    地区, 哪个/地方's 地方), else None."""
    return at if at < len(words) and words[at][1].startswith("n") else None


def _asked_unit(asking: str, following: str) -> str:
    """几岁 → 岁, 多少 个 → 个: the measure word right after 几 or 多少, in or after the word."""
    found = re.search(r"(?:几|多少)(.*)", asking + following)
    if not found:
        return ""
    unit = _UNIT.match(found.group(1))
    return unit.group() if unit else ""


def _answer_type(asking: str) -> str | None:
    for name, pattern in _ANSWER_TYPES:
        if pattern.search(asking):
            return name
    return None


def _pick_weight(term: Term, opening: str) -> float:
    """The term's weight in choosing among sentences that may answer (OPENING_SHARE,
    KIND_NOUN_WEIGHT)."""
    inherited = 1 - (1 - OPENING_SHARE) * _held(term, opening)
    return term.weight * inherited * (KIND_NOUN_WEIGHT if term.kind else 1.0)


def _bigrams(word: str) -> list[str]:
    return [word[i : i + 2] for i in range(len(word) - 1)]


def _held(term: Term, form: str) -> float:
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
    return sum(term.weight * _held(term, form) for term in terms) / total


def answer_span(question: Question, sentence: str) -> str | None:
    """The span of the sentence of the kind the question asks for, not said by the question,
    nearest to the question's own words there (镇江提出哪一年实现碳峰值 → 2020年); None when the
    kind is not clear or the sentence holds none."""
    kind = question.answer_type
    form = matching_form(sentence)
    if kind is None or len(form) != len(sentence):
        return None  # (a span's place in the original is unknown when the forms differ)
    if kind in _TYPE_SPANS:
        spans = [(m.start(), m.end()) for m in _TYPE_SPANS[kind].finditer(form)]
    else:
        spans, at = [], 0
        for word, tag in tagged(form):
            if tag in _TYPE_TAGS[kind] and len(word) > 1:
                spans.append((at, at + len(word)))
            at += len(word)
    spans = [(a, b) for a, b in spans if form[a:b] not in question.form]
    if kind == "number":  # 多少人 is answered by 29.48万人, not by 5760.72亿元 beside it
        spans = [(a, b) for a, b in spans if form[a:b].endswith(question.unit)]
    if not spans:
        return None
    held = [
        (found.start(), found.end())
        for term in question.terms
        for found in re.finditer(re.escape(term.text), form)
    ]

    def distance(span: tuple[int, int]) -> int:
        return min((max(a - span[1], span[0] - b, 0) for a, b in held), default=0)

    start, end = min(spans, key=distance)
    return sentence[start:end]


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    text: str
    evidence: float  # coverage of the sentence and of its context, half each
    adds: float  # evidence, the words the document's opening already says counting less
    names: float  # coverage of the question's names and numbers by the context (1: none asked)
    similarity: float
    short_answer: str | None
    typed: bool | None  # holds a span of the kind asked for; None when the kind is not clear
    lexical: float  # the passage's BM25 score over the question's IDF mass
    passage_similarity: float  # the question's embedding similarity to the whole passage

    @property
    def score(self) -> float:
        return combined_score(
            self.evidence,
            self.names,
            self.similarity,
            self.typed,
            self.passage.n,
            LEXICAL_WEIGHT * self.lexical
            + PASSAGE_SIMILARITY_WEIGHT * (self.passage_similarity - SIMILARITY_ORIGIN),
        )

    @property
    def pick_score(self) -> float:
        # without what scores the passage as a whole: the choice is among sentences
        return combined_score(
            self.adds, self.names, self.similarity, self.typed, self.passage.n, passage=0.0
        )


def combined_score(
    evidence: float,
    names: float,
    similarity: float,
    typed: bool | None,
    rank: int,
    passage: float,
) -> float:
    type_term = 0.0 if typed is None else (TYPE_WEIGHT if typed else -TYPE_WEIGHT)
    return (
        evidence
        + passage
        - MISSING_NAMES_WEIGHT * (1 - names)
        + SIMILARITY_WEIGHT * (similarity - SIMILARITY_ORIGIN)
        + type_term
        + RANK_WEIGHT / rank
    )


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embedder: Embedder, idf: Callable[[str], float]):
        self.embedder = embedder
        self.idf = idf  # the index's BM25 statistics

    @staticmethod
    def _document_text(context: QuestionContext, doc_id: str) -> str | None:
        # The answer copies document sentences: a document's own [2][3] must not turn into
        # citations of passages 2 and 3.
        text = context.document_text(doc_id)
        return None if text is None else neutralized(text)

    def candidates(
        self, question: str, passages: list[Passage], context: QuestionContext
    ) -> list[Candidate]:
        """The sentences of the passages likeliest to answer, with their evidence and
        similarity: for a Chinese question the best MOST_EMBEDDED by evidence, for an English
        one the first MOST_EMBEDDED in passage order (their embeddings decide)."""
        chinese = question_language(question) == "zh"
        asked = analyse(question, self.idf)
        names = [term for term in asked.terms if term.name]
        found, seen = [], set()
        for passage in passages:
            document = self._document_text(context, passage.doc_id) or passage.text
            # A document's opening lines name its subject (全面介紹鎮江低碳城市建設經驗) for
            # sentences that later say only 我市.
            head = passage.title + document[:_HEAD_CHARS]
            head_form = spaceless_form(head)
            # What the opening already says counts less in choosing: every sentence of an
            # article about 嘉兴南站 inherits that name, the one that answers included.
            told = [replace(term, weight=_pick_weight(term, head_form)) for term in asked.terms]
            for start, end in sentence_spans(document):
                inside = passage.start <= start and end <= passage.end
                if (
                    not inside
                    or end - start < _SHORTEST_SENTENCE
                    or (passage.doc_id, start) in seen
                ):
                    continue
                seen.add((passage.doc_id, start))  # overlapping chunks repeat sentences
                # What a sentence is about is often named earlier in its paragraph (会上，镇江和
                # 北京…做主旨发言 comes two sentences after the summit's name), so its own
                # evidence and that of its context count half each.
                paragraph_start = document.rfind("\n", 0, start) + 1
                before = document[max(paragraph_start, start - _CONTEXT_CHARS) : start]
                text = document[start:end]
                surrounding = head + before + text
                in_surrounding = coverage(asked.terms, surrounding)
                evidence = (coverage(asked.terms, text) + in_surrounding) / 2
                adds = (coverage(told, text) + coverage(told, surrounding)) / 2
                held = coverage(names, surrounding, empty=1.0)
                found.append((passage, text, evidence, adds, held))
        if not found:
            return []
        # Embedding sentences is most of an answer's time: only the likeliest are compared.
        if chinese:
            found.sort(key=lambda item: -(item[2] - MISSING_NAMES_WEIGHT * (1 - item[4])))
        found = found[: MOST_EMBEDDED if chinese else MOST_EMBEDDED_EN]
        query = context.query_vector(question)
        # Simplified sentences: an English question found its answer sentence at rank 1 among
        # the seeds' sentences this way, at rank 4 on the traditional originals. A Chinese title
        # before them drowned the English question's few shared words: seed-05 fell below
        # MIN_SIMILARITY_EN.
        vectors = self.embedder.embed_passages(
            [_titled(item[0], item[1]) if chinese else matching_form(item[1]) for item in found]
        )
        similarities = vectors @ query
        candidates = []
        for (passage, text, evidence, adds, held), similarity in zip(
            found, similarities, strict=True
        ):
            span = answer_span(asked, text) if chinese else None
            typed = None if asked.answer_type is None or not chinese else span is not None
            short = span if asked.answer_type in SHORT_ANSWER_TYPES else None
            bm25 = passage.signals.get("bm25", (0.0, None))[0]
            lexical = bm25 / asked.idf_mass if asked.idf_mass else 0.0
            # a passage without a dense score (its vectors still being computed) stands in
            # with its sentence's
            dense = passage.signals.get("dense", (float(similarity), None))[0]
            candidates.append(
                Candidate(
                    passage,
                    text,
                    evidence,
                    adds,
                    held,
                    float(similarity),
                    short,
                    typed,
                    lexical=lexical,
                    passage_similarity=dense,
                )
            )
        return candidates

    def answer(
        self,
        question: str,
        passages: list[Passage],
        context: QuestionContext,
        on_token: OnToken | None = None,
    ) -> Draft:
        candidates = self.candidates(question, passages, context)
        chosen = choose(candidates, question_language(question) == "zh")
        if chosen:
            draft = Draft(
                "".join(f"{c.text}[{c.passage.n}]" for c in chosen),
                abstained=False,
                short_answer=chosen[0].short_answer,
            )
        else:
            draft = Draft(refusal(question), abstained=True)
        if on_token:
            on_token(draft.text)
        return draft


def _titled(passage: Passage, sentence: str) -> str:
    """The sentence as its embedding is compared: simplified, after its document's title, so
    that a sentence saying only 本鱼分布于… is about the fish as much as the article's opening
    naming it (CMRC dev answer_accuracy 0.824 → 0.844 by this alone, DRCD 0.830 → 0.834;
    bench/refusal.py)."""
    if real_title(passage.title, passage.doc_id):
        return matching_form(f"{passage.title}：{sentence}")
    return matching_form(sentence)


def choose(candidates: list[Candidate], chinese: bool) -> list[Candidate]:
    """The sentences that answer, best first; none when the best is below the refusal line.

    Whether the documents answer is judged on all the question's words; which sentence answers,
    on what each adds to its document's opening (pick_score): scoring both on all the words
    picked an article's first sentence, which names the subject, over the one that answers
    (bench/refusal.py, docs/BENCHMARKS.md)."""
    if not chinese:
        # Cross-language similarities bunch within a few hundredths: they can pick the best
        # sentence, not tell a second good one from a poor one.
        best = max(candidates, key=lambda c: c.similarity, default=None)
        return [best] if best is not None and best.similarity >= MIN_SIMILARITY_EN else []
    if not candidates or max(c.score for c in candidates) < MIN_SCORE:
        return []
    ranked = sorted(candidates, key=lambda c: -c.pick_score)
    top = ranked[0].pick_score
    return [c for c in ranked[:MAX_SENTENCES] if c.pick_score >= top - KEEP_WITHIN]
