"""Answers without a chat model: the best one to three sentences of the passages, each cited.

A sentence is scored by two signals: how much of the question's wording it contains (character
bigrams of the matching form, so 鎮江 = 镇江) and how close its embedding is to the question's.
Wording carries Chinese questions; the embedding carries English questions over Chinese text, where
no characters are shared. When the best evidence is too weak the answer is the fixed refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from embeddings.chunking import sentence_spans
from embeddings.cleaning import has_cjk, matching_form
from embeddings.embedders import Embedder
from qa.answering.base import Draft, OnToken, refusal
from qa.records import Passage

# Question words and particles say what is asked, not what the answer sentence contains.
_QUESTION_WORDS = re.compile(
    r"哪一年|哪一天|哪几|哪些|哪个|哪里|哪儿|哪|什么|多少|几个|几|谁|如何|怎么样|怎么|怎样|为什么|"
    r"是否|吗|呢|吧|的|了|是|在|有|请问|分别|啥|[？?！!。，,、：:；;\s]"
)
# A piece that only names the kind of answer wanted need not be repeated by the answer sentence,
# which says 足球运动员, not 职业: the Y of 「X的Y是什么」 and the noun after a question
# determiner (哪个国家, 什么理论, 啥特征).
_ASKING = re.compile(
    r"哪一年|哪一天|哪几|哪些|哪个|哪里|哪儿|哪|什么|多少|几个|几|谁|如何|怎么样|怎么|怎样|为什么|啥"
)
_DETERMINER = re.compile(r"(?:什么样的?|什么|哪个|哪些|哪种|哪类|哪一种|啥|几个|几种|几类)$")
_PARTICLES = "的了是在有为"
_SHORTEST_SENTENCE = 6
_CONTEXT_CHARS = 200
_HEAD_CHARS = 100

# Calibrated by bench/refusal.py on the 500 CMRC dev questions, each asked as it is and with its
# own paragraph left out (made unanswerable), and checked on the seed questions; the curve is in
# docs/BENCHMARKS.md. A Chinese question is answered from a sentence holding at least
# MIN_WORDING of its wording (in and before it), close to it by embedding (MIN_SIMILARITY_ZH),
# with every named piece of the question in that context (EVERY_PIECE_NAMED). 0.4 / 0.88 / yes
# refuses 90.4 % of the unanswerable and 12.8 % of the answerable: of the settings that refuse
# 90 %, the one that refuses fewest answerable questions; without the named pieces the seeds'
# 北京 and 镇江-2019 questions get answered from the wrong city or year.
# An English question needs MIN_SIMILARITY_EN (seeds plus five off-topic English questions,
# bench/extractive_threshold.py: 0.78 keeps the answer and refuses all five).
MIN_WORDING = 0.4
MIN_SIMILARITY_ZH = 0.88
EVERY_PIECE_NAMED = True
MIN_SIMILARITY_EN = 0.78
# Extra sentences join the best one only when nearly as good: lists and two-part questions.
KEEP_WITHIN = 0.9
MAX_SENTENCES = 3
MOST_EMBEDDED = 8


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    text: str
    wording: float
    similarity: float
    touched: bool  # every piece of the question is named in or before the sentence

    @property
    def score(self) -> float:
        return self.wording + self.similarity


# Numbers and Latin words are pieces of their own, matched whole: 2019 is not found in 2020.
_RUNS = re.compile(r"\d+(?:\.\d+)?%?|[a-z]+|[^\da-z]+")


def _is_whole(piece: str) -> bool:
    return piece[0].isdigit() or piece[0].isascii()


def question_pieces(question: str) -> list[str]:
    """The question's content, split at question words and between scripts
    (镇江2019年的地区生产总值是多少 → 镇江 | 2019 | 地区生产总值)."""
    pieces = []
    for part in _QUESTION_WORDS.split(matching_form(question)):
        pieces += [run for run in _RUNS.findall(part) if len(run) >= 2]
    return pieces


def answer_kinds(question: str) -> set[str]:
    """The pieces that only say what kind of answer is asked for (张世昌的职业是什么 → 职业,
    额亦都是哪个国家的开国大臣 → 国家)."""
    form = matching_form(question)
    kinds = set()
    for piece in question_pieces(question):
        for found in re.finditer(re.escape(piece), form):
            before, after = form[: found.start()], form[found.end() :]
            attribute = before.endswith("的") and _ASKING.match(after.lstrip(_PARTICLES))
            if attribute or _DETERMINER.search(before):
                kinds.add(piece)
    return kinds


def _bigrams(piece: str) -> set[str]:
    return {piece[i : i + 2] for i in range(len(piece) - 1)}


def _form(text: str) -> str:
    return re.sub(r"\s+", "", matching_form(text))


def wording(pieces: list[str], context: str) -> float:
    """Share of the question's bigrams that occur in the context."""
    form = _form(context)
    grams = [gram for piece in pieces for gram in _bigrams(piece)]
    return sum(gram in form for gram in grams) / len(grams) if grams else 0.0


def every_piece_touched(pieces: list[str], context: str) -> bool:
    """False when some piece of the question has no bigram in the context (北京 asked about,
    a passage about 深圳 found)."""
    form = _form(context)
    return all(
        piece in form if _is_whole(piece) else any(gram in form for gram in _bigrams(piece))
        for piece in pieces
    )


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        document_text: Callable[[str], str | None],
        query_vector: Callable[[str], np.ndarray],
    ):
        self.embedder = embedder
        self.document_text = document_text
        self.query_vector = query_vector  # the retriever's, so a question is embedded once

    def candidates(
        self, question: str, passages: list[Passage], least_wording: float = 0.0
    ) -> list[Candidate]:
        """Sentences of the passages that could answer: for a Chinese question those holding
        at least `least_wording` of its wording, for an English one all (their embeddings
        decide)."""
        chinese = has_cjk(question)
        pieces = question_pieces(question)
        kinds = answer_kinds(question)
        named = [piece for piece in pieces if piece not in kinds]
        found, seen = [], set()
        for passage in passages:
            document = self.document_text(passage.doc_id) or passage.text
            # A document's opening lines name its subject (全面介紹鎮江低碳城市建設經驗) for
            # sentences that later say only 我市.
            head = passage.title + document[:_HEAD_CHARS]
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
                # wording and that of its context count half each.
                paragraph_start = document.rfind("\n", 0, start) + 1
                before = document[max(paragraph_start, start - _CONTEXT_CHARS) : start]
                text = document[start:end]
                context = head + before + text
                touched = every_piece_touched(named, context)
                share = (wording(pieces, text) + wording(pieces, context)) / 2
                if not chinese or share >= least_wording:
                    found.append((passage, text, share, touched))
        if not found:
            return []
        # Embedding sentences is most of an answer's time: only the likeliest are compared,
        # by wording for Chinese, by passage rank (the order found) for English.
        if chinese:
            found.sort(key=lambda item: -item[2])
        found = found[:MOST_EMBEDDED]
        query = self.query_vector(question)
        # Simplified sentences: an English question found its answer sentence at rank 1 among
        # the seeds' sentences this way, at rank 4 on the traditional originals.
        vectors = self.embedder.embed_passages([matching_form(item[1]) for item in found])
        similarities = vectors @ query
        return [
            Candidate(passage, text, share, float(similarity), touched)
            for (passage, text, share, touched), similarity in zip(found, similarities, strict=True)
        ]

    def answer(self, question: str, passages: list[Passage], on_token: OnToken | None = None):
        candidates = self.candidates(question, passages, MIN_WORDING)
        most = MAX_SENTENCES
        if has_cjk(question):
            # Every piece must be named: a question about 深圳 is not answered by a sentence
            # about 镇江, however much of the rest matches.
            candidates = [
                c
                for c in candidates
                if (c.touched or not EVERY_PIECE_NAMED) and c.similarity >= MIN_SIMILARITY_ZH
            ]
        else:
            candidates = [c for c in candidates if c.similarity >= MIN_SIMILARITY_EN]
            # Cross-language similarities bunch within a few hundredths: they can pick the best
            # sentence, not tell a second good one from a poor one.
            most = 1
        chosen: list[Candidate] = []
        for candidate in sorted(candidates, key=lambda c: -c.score):
            if chosen and (len(chosen) == most or candidate.score < KEEP_WITHIN * chosen[0].score):
                break
            chosen.append(candidate)
        if chosen:
            draft = Draft("".join(f"{c.text}[{c.passage.n}]" for c in chosen), abstained=False)
        else:
            draft = Draft(refusal(question), abstained=True)
        if on_token:
            on_token(draft.text)
        return draft
