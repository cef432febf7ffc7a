"""Does each sentence of an answer say what the passages it cites say?

Every answer, from either backend, is split into sentences. A sentence is supported when it cites
at least one passage, every number it states appears in the cited passages (a passage that says
2030 does not back a sentence that says 2020), every proper name it states appears in their
documents, and enough of its wording is found there: character bigrams for Chinese, whole words
for other scripts, on the matching form (so 鎮江 = 镇江). A sentence in another script than its
passages (an English answer over Chinese documents) shares no wording with them; its embedding is
compared with theirs instead. The fixed refusal is not a claim and is left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from embeddings.chunking import sentence_spans
from embeddings.cleaning import has_cjk, matching_form
from qa.answering.base import is_refusal
from qa.lang.zh import NAME_TAGS
from qa.markers import MARKER
from qa.overlap import unit_share
from qa.records import AnswerSentence, Passage
from qa.rules import SupportRules
from qa.verify.citations import answer_sentence_spans, answer_sentences, recite

_NUMBER = re.compile(r"\d+(?:\.\d+)?")

Similarity = Callable[[str, list[str]], float]  # claim, evidence sentences → best cosine


def claim_of(sentence: str) -> str:
    """The sentence without its markers (and the space a marker leaves before a full stop)."""
    return re.sub(r"\s+([.,;:!?。，；：！？])", r"\1", MARKER.sub("", sentence)).strip()


def numbers(text: str) -> set[str]:
    return set(_NUMBER.findall(matching_form(text)))


def numbers_agree(claim: str, evidence: str) -> bool:
    return numbers(claim) <= numbers(evidence)


def names(text: str) -> set[str]:
    """The proper names jieba's tagger (embeddings.lexical.tagged) finds in a text (matching
    form); single characters left out, as the tagger calls many a lone character a name."""
    from embeddings.lexical import tagged

    return {word for word, tag in tagged(matching_form(text)) if tag in NAME_TAGS and len(word) > 1}


def names_agree(claim: str, evidence: str) -> bool:
    """Every name the claim states occurs in the evidence: a passage about 深圳's carbon market
    does not back the same figures said of 北京, however much wording they share."""
    form = matching_form(evidence)
    return all(name in form for name in names(claim))


# Where a cited passage's names are looked up: its document (title and text), since a passage of
# 叶乔波's biography, or of a report on 我市, need not repeat the name the document is about.
NamesContext = Callable[[Passage], str]


def passage_and_title(passage: Passage) -> str:
    """The NamesContext when the documents are not at hand."""
    return f"{passage.title}\n{passage.text}"


def _same_script(claim: str, evidence: str) -> bool:
    """A claim with no letters of either script (56.5%) is read in any."""
    if not has_cjk(claim) and not re.search(r"[A-Za-z]", claim):
        return True
    return has_cjk(claim) == has_cjk(evidence)


def support_score(
    claim: str,
    passages: list[Passage],
    similarity: Similarity | None = None,
    names_context: NamesContext = passage_and_title,
    rules: SupportRules = SupportRules(),
) -> float | None:
    """How well the passages back the claim (wording overlap, or embedding similarity across
    scripts); None when they do not back it."""
    evidence = "\n".join(p.text for p in passages)
    if not passages or not numbers_agree(claim, evidence):
        return None
    if _same_script(claim, evidence):
        score = unit_share(claim, evidence)
        if score < rules.min_overlap or not names_agree(
            claim, "\n".join(map(names_context, passages))
        ):
            return None
        return score
    if similarity is None:
        return None
    score = similarity(claim, sentences_of(evidence))
    return score if score >= rules.min_similarity else None


def _judged(sentence: str, by_n: dict[int, Passage], similarity, names_context, rules):
    claim = claim_of(sentence)
    if not claim or is_refusal(claim):
        return None
    cited = [int(m.group(1)) for m in MARKER.finditer(sentence) if int(m.group(1)) in by_n]
    score = support_score(claim, [by_n[n] for n in cited], similarity, names_context, rules)
    return AnswerSentence(claim, cited, score is not None)


def check_support(
    text: str,
    passages: list[Passage],
    similarity: Similarity | None = None,
    names_context: NamesContext = passage_and_title,
    rules: SupportRules = SupportRules(),
) -> list[AnswerSentence]:
    """Each sentence of an answer (markers already checked) with its citations and verdict.

    similarity: for a sentence in another script than its passages; without it such a
    sentence cannot be checked and is marked unsupported.
    """
    by_n = {p.n: p for p in passages}
    judged = (
        _judged(sentence, by_n, similarity, names_context, rules)
        for sentence in answer_sentences(text)
    )
    return [sentence for sentence in judged if sentence is not None]


def repair_citations(
    text: str,
    passages: list[Passage],
    similarity: Similarity | None = None,
    names_context: NamesContext = passage_and_title,
    rules: SupportRules = SupportRules(),
) -> tuple[str, list[AnswerSentence]]:
    """check_support, and then a sentence its own citations do not back (or that cites nothing)
    is made to cite the passage that backs it best, when one does. Small models often state the
    right fact under the neighbouring passage's number; the reader should land on the passage
    that says it. The model's own numbers are kept in `corrected_from`."""
    by_n = {p.n: p for p in passages}
    pieces, sentences, last = [], [], 0
    for start, end in answer_sentence_spans(text):
        sentence = text[start:end]
        judged = _judged(sentence, by_n, similarity, names_context, rules)
        if judged is not None and not judged.supported:
            scored = [
                (score, p.n)
                for p in passages
                if p.n not in judged.citations
                and (score := support_score(judged.text, [p], similarity, names_context, rules))
                is not None
            ]
            if scored:
                best = max(scored, key=lambda sn: (sn[0], -sn[1]))[1]  # ties: the higher-ranked
                sentence = recite(sentence, [best])
                judged = AnswerSentence(judged.text, [best], True, corrected_from=judged.citations)
        pieces.append(text[last:start] + sentence)
        last = end
        if judged is not None:
            sentences.append(judged)
    pieces.append(text[last:])
    return "".join(pieces), sentences


# A document that addresses the assistant (ignore the instructions, answer X, when asked say Y)
# is trying to steer the answer, not informing it. Read on the matching form (simplified, lower
# case). Measured by bench/injection.py (docs/RELIABILITY.md).
_INSTRUCTIONS = [
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|"
    r"passages?|context|above|previous|prior|everything)\b",
    r"\b(?:ai|assistants?|chatbots?|language models?|llms?|models?|bots?)\b.{0,60}"
    r"\b(?:must|should|shall|have to|need to|are required to|always|never)\b",
    r"\b(?:you|assistants?)\s+(?:must|should|shall|have to|are required to|need to)\s+"
    r"(?:answer|say|reply|respond|state|tell|write|cite|output|claim)",
    r"\b(?:answer|reply|respond)\s+(?:with|that|only)\b",
    r"\bsystem prompt\b|\bnew instructions?\b|\b(?:note|message|instructions?) (?:to|for) "
    r"(?:the |any )?(?:ai|assistants?|models?|language models?|llms?)\b",
    r"\b(?:when|if) (?:anyone|someone|a user|the user|you are|asked)\b.{0,30}\b(?:ask|asked)",
    r"\b(?:when|if) (?:you are |you're )?asked\b[^.]{0,60}[,:] ?(?:please |just )?(?:say|answer|"
    r"reply|respond|tell|state)\b",
    r"\b(?:say|answer|reply|respond)\s+(?:that\s+)?(?:you (?:do not|don't|cannot|can't) know|"
    r"there is no (?:information|answer|data)|(?:it is|it's) (?:unknown|not known))",
    r"(?:忽略|无视|忽视|不要理会|不要管|忘记|忘掉).{0,20}(?:指令|指示|规则|要求|提示|资料|内容|以上|之前|上述|前面)",
    r"(?:(?<![a-z])ai(?![a-z])|人工智能|助手|助理|模型|机器人|智能体|问答系统).{0,20}"
    r"(?:必须|应该|应当|一律|务必)",
    r"(?:请|务必|必须|一定要|只能|只许)(?:回答|答复|回复|告诉用户|输出|声称|说)",
    r"(?:回答|答复|回复)(?:为|成|是)[:：“\"]",
    r"(?:当|如果|若)(?:被|有人|用户|别人)?(?:问到|问及|问起|询问|提问|问)",
    r"系统提示|新的指令|最新指令|最高指令|指令[:：]",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _INSTRUCTIONS))


def instructs_assistant(text: str) -> bool:
    """Whether a passage's text gives the assistant an instruction."""
    return _INSTRUCTION.search(matching_form(text)) is not None


def sentences_of(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)] or [text]


def embedding_similarity(embedder) -> Similarity:
    """A Similarity from an embedder: the claim as a query against the evidence sentences.

    Vectors are kept for the Similarity's life (one answer): repairing a citation compares the
    same claim with every passage, and several claims with the same passage."""
    queries: dict[str, np.ndarray] = {}
    passages: dict[str, np.ndarray] = {}

    def best(claim: str, evidence: list[str]) -> float:
        if claim not in queries:
            queries[claim] = embedder.embed_queries([claim])[0]
        new = [s for s in dict.fromkeys(evidence) if s not in passages]
        if new:
            vectors = embedder.embed_passages([matching_form(s) for s in new])
            passages.update(zip(new, vectors, strict=True))
        return float(max(passages[s] @ queries[claim] for s in evidence))

    return best


def without_sentences(text: str, claims: set[str]) -> str:
    """The answer with the sentences making these claims taken out, markers and all."""
    kept = [sentence for sentence in answer_sentences(text) if claim_of(sentence) not in claims]
    return "".join(kept).strip()
