"""Answers without a chat model: the best one or two sentences of the passages, each cited, one
that opens with a pronoun after the sentence before it, one that speaks of an event bare (會上)
after the sentence naming it; for a question that asks the same of several subjects
(镇江和深圳分别…) and no sentence naming them all, each subject's own.

The question's content words, weighted, and the kind of answer it asks for come from qa.question.
A sentence's evidence is the weighted share of those words that it and the text before it hold.
Evidence, embedding similarity, whether the sentence holds the kind of thing asked for (a year
for 哪一年), the passage's rank, its BM25 score (whole words, where the evidence matches
substrings) and its own similarity to the question add up to one score; below the refusal
threshold (AnswerRules.min_score, qa/rules.py) the answer is the refusal. Which sentence answers
is chosen by the same sum, without the passage's BM25 and similarity, with the sentence's own
similarity counting twice, and the subject the document's opening already names and the kind of
thing asked (什么地区's 地区) counting less.
An English question over Chinese text shares no wording: its embedding, the evidence of the
Chinese terms a dictionary gives for its words and whether the sentence holds the kind of thing
its interrogative asks for (a year for "what year") decide.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

from embeddings.chunking import sentence_spans
from embeddings.cleaning import (
    CJK,
    has_cjk,
    matching_form,
    question_language,
    spaceless_form,
)
from embeddings.embedders import Embedder
from embeddings.lexical import tagged
from embeddings.records import real_title
from qa.answering.base import Draft, OnToken, refusal
from qa.context import QuestionContext
from qa.lang.zh import EVENT_ENDINGS, NAME_TAGS, NAMED_EVENTS, PERSON_TAGS, points_back
from qa.markers import neutralized
from qa.question import (
    MEASURE,
    NUMERAL_COUNT,
    Question,
    SubjectQuestion,
    Term,
    analyse,
    asked_apart,
    coverage,
    english_answer_type,
    share_held,
    word_rarity,
)
from qa.records import Passage
from qa.rules import AnswerRules, Rules

if TYPE_CHECKING:
    from qa.retrieve.retriever import Retriever

_TYPE_SPANS = {
    "year": re.compile(r"\d{3,4}年|[一二三四五六七八九〇零]{4}年"),
    # a month or a range of months answers 什么时候 too (花期3－4月): CMRC short answers 0.736 →
    # 0.748 with 2 more given, answer_accuracy 0.880 → 0.882; DRCD unchanged
    "date": re.compile(
        r"\d{3,4}年(?:\d{1,2}月(?:\d{1,2}日)?)?|\d{1,2}月\d{1,2}日"
        r"|\d{1,2}(?:[-－至到]\d{1,2})?月|\d{1,2}世纪"
    ),
    "number": re.compile(r"\d+(?:[.,]\d+)*" + MEASURE + "|" + NUMERAL_COUNT),
    # what says a cause or a purpose (因地处…而得名, 由于, 为了); not shown as a short answer: a
    # reason is a clause. Its credit refused 3 more of the made-up unanswerable questions of
    # both sets and answered none fewer rightly (docs/BENCHMARKS.md)
    "reason": re.compile(
        r"因为|由于|因此|所以|因而|为了|是因|以致|导致|之所以|原因|缘故|以便|以期|归因|之故"
        r"|因[^，。；]{1,30}而"
    ),
}
# A place or an organisation is any proper name: the tagger often files one under another
# class (马祖 as a person, 清华 as a place); they get no short answer, only the type's credit.
_NAME_DOTS = frozenset("·・‧•")
_HAN = re.compile(f"[{CJK}]+")
_TYPE_TAGS = {
    "person": PERSON_TAGS,
    "place": NAME_TAGS,
    "organisation": NAME_TAGS,
}


def _placed_words(form: str) -> list[tuple[int, str, str]]:
    """The tagger's words with where each starts: (start, word, tag)."""
    words, at = [], 0
    for word, tag in tagged(form):
        words.append((at, word, tag))
        at += len(word)
    return words


def _name_spans(form: str, kind: str) -> list[tuple[int, int]]:
    """The words the tagger files under the kind; for a person, a name written in parts (珍妮·盖诺,
    cut at the dot by the tagger) as one, and nothing inside a title's 《》 (《马路天使》 is a
    film, whatever the tagger says)."""
    words = _placed_words(form)
    spans, titles, i = [], 0, 0
    while i < len(words):
        start, word, tag = words[i]
        titles = max(0, titles + (word == "《") - (word == "》"))
        last = i
        while (
            kind == "person"
            and last + 2 < len(words)
            and words[last + 1][1] in _NAME_DOTS
            and _HAN.fullmatch(words[last][1])
            and _HAN.fullmatch(words[last + 2][1])
        ):
            last += 2
        if last > i:
            spans.append((start, words[last][0] + len(words[last][1])))
            i = last + 1
            continue
        if tag in _TYPE_TAGS[kind] and len(word) > 1 and not (kind == "person" and titles):
            spans.append((start, start + len(word)))
        i += 1
    return spans


# A sentence names a match by 赛 alone too (外围赛, 锦标赛), after the longer endings so that a
# bare 比赛 names none; a question's 赛 (多少人参赛) asks for no event.
_SENTENCE_EVENT_ENDINGS = (*EVENT_ENDINGS, "赛")
# What a time word said by an event starts with: 会上, 会后, 赛后, 战后.
_EVENT_CHARACTERS = frozenset(ending[-1] for ending in _SENTENCE_EVENT_ENDINGS)
# The words a name before an event's ending is made of: nouns, abbreviations, distinguishing
# words (国际), Latin letters, written numbers (1910年革命), and numerals and measure words
# (第八届, 国家杯's 杯) with one of those; not a time (上午), a demonstrative (这场) or a verb.
_EVENT_NAME_TAGS = frozenset({"j", "b", "eng"})
_EVENT_COUNT_TAGS = frozenset({"m", "q"})


def _event_spans(form: str) -> list[tuple[int, int]]:
    """The named events of the sentence: an event's ending after the words naming it; bare
    (上午会议期间, 出席大会) it names none."""
    words = _placed_words(form)
    spans = []
    for i, (start, word, _) in enumerate(words):
        named = word in NAMED_EVENTS
        ending = next((e for e in _SENTENCE_EVENT_ENDINGS if word.endswith(e)), None)
        if not named and ending is None:
            continue
        first, naming = i, named or len(word) > len(ending or "")
        while first > 0:
            before, tag = words[first - 1][1:]
            if tag.startswith("n") or tag in _EVENT_NAME_TAGS or any(c.isdigit() for c in before):
                naming = True
            elif tag not in _EVENT_COUNT_TAGS:
                break
            first -= 1
        if naming:
            spans.append((words[first][0], start + len(word)))
    return spans


def _pick_weight(term: Term, opening: str, rules: AnswerRules) -> float:
    """The term's weight in choosing among sentences that may answer (opening_share,
    kind_noun_weight)."""
    inherited = 1 - (1 - rules.opening_share) * share_held(term, opening)
    return term.weight * inherited * (rules.kind_noun_weight if term.kind else 1.0)


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
    elif kind == "event":
        spans = _event_spans(form)
    else:
        spans = _name_spans(form, kind)
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
    # The sentence before, shown first, when this one opens with a pronoun (他們一起…, 它是由…):
    # the answer then says whom or what it is about. When this one speaks of the kind of thing
    # asked for without naming it (會上), the nearest sentence before it that names one.
    lead: str = ""
    lead_span: tuple[int, int] | None = None  # the lead's offsets in the document
    # What the sentence is in its document: a statement, a heading (a title, a cover line) or a
    # question the document asks (如何形容2024年的臺灣？)
    role: str = "statement"
    kind: str | None = None  # the kind of answer the question asks for, when clear

    @property
    def answers(self) -> bool:
        """It can stand as an answer: a statement, or a heading holding the kind of answer asked
        for (a cover page's 收稿日期 line for when, a chapter's title for which chapter); never a
        question."""
        return self.role == "statement" or (self.role == "heading" and self.typed is True)

    @property
    def shown(self) -> str:
        return self.lead + self.text

    def score(self, rules: AnswerRules) -> float:
        return combined_score(
            self.evidence,
            self.names,
            self.similarity,
            self.typed,
            self.passage.n,
            rules.lexical_weight * self.lexical
            + rules.passage_similarity_weight * (self.passage_similarity - rules.similarity_origin),
            similarity_weight=rules.similarity_weight,
            rules=rules,
        )

    def english_score(self, rules: AnswerRules) -> float:
        """An English question's score: its words are not the sentence's, so no names, kind
        nouns or passage BM25 count, only the similarity, the evidence of the dictionary's terms
        and whether the sentence holds the kind of answer asked for."""
        type_term = (
            0.0
            if self.typed is None
            else (rules.en_type_weight if self.typed else -rules.en_type_weight)
        )
        return self.similarity + rules.en_evidence_weight * self.evidence + type_term

    def pick_score(self, rules: AnswerRules) -> float:
        # without what scores the passage as a whole: the choice is among sentences
        return combined_score(
            self.adds,
            self.names,
            self.similarity,
            self.typed,
            self.passage.n,
            passage=0.0,
            similarity_weight=rules.pick_similarity_weight,
            rules=rules,
        )


def combined_score(
    evidence: float,
    names: float,
    similarity: float,
    typed: bool | None,
    rank: int,
    passage: float,
    similarity_weight: float,
    rules: AnswerRules,
) -> float:
    type_term = 0.0 if typed is None else (rules.type_weight if typed else -rules.type_weight)
    return (
        evidence
        + passage
        - rules.missing_names_weight * (1 - names)
        + similarity_weight * (similarity - rules.similarity_origin)
        + type_term
        + rules.rank_weight / rank
    )


class _Read(NamedTuple):
    """A sentence of a passage as read before its embedding is compared."""

    passage: Passage
    text: str
    evidence: float
    adds: float
    held: float
    before: tuple[int, int] | None  # the sentence before, where passage and paragraph hold it
    document: str
    spans: list[tuple[int, int]]  # the document's sentences
    at: int  # this one's place among them


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        idf: Callable[[str], float],
        english_terms: Callable[[str], dict[str, float]],
        chunk_count: int,
        vocabulary: Collection[str] | None = None,
        rules: Rules = Rules(),
    ):
        self.embedder = embedder
        self.rules = rules
        self.idf = idf  # the index's BM25 statistics, its passages' BM25 scores read against them
        # the words some chunk holds: a question's word no chunk holds is the asker's own wording
        self.vocabulary = vocabulary
        self.rarity = word_rarity(idf, chunk_count, rules.question)  # what a question's word weighs
        # An English question's words as the index's Chinese terms, each with the share of an
        # English word it stands for (retrieval's dictionary bridge, qa/retrieve/bridge.py).
        self.english_terms = english_terms

    @classmethod
    def over(cls, retriever: Retriever, rules: Rules = Rules()) -> ExtractiveAnswerer:
        """The answerer reading the index the retriever searches."""
        return cls(
            retriever.embedder,
            retriever.store.idf,
            lambda question: retriever.bridge().terms(question),
            retriever.store.chunk_count(),
            retriever.store.vocabulary(),
            rules,
        )

    def _asked(self, question: str, chinese: bool) -> Question:
        """A Chinese question's own content words; an English one's dictionary terms, each
        weighed by its rarity × the share of an English word it stands for, and the kind of answer
        its interrogative asks for."""
        if chinese:
            indexed = None if self.vocabulary is None else self.vocabulary.__contains__
            return analyse(question, self.idf, self.rarity, indexed, self.rules.question)
        shares = self.english_terms(question)
        terms = [
            Term(term, self.rarity(term) * share, whole=term.isascii(), name=False)
            for term, share in shares.items()
        ]
        answer_type, unit = english_answer_type(question)
        # What the question already says includes the Chinese its words stand for: "whom did Sun
        # Quan make crown prince" is not answered by 孙权.
        said = " ".join([matching_form(question), *(t.text for t in terms)])
        idf_mass = sum(self.idf(term) * share for term, share in shares.items())
        return Question(terms, answer_type, unit, said, idf_mass)

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
        similarity: the best most_embedded by evidence (most_embedded_en for an English
        question, whose evidence is of its dictionary terms), in passage order among equals."""
        rules = self.rules.answer
        chinese = question_language(question) == "zh"
        asked = self._asked(question, chinese)
        names = [term for term in asked.terms if term.name]
        found, seen = [], set()
        # Each document is read and split once, however many passages it has: k passages of one
        # long document must not cost k copies of it.
        documents: dict[str, tuple[str, list[tuple[int, int]]]] = {}
        for passage in passages:
            if passage.doc_id not in documents:
                document = self._document_text(context, passage.doc_id) or passage.text
                documents[passage.doc_id] = (document, sentence_spans(document))
            document, spans = documents[passage.doc_id]
            # A document's opening lines name its subject (全面介紹鎮江低碳城市建設經驗) for
            # sentences that later say only 我市.
            head = passage.title + document[: rules.head_chars]
            head_form = spaceless_form(head)
            # What the opening already says counts less in choosing: every sentence of an
            # article about 嘉兴南站 inherits that name, the one that answers included.
            told = [
                replace(term, weight=_pick_weight(term, head_form, rules)) for term in asked.terms
            ]
            for at, (start, end) in enumerate(spans):
                inside = passage.start <= start and end <= passage.end
                if (
                    not inside
                    or end - start < rules.shortest_sentence
                    or (passage.doc_id, start) in seen
                ):
                    continue
                seen.add((passage.doc_id, start))  # overlapping chunks repeat sentences
                # What a sentence is about is often named earlier in its paragraph (会上，镇江和
                # 北京…做主旨发言 comes two sentences after the summit's name), so its own
                # evidence and that of its context count half each.
                paragraph_start = document.rfind("\n", 0, start) + 1
                before = document[max(paragraph_start, start - rules.context_chars) : start]
                text = document[start:end]
                surrounding = head + before + text
                in_surrounding = coverage(asked.terms, surrounding)
                evidence = (coverage(asked.terms, text) + in_surrounding) / 2
                adds = (coverage(told, text) + coverage(told, surrounding)) / 2
                held = coverage(names, surrounding, empty=1.0)
                # the sentence before, where the passage and the paragraph hold it
                lead_start, lead_end = spans[at - 1] if at else (-1, -1)
                inside_both = max(paragraph_start, passage.start) <= lead_start
                lead = (lead_start, lead_end) if inside_both else None
                found.append(_Read(passage, text, evidence, adds, held, lead, document, spans, at))
        if not found:
            return []
        # Embedding sentences is most of an answer's time: only the likeliest are compared.
        found.sort(key=lambda read: -(read.evidence - rules.missing_names_weight * (1 - read.held)))
        found = found[: rules.most_embedded if chinese else rules.most_embedded_en]
        query = context.query_vector(question)
        # Simplified sentences: an English question found its answer sentence at rank 1 among
        # the seeds' sentences this way, at rank 4 on the traditional originals. A Chinese title
        # before them drowned the English question's few shared words: seed-05 fell below
        # min_score_en.
        vectors = self.embedder.embed_passages(
            [
                _titled(read.passage, read.text) if chinese else matching_form(read.text)
                for read in found
            ]
        )
        similarities = vectors @ query
        candidates = []
        for read, similarity in zip(found, similarities, strict=True):
            passage, text = read.passage, read.text
            span = answer_span(asked, text)
            # The spans' patterns read Chinese (2020年, 30个): an English sentence's kind is unknown.
            kind_known = asked.answer_type is not None and (chinese or has_cjk(text))
            typed = span is not None if kind_known else None
            lead = read.before if _points_back(text) else None
            if typed is False and _names_bare(asked.answer_type, text):
                # 會上，鎮江和北京…做主旨發言 answers which meeting only after the sentence three
                # before it, which names the summit. Not for a pronoun: 這個時期 after 羅馬共和國
                # 中後期 took a year two sentences back (DRCD 0.860 → 0.858).
                lead = _antecedent(asked, read, rules.antecedent_chars) or lead
            shown = rules.short_answer_types if chinese else rules.short_answer_types_en
            short = span if asked.answer_type in shown else None
            bm25 = passage.signals.get("bm25", (0.0, None))[0]
            lexical = bm25 / asked.idf_mass if asked.idf_mass else 0.0
            # a passage without a dense score (its vectors still being computed) stands in
            # with its sentence's
            dense = passage.signals.get("dense", (float(similarity), None))[0]
            candidates.append(
                Candidate(
                    passage,
                    text,
                    read.evidence,
                    read.adds,
                    read.held,
                    float(similarity),
                    short,
                    typed,
                    lexical=lexical,
                    passage_similarity=dense,
                    lead=read.document[lead[0] : lead[1]] if lead else "",
                    lead_span=lead,
                    role=_role(read.document, *read.spans[read.at], rules.longest_heading),
                    kind=asked.answer_type if kind_known else None,
                )
            )
        return candidates

    def answer(
        self,
        question: str,
        passages: list[Passage],
        context: QuestionContext,
        on_token: OnToken | None = None,
        first_quoted: int | None = None,
    ) -> Draft:
        """The answer, or the refusal; on_token is left to the pipeline (the answer is written at
        once). first_quoted: the number a passage quoted beyond those given gets, when not the
        one after the last given (the pipeline's fallback is given some of its passages only)."""
        chinese = question_language(question) == "zh"
        chosen = choose(self.candidates(question, passages, context), chinese, self.rules.answer)
        parts = asked_apart(question) if chinese else []
        short_answer = chosen[0].short_answer if chosen else None
        if parts and not _answers_every_subject(chosen, parts):
            # 镇江和深圳分别…: each subject's own best sentences, in the question's order
            chosen = [
                candidate
                for part in parts
                for candidate in choose(
                    self.candidates(part.question, passages, context), chinese, self.rules.answer
                )
            ]
            short_answer = None
        if not chosen:
            return Draft(refusal(question), abstained=True)
        quoted: list[Passage] = []
        number = first_quoted or max(p.n for p in passages) + 1
        text = _answer_text(
            chosen, lambda c, span: _lead_citation(c, span, passages, quoted, number, context)
        )
        return Draft(text, abstained=False, short_answer=short_answer, quoted=quoted)


def _points_back(sentence: str) -> bool:
    """The sentence opens with a word that points back (他們, 它, 這種, 該校, 其中; the rule chat
    follow-ups are read by): what it is about is named before it."""
    words = tagged(matching_form(sentence))
    return bool(words) and points_back(words[0][0], 0)


# What ends a statement, or a piece of one that its line cut (…就已经大放异彩，); a line without
# one is a heading, a title or a cover line.
_STATEMENT_END = re.compile(r"[。！!；;.…」』”\"）)，,、]$")
_ASKED = re.compile(r"[？?][」』”\"）)]?$")
# A line holding a label and its value (收稿日期：2023年, a table row's 指标：GDP) says something.
_LABELLED = re.compile(r"[：:]")


def _line_alone(document: str, start: int, end: int, longest_heading: int) -> bool:
    """The span is a line of its own, short, with neither a sentence's ending nor a label."""
    text = document[start:end].strip()
    alone = (
        document[max(0, start - 1) : start].strip() == "" and document[end : end + 1].strip() == ""
    )
    return (
        alone
        and not _STATEMENT_END.search(text)
        and not _LABELLED.search(text)
        and len(text) <= longest_heading
    )


def _role(document: str, start: int, end: int, longest_heading: int) -> str:
    """ "question" for a sentence asking (如何形容2024年的臺灣？); "heading" for a line of its own
    without a sentence's ending, a label or much length (第二回 张翼德怒鞭督邮, 全面介紹鎮江低碳
    城市建設經驗) that heads something longer; else "statement". Such a line followed by another
    like it is one of a run of short lines (a cover page's, an advertisement's, a song's), which
    say what the document says (2022年07月19日, -40°C深度防冻不结冰)."""
    text = document[start:end].strip()
    if _ASKED.search(text):
        return "question"
    if not _line_alone(document, start, end, longest_heading):
        return "statement"
    following = re.search(r"\S[^\n]*", document[end : end + 4 * longest_heading])
    if (
        following is not None
        and not _ASKED.search(following.group().strip())
        and _line_alone(document, end + following.start(), end + following.end(), longest_heading)
    ):
        return "statement"
    return "heading"


def _names_bare(kind: str | None, sentence: str) -> bool:
    """The sentence speaks of a thing of the kind asked for without naming it: for an event,
    its ending alone (出席大會, 上午會議期間) or a time said by it (會上, 賽後, 戰後)."""
    if kind != "event":
        return False
    return any(
        word in _SENTENCE_EVENT_ENDINGS or (tag == "t" and word[0] in _EVENT_CHARACTERS)
        for word, tag in tagged(matching_form(sentence))
    )


def _antecedent(asked: Question, read: _Read, within: int) -> tuple[int, int] | None:
    """The nearest sentence before this one, within `within` characters, that holds the kind of
    answer asked for: what a sentence that speaks of it bare (會上) is about."""
    start = read.spans[read.at][0]
    for earlier in range(read.at - 1, -1, -1):
        a, b = read.spans[earlier]
        if a < start - within:
            break
        if answer_span(asked, read.document[a:b]) is not None:
            return a, b
    return None


def _answers_every_subject(chosen: list[Candidate], parts: list[SubjectQuestion]) -> bool:
    """The sentences chosen for the whole question name each subject it asks about apart and
    hold the kind of answer it asks for, where that is clear: 会上，镇江和北京、深圳…做主旨发言
    names both cities and no meeting, so each city is asked apart."""
    shown = spaceless_form("".join(c.shown for c in chosen))
    return (
        bool(chosen)
        and any(c.typed is not False for c in chosen)
        and all(spaceless_form(part.subject) in shown for part in parts)
    )


def _answer_text(
    chosen: list[Candidate], lead_citation: Callable[[Candidate, tuple[int, int]], int | None]
) -> str:
    """The chosen sentences, each after its lead (where a passage holds it), each cited, none
    said twice."""
    said: set[str] = set()
    pieces = []
    for candidate in chosen:
        cited = [(candidate.text, candidate.passage.n)]
        if candidate.lead_span is not None:
            n = lead_citation(candidate, candidate.lead_span)
            cited = cited if n is None else [(candidate.lead, n), *cited]
        for sentence, n in cited:
            if sentence not in said:
                said.add(sentence)
                pieces.append(f"{sentence}[{n}]")
    return "".join(pieces)


def _lead_citation(
    candidate: Candidate,
    lead_span: tuple[int, int],
    passages: list[Passage],
    quoted: list[Passage],
    first_quoted: int,
    context: QuestionContext,
) -> int | None:
    """The number of a passage holding the candidate's lead (lead_span, in its document): its
    own, another retrieved, or the index's chunk that holds it, added to `quoted` (numbered from
    first_quoted); None when no chunk holds it whole."""
    start, end = lead_span
    doc_id = candidate.passage.doc_id
    for passage in (candidate.passage, *passages, *quoted):
        if passage.doc_id == doc_id and passage.start <= start and end <= passage.end:
            return passage.n
    n = first_quoted + len(quoted)
    added = context.passage_holding(doc_id, start, end, n)
    if added is None:
        return None
    quoted.append(added)
    return n


def _titled(passage: Passage, sentence: str) -> str:
    """The sentence as its embedding is compared: simplified, after its document's title, so
    that a sentence saying only 本鱼分布于… is about the fish as much as the article's opening
    naming it (CMRC dev answer_accuracy 0.824 → 0.844 by this alone, DRCD 0.830 → 0.834;
    bench/refusal.py)."""
    if real_title(passage.title, passage.doc_id):
        return matching_form(f"{passage.title}：{sentence}")
    return matching_form(sentence)


def choose(candidates: list[Candidate], chinese: bool, rules: AnswerRules) -> list[Candidate]:
    """The sentences that answer, best first; none when the best is below the refusal line.

    Whether the documents answer is judged on all the question's words; which sentence answers,
    on what each adds to its document's opening (pick_score): scoring both on all the words
    picked an article's first sentence, which names the subject, over the one that answers
    (bench/refusal.py, docs/BENCHMARKS.md)."""
    candidates = [c for c in candidates if c.answers]
    if not chinese:
        # Cross-language similarities bunch within a few hundredths: they can pick the best
        # sentence, not tell a second good one from a poor one.
        best = max(candidates, key=lambda c: c.english_score(rules), default=None)
        return (
            [best] if best is not None and best.english_score(rules) >= rules.min_score_en else []
        )
    if not candidates or max(c.score(rules) for c in candidates) < rules.min_score:
        return []
    if candidates[0].kind in rules.required_kinds and not any(c.typed for c in candidates):
        # 深圳新能源汽车有多少辆？ beside sentences naming 新能源汽车 and no count of vehicles: the
        # documents do not say it.
        return []
    ranked = sorted(candidates, key=lambda c: -c.pick_score(rules))
    top = ranked[0].pick_score(rules)
    return [
        c for c in ranked[: rules.max_sentences] if c.pick_score(rules) >= top - rules.keep_within
    ]
