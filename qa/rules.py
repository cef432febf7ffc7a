"""The answer rules: every weight and threshold of question analysis, retrieval's fusion and
re-sorting, the extractive answerer and the support check, one frozen dataclass per stage, grouped
in `Rules`.

The pipeline is handed one `Rules` (`Assistant(rules=…)`, `answer(rules=…)`, `evaluate(rules=…)`;
default `Rules()`); a benchmark varies one with `dataclasses.replace` and passes it in. Each
field says what it does and which benchmark its value comes from; the figures are in
docs/BENCHMARKS.md under the section named.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _rule(default, description: str):
    return field(default=default, metadata={"description": description})


@dataclass(frozen=True)
class QuestionRules:
    """How a question's words are weighed (qa/question.py)."""

    name_weight: float = _rule(
        3.0,
        "A name or number of the question counts this many times its IDF: the answer must be "
        "about it. Calibrated with the answer rules (bench/refusal.py; docs/BENCHMARKS.md, "
        "'Extractive answers on both Chinese usages').",
    )
    prior_chunks: int = _rule(
        30,
        "A word's rarity is BM25's IDF smoothed by this many made-up chunks, so that over an "
        "index of a few chunks a word the question says otherwise does not outweigh the rest; "
        "100 let a name in most chunks outweigh what is asked of it. bench/small_index.py, "
        "bench/refusal.py (docs/BENCHMARKS.md, '2026-12-07: a question's words weigh nearly the "
        "same over one document as over many').",
    )
    prior_share: float = _rule(
        0.01,
        "The share of the made-up chunks (prior_chunks) holding every word. Same source as "
        "prior_chunks.",
    )


def _fusion_weights() -> dict[str, dict[str, float]]:
    return {
        "zh": {"dense": 0.6, "bm25": 0.4},
        "en": {"dense": 0.25, "use": 0.25, "dict_bm25": 0.25, "dict_dense": 0.25},
    }


@dataclass(frozen=True)
class RetrievalRules:
    """How candidates are gathered, fused and re-sorted (qa/retrieve/)."""

    fusion_weights: dict[str, dict[str, float]] = field(
        default_factory=_fusion_weights,
        metadata={
            "description": "Each retriever's weight on its z-scored candidate scores, by the "
            "question's language; English's four signals in equal parts, since 120 questions "
            "cannot tell finer weights apart. bench/fusion.py on the CMRC dev subset "
            "(docs/BENCHMARKS.md, 'Retrieval: which fusion')."
        },
    )
    candidates: int = _rule(
        30,
        "Each retriever's list contributes this many candidates: deep enough that the right "
        "chunk is almost always among them, shallow enough that z-scoring stays about the "
        "question's neighbourhood (bench/fusion.py; docs/BENCHMARKS.md, 'Retrieval: which "
        "fusion').",
    )
    rerank_depth: int = _rule(
        20, "A reranker reorders this many of the fused passages, then the best k are kept."
    )
    dict_term_min_weight: float = _rule(
        0.25,
        "An English question's dictionary terms (qa/retrieve/bridge.py) join its dict_dense "
        "query when they stand for at least this share of one English word (bench/fusion.py).",
    )
    dict_terms_in_query: int = _rule(
        8, "At most this many dictionary terms join the dict_dense query, the strongest first."
    )
    wording_depth: int = _rule(
        5,
        "The fused first passages re-sorted by their wording; only this depth was measured, so "
        "a deeper passage stays where it is (bench/lookalike.py; docs/BENCHMARKS.md, "
        "'2026-12-03: retrieval re-sorts its first five passages by their wording').",
    )
    wording_weight: float = _rule(
        2.0,
        "The re-sorting key is fused score + this × the share of the question's words a "
        "passage holds; every weight from 1.5 to 3 gave the same (bench/lookalike.py; "
        "docs/BENCHMARKS.md, 'Retrieval among look-alike paragraphs').",
    )
    rrf_k: int = _rule(
        60,
        "Reciprocal-rank fusion's constant (Cormack et al.), merging a chat follow-up's two "
        "searches when asked to (bench/followup.py).",
    )


@dataclass(frozen=True)
class AnswerRules:
    """How the extractive answerer scores sentences, answers or refuses
    (qa/answering/extractive.py). The weights and min_score were calibrated by bench/refusal.py
    --grid on the DRCD development subset, each question asked as it is and with its own
    paragraph left out, checked on the seed questions, and measured on the CMRC dev subset with
    the same values (docs/BENCHMARKS.md, 'Extractive answers on both Chinese usages')."""

    shortest_sentence: int = _rule(6, "Sentences shorter than this many characters never answer.")
    context_chars: int = _rule(
        200,
        "A sentence's evidence counts this much of its paragraph before it, since what it is "
        "about is often named earlier there.",
    )
    head_chars: int = _rule(
        100,
        "This much of a document's opening (after its title) names its subject for sentences "
        "that later say only 我市.",
    )
    antecedent_chars: int = _rule(
        600,
        "How far back a sentence that speaks of an event bare (會上) looks for the sentence "
        "naming it (476 characters in the case that set it; docs/BENCHMARKS.md, '2026-12-07 "
        "(second session): a meeting spoken of bare is answered with the sentence naming it').",
    )
    longest_heading: int = _rule(
        60,
        "A line of its own at most this long, with no sentence's ending and no label (第二回 "
        "张翼德怒鞭督邮), is a heading: it answers only when it holds the kind asked for. A "
        "chapter or section title is rarely longer; set by reading, not tuned.",
    )
    missing_names_weight: float = _rule(
        1.0,
        "A name or number missing from a sentence's context costs this times its share; 1.0, "
        "not the grid's best 0.5, which answered a question about 深圳 from a sentence about "
        "镇江 (bench/refusal.py --grid on DRCD).",
    )
    similarity_weight: float = _rule(
        4.0,
        "Whether to answer, the sentence's embedding similarity counts this much: e5's "
        "similarities bunch within a few hundredths (bench/refusal.py --grid).",
    )
    similarity_origin: float = _rule(
        0.8, "The similarity that counts nothing; above it adds, below it takes away."
    )
    pick_similarity_weight: float = _rule(
        8.0,
        "Choosing the answering sentence (not whether to answer), similarity counts this much: "
        "the answering sentence often names little the question says and reads most like it "
        "(bench/refusal.py's pick_curve; docs/BENCHMARKS.md, '2026-12-06 (second session): "
        "similarity counts twice in choosing the answering sentence').",
    )
    type_weight: float = _rule(
        0.15,
        "A sentence holding the kind of answer asked for (a year, a number, a name) gets this "
        "more, one without it this less (bench/refusal.py --grid).",
    )
    kind_noun_weight: float = _rule(
        0.5,
        "Choosing the answering sentence, the noun an interrogative asks for (什么地区's 地区) "
        "counts this share of its weight, as the answer names its kind rather than says it; "
        "whether to answer weighs it whole (docs/BENCHMARKS.md, 'CMRC dev subset').",
    )
    opening_share: float = _rule(
        0.25,
        "Choosing the answering sentence, a word the document's title or opening already says "
        "counts this share of its weight, in every sentence: each inherits the subject "
        "(docs/BENCHMARKS.md, 'CMRC dev subset').",
    )
    rank_weight: float = _rule(
        0.2,
        "The first passage's sentence gets this much more than the fifth's (this / rank; "
        "bench/refusal.py --grid).",
    )
    lexical_weight: float = _rule(
        1.0,
        "Whether to answer, the passage's BM25 score over the question's IDF mass counts this "
        "much: it matches whole words where the evidence matches substrings (docs/BENCHMARKS.md, "
        "'2026-12-02 (third session): the unanswerable questions numbered as a real search "
        "would, and BM25 in the refusal').",
    )
    passage_similarity_weight: float = _rule(
        3.0,
        "Whether to answer, the question's similarity to the whole passage counts this much: a "
        "sibling paragraph holds the names as well and reads less like the question "
        "(docs/BENCHMARKS.md, '2026-12-02 (fifth session): the passage's own similarity in the "
        "refusal').",
    )
    min_score: float = _rule(
        1.83,
        "A Chinese question whose best sentence scores below this is refused (bench/refusal.py "
        "curve and margins; docs/BENCHMARKS.md, 'Extractive answers on both Chinese usages' and "
        "'Margins (issue 9)').",
    )
    en_evidence_weight: float = _rule(
        0.1,
        "An English question's sentence scores its similarity + this × the evidence of the "
        "question's dictionary terms (qa/retrieve/bridge.py) (docs/BENCHMARKS.md, '2026-12-04: "
        "English questions answered with the dictionary's terms').",
    )
    min_score_en: float = _rule(
        0.805,
        "An English question whose best sentence scores below this is refused; calibrated on "
        "the 120 English CMRC questions and the seeds' (bench/refusal.py, "
        "bench/extractive_threshold.py; same section as en_evidence_weight).",
    )
    en_type_weight: float = _rule(
        0.01,
        "An English question's sentence holding the kind of answer its interrogative asks for "
        "gets this more, one without it this less (docs/BENCHMARKS.md, '2026-12-04: English "
        "questions weigh the kind of answer they ask for').",
    )
    required_kinds: tuple[str, ...] = _rule(
        ("year", "date", "number"),
        "A Chinese question asking for one of these kinds is refused when none of the sentences "
        "compared holds a span of it, whatever their scores: the kinds its patterns find (a "
        "year, a date, a number in the unit asked), unlike a name, which the tagger may miss. "
        "The refusal the issue asks for: the kind asked for absent from every passage "
        "(docs/BENCHMARKS.md, '2026-12-08: … a number, year or date no passage holds refused').",
    )
    keep_within: float = _rule(
        0.1,
        "A second sentence joins the best one only when its choosing score is within this: "
        "lists and two-part questions (docs/BENCHMARKS.md, 'Margins (issue 9)').",
    )
    max_sentences: int = _rule(2, "An answer quotes at most this many chosen sentences.")
    most_embedded: int = _rule(
        8,
        "Embedding sentences is most of an answer's time: only this many of a Chinese "
        "question's sentences, the best by evidence, are compared.",
    )
    most_embedded_en: int = _rule(
        24,
        "As most_embedded for an English question, more: its dictionary terms pre-select less "
        "surely than a Chinese question's own words.",
    )
    short_answer_types: tuple[str, ...] = _rule(
        ("year", "date", "number", "person", "event"),
        "The kinds whose span the rules find reliably enough to show as a short answer to a "
        "Chinese question (bench/refusal.py on DRCD; docs/BENCHMARKS.md, '2026-12-06: a named "
        "event is a kind of answer').",
    )
    short_answer_types_en: tuple[str, ...] = _rule(
        ("year", "date"),
        "The same for an English question, which says no measure word to tell a number's span "
        "by (docs/BENCHMARKS.md, '2026-12-04: English questions weigh the kind of answer they "
        "ask for').",
    )


@dataclass(frozen=True)
class SupportRules:
    """When the passages an answer sentence cites back it (qa/verify/support.py). Calibrated by
    bench/support_check.py on claims made from the CMRC dev subset (docs/BENCHMARKS.md, 'Support
    check')."""

    min_overlap: float = _rule(
        0.5,
        "A sentence in its passages' script is backed when at least this share of its wording is "
        "found there; 0.6 loses an eighth of the right claims for two points on the wrong.",
    )
    min_similarity: float = _rule(
        0.84,
        "A sentence in another script is backed when its embedding is at least this similar to "
        "a cited sentence; across languages the similarity separates far less.",
    )


@dataclass(frozen=True)
class Rules:
    """The rules of every stage, handed to the pipeline as one."""

    question: QuestionRules = field(default_factory=QuestionRules)
    retrieval: RetrievalRules = field(default_factory=RetrievalRules)
    answer: AnswerRules = field(default_factory=AnswerRules)
    support: SupportRules = field(default_factory=SupportRules)
