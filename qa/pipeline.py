"""One question through the stages: retrieve → answer → verify, sharing one QuestionContext.

The verify step is one pass: citations rewritten to the passages given, each sentence judged and
re-pointed (qa/verify/support.py), then the drop policy (unsupported sentences left out unless
asked to show them) and the extractive fallback when a chat model's answer has nothing left.
"""

from __future__ import annotations

import time
from dataclasses import replace

from qa.answering.base import Answerer, OnToken, refusal
from qa.answering.extractive import ExtractiveAnswerer
from qa.context import QuestionContext
from qa.markers import neutralized
from qa.records import Answer, AnswerSentence, Citation, Passage
from qa.retrieve.retriever import Retriever
from qa.rules import Rules
from qa.verify.citations import StreamingMarkerFilter, check_citations
from qa.verify.support import (
    embedding_similarity,
    instructs_assistant,
    repair_citations,
    without_sentences,
)


class Pipeline:
    """A retriever and an answerer, and the checks between the answerer and the reader, under
    one set of rules (those the retriever and the answerer were made with)."""

    def __init__(
        self,
        retriever: Retriever,
        backend: Answerer,
        backend_name: str,
        drop_unsupported: bool,
        rules: Rules = Rules(),
    ):
        self.retriever = retriever
        self.backend = backend
        self.backend_name = backend_name
        self.drop_unsupported = drop_unsupported
        self.rules = rules
        self._extractive_answerer: ExtractiveAnswerer | None = None

    def extractive(self) -> ExtractiveAnswerer:
        """The extractive answerer: the backend, or the chat model's fallback."""
        if isinstance(self.backend, ExtractiveAnswerer):
            return self.backend
        if self._extractive_answerer is None:
            self._extractive_answerer = ExtractiveAnswerer.over(self.retriever, self.rules)
        return self._extractive_answerer

    def ask(
        self,
        question: str,
        k: int,
        on_token: OnToken | None = None,
        standalone_question: str | None = None,
    ) -> Answer:
        """Retrieve (on both the rewrite and the user's own words for a chat follow-up), then
        answer and verify."""
        context = self.retriever.context()
        started = time.perf_counter()
        if standalone_question and standalone_question.strip() != question:
            passages = self.retriever.search_followup(
                standalone_question, question, k, context=context
            )
        else:
            passages = self.retriever.search(question, k, context)
        retrieval_ms = (time.perf_counter() - started) * 1000
        return self.answer_from(
            question, passages, on_token, standalone_question, retrieval_ms, context
        )

    def _supported(
        self,
        text: str,
        citations: list[Citation],
        passages: list[Passage],
        instructing: set[int],
        context: QuestionContext,
    ) -> tuple[str, list[Citation], list[AnswerSentence]]:
        """The answer with misfiled citations re-pointed, its citations and judged sentences.
        A passage that instructs the assistant (its number in `instructing`) backs nothing: what
        it asks for is data, and a sentence it alone would back is flagged as unsupported."""
        evidence = [p for p in passages if p.n not in instructing]

        def names_context(passage: Passage) -> str:
            """A passage's document, title and cleaned text, where names are looked for."""
            return f"{passage.title}\n{context.document_text(passage.doc_id) or passage.text}"

        text, sentences = repair_citations(
            text,
            evidence,
            embedding_similarity(self.retriever.embedder),
            names_context,
            self.rules.support,
        )
        if any(s.corrected_from is not None for s in sentences):
            citations = check_citations(text, passages).citations
        return text, citations, sentences

    def answer_from(
        self,
        question: str,
        passages: list[Passage],
        on_token: OnToken | None = None,
        standalone_question: str | None = None,
        retrieval_ms: float = 0.0,
        context: QuestionContext | None = None,
    ) -> Answer:
        """Answer from passages already retrieved, checking the citations against them.

        on_token gets the answer as it is written with show_unsupported, else the checked
        answer once: a sentence no passage supports is never shown by default."""
        started = time.perf_counter()
        context = context or self.retriever.context()
        stream = None
        streamed = False
        if on_token is not None and not self.drop_unsupported:
            marker_filter = StreamingMarkerFilter({p.n for p in passages})

            def stream(piece: str) -> None:
                nonlocal streamed
                streamed = True
                text = marker_filter.feed(piece)
                if text:
                    on_token(text)

        asked = standalone_question or question
        instructing = {p.n for p in passages if instructs_assistant(p.text)}
        # Document text is data: what looks like a citation marker in it is neutralised before
        # any answerer sees it (the answer's own markers are then the only ones).
        shown = [replace(p, title=neutralized(p.title), text=neutralized(p.text)) for p in passages]
        if isinstance(self.backend, ExtractiveAnswerer):
            # Quoting what it reads, an extractive answer would give a passage's instruction (当被
            # 问到…请回答：资料中没有相关信息) in place of what the others say: it reads only them.
            data = [p for p in shown if p.n not in instructing]
            first_quoted = max((p.n for p in passages), default=0) + 1
            draft = self.backend.answer(asked, data, context, stream, first_quoted)
        else:
            draft = self.backend.answer(asked, shown, context, stream)
        if streamed and on_token is not None:
            rest = marker_filter.flush()
            if rest:
                on_token(rest)
        passages = [*passages, *draft.quoted]
        instructing |= {p.n for p in draft.quoted if instructs_assistant(p.text)}
        checked = check_citations(draft.text, passages)
        invented, backend, abstained = checked.invented, self.backend_name, draft.abstained
        text, citations = checked.text, checked.citations
        sentences: list[AnswerSentence] = []
        short_answer = draft.short_answer
        if not abstained:
            text, citations, sentences = self._supported(
                text, citations, passages, instructing, context
            )
        dropped = []
        if self.drop_unsupported and not all(s.supported for s in sentences):
            dropped = [s.text for s in sentences if not s.supported]
            sentences = [s for s in sentences if s.supported]
            text = without_sentences(text, set(dropped))
            if not sentences:
                text, abstained = refusal(asked), True
            citations = [c for c in citations if any(c.n in s.citations for s in sentences)]
        if abstained and self.drop_unsupported and backend != "extractive" and passages:
            # The model refused, or said nothing its passages back, yet they may hold the answer
            # (small models refuse what they were given): the document's own sentences, which
            # the extractive backend gives only past its calibrated refusal, beat a refusal.
            data = [p for p in shown if p.n not in instructing]
            fallback = self.extractive().answer(
                asked, data, context, first_quoted=max(p.n for p in passages) + 1
            )
            if not fallback.abstained:
                passages = [*passages, *fallback.quoted]
                instructing |= {p.n for p in fallback.quoted if instructs_assistant(p.text)}
                checked = check_citations(fallback.text, passages)
                text, citations, sentences = self._supported(
                    checked.text, checked.citations, passages, instructing, context
                )
                backend, abstained, short_answer = "extractive", False, fallback.short_answer
        if on_token is not None and (self.drop_unsupported or not streamed):
            on_token(text)
        answer_ms = (time.perf_counter() - started) * 1000
        words_only = self.retriever.words_only()
        return Answer(
            question=question,
            answer=text,
            citations=[] if abstained else citations,
            passages=passages,
            backend=backend,
            abstained=abstained,
            timings_ms={
                "retrieve": round(retrieval_ms, 1),
                "answer": round(answer_ms, 1),
                "total": round(retrieval_ms + answer_ms, 1),
            },
            standalone_question=standalone_question,
            invented_citations=invented,
            sentences=sentences,
            dropped=dropped,
            instructing=sorted(instructing),
            short_answer=None if abstained else short_answer,
            index_incomplete=(
                (words_only, self.retriever.store.chunk_count()) if words_only else None
            ),
            index_interrupted=bool(words_only) and self.retriever.store.interrupted(),
        )
