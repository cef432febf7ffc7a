"""The records of the question side, from a retrieved passage to a cited answer."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from embeddings.errors import QAError
from embeddings.records import Chunk, Location, Section, span_location


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, numbered as it is shown to the answerer."""

    n: int
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    # The fused score. The passages are in its order, the first few re-sorted with `wording`, or
    # all of them by `rerank_score` when a cross-encoder reranked them. A passage the answer
    # quotes that retrieval did not return (Draft.quoted) comes after them, scored 0.
    score: float
    # Why it came back (`qa ask --explain`): each retriever's (score, rank), rank None when the
    # passage was not among that retriever's candidates. Retrievers: "dense" and "bm25" for a
    # Chinese question; for an English one "dense", "use", "dict_bm25", "dict_dense" (qa/retrieve/retriever.py).
    signals: dict[str, tuple[float, int | None]] = field(default_factory=dict)
    # The IDF-weighted share of the question's words the passage holds, for the first passages
    # (qa/retrieve/wording.py); None for the others.
    wording: float | None = None
    rerank_score: float | None = None
    location: Location = field(default_factory=Location)  # where the passage sits in its file
    sections: tuple[Section, ...] = ()  # the document's sections it overlaps (offsets in the doc)
    source: str = ""  # the file it came from

    @classmethod
    def of_chunk(
        cls,
        n: int,
        chunk: Chunk,
        score: float,
        source: str,
        signals: dict[str, tuple[float, int | None]] | None = None,
    ) -> Passage:
        """The index's chunk as passage n."""
        return cls(
            n,
            chunk.doc_id,
            chunk.title,
            chunk.text,
            chunk.start,
            chunk.end,
            score=score,
            signals=signals or {},
            location=chunk.location,
            sections=chunk.sections,
            source=source,
        )

    def locate(self, start: int, end: int) -> Location:
        """Where document text[start:end], inside this passage, sits in the file."""
        return span_location(self.sections, start, end) if self.sections else self.location

    def explain(self) -> dict:
        why: dict = {}
        for name, (score, rank) in self.signals.items():
            why[f"{name}_rank"] = rank
            why[f"{name}_score"] = _rounded(score)
        why["fused_score"] = _rounded(self.score)
        why["wording"] = _rounded(self.wording)
        why["rerank_score"] = _rounded(self.rerank_score)
        return why


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def where(location: Location) -> dict:
    """A location as `--json` prints it: page, slide, sheet, row, section. Whether a span is a
    heading marks the index's sections for the answerer; a passage or a quote is no heading."""
    return {k: v for k, v in location.as_dict().items() if k != "heading"}


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    quote: str  # the sentence of the cited passage that backs the claim
    start: int  # offsets of the quote in the document's cleaned text
    end: int
    location: Location = field(default_factory=Location)  # the quote's page, slide, row…
    source: str = ""  # the file it came from

    def to_dict(self) -> dict:
        """Flat, as `qa ask --json` prints it: page, slide, sheet, row, section beside the quote."""
        fields = {k: v for k, v in asdict(self).items() if k != "location"}
        return fields | where(self.location)


@dataclass(frozen=True)
class AnswerSentence:
    text: str  # without its citation markers
    citations: list[int]  # the passage numbers it cites
    supported: bool  # cited, and its cited passages say it (qa/verify/support.py)
    # The numbers the answerer cited, when they did not back the sentence and the passage that
    # does was cited instead (qa/verify/support.py repair_citations); None when left as written.
    corrected_from: list[int] | None = None


@dataclass
class Answer:
    question: str
    answer: str
    citations: list[Citation]
    passages: list[Passage]
    backend: str
    abstained: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The question retrieval actually ran on, when chat rewrote a follow-up.
    standalone_question: str | None = None
    # Citation numbers the answerer wrote that were not among its passages (dropped from `answer`).
    invented_citations: list[int] = field(default_factory=list)
    # Each sentence of the answer with its support verdict; the refusal is not a claim.
    sentences: list[AnswerSentence] = field(default_factory=list)
    # Sentences taken out of `answer` because their citations do not support them.
    dropped: list[str] = field(default_factory=list)
    # Passages whose text gives the assistant an instruction: read as data, they back no sentence.
    instructing: list[int] = field(default_factory=list)
    # The answering span inside the first cited sentence (2020年 for 哪一年), when the kind of
    # answer asked for is clear; extractive answers only.
    short_answer: str | None = None
    # (chunks searched by their words only, chunks in all) while the index's vectors are still
    # being computed (`qa index` commits new documents' words first); None for a whole index.
    index_incomplete: tuple[int, int] | None = None
    # The `qa index` computing those vectors was stopped: none is running, the next one finishes.
    index_interrupted: bool = False

    def to_json(self, explain: bool = False) -> str:
        """What `qa ask --json` prints: strict JSON, which has no NaN; a score that is not a
        number is an error here rather than a token a JSON parser rejects."""
        try:
            return json.dumps(self.to_dict(explain), ensure_ascii=False, indent=2, allow_nan=False)
        except ValueError:
            raise QAError(
                "the answer holds a score that is not a number; run `qa index --check` to find "
                "the damaged index file"
            ) from None

    def to_dict(self, explain: bool = False) -> dict:
        passages = []
        for p in self.passages:
            passage = {"n": p.n, "doc_id": p.doc_id, "title": p.title, "text": p.text}
            passage |= {"source": p.source} | where(p.location)
            passage["score"] = p.score
            if explain:
                passage["explain"] = p.explain()
            passages.append(passage)
        return {
            "question": self.question,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "passages": passages,
            "backend": self.backend,
            "abstained": self.abstained,
            "timings_ms": self.timings_ms,
            "standalone_question": self.standalone_question,
            "invented_citations": self.invented_citations,
            "sentences": [asdict(s) for s in self.sentences],
            "dropped": self.dropped,
            "instructing": self.instructing,
            "short_answer": self.short_answer,
            "index_incomplete": (
                None
                if self.index_incomplete is None
                else dict(zip(("words_only", "chunks"), self.index_incomplete, strict=True))
            ),
            "index_interrupted": self.index_interrupted,
        }
