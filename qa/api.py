"""The question side end to end: retrieve, answer, check citations. `answer()` is the public door."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from embeddings.errors import QAError
from qa.answering.base import OnToken, refusal
from qa.citations import StreamingMarkerFilter, check_citations, neutralized
from qa.config import (
    chat_endpoint_configured,
    default_index_dir,
    kb_name,
    seeds_dir,
    store_location,
)
from qa.records import Answer, Passage
from qa.retrieval import Retriever
from qa.support import (
    embedding_similarity,
    instructs_assistant,
    repair_citations,
    without_sentences,
)

BACKENDS = ("extractive", "openai")
DEFAULT_K = 5
# Longer than any question people type, short enough that no step of an answer (the answerer's
# question analysis, the embedder's 512 tokens) has much to do; a document is not a question.
MAX_QUESTION_CHARS = 1000
_CONTENT = re.compile(r"[^\W_]")  # a letter, digit or CJK character: something to search for


def default_backend() -> str:
    return "openai" if chat_endpoint_configured() else "extractive"


def ensure_index(index: Path, on_seed: Callable[[Path], None] | None = None) -> None:
    """A first question with no index yet at the default location gets one built from the
    bundled seeds. Any other folder, or one whose manifest was lost, is left for IndexStore.open
    to report: seeds there would hide the user's mistake, or replace the user's index."""
    from embeddings.store import has_generations

    if (index / "manifest.json").exists() or has_generations(index):
        return
    if index.absolute() != default_index_dir().absolute():
        return
    from embeddings.indexer import build_index

    if on_seed:
        on_seed(index)
    build_index(index, [seeds_dir()])


class Assistant:
    """A retriever and an answer backend, loaded once and reused for many questions."""

    def __init__(
        self,
        index: str | Path | None = None,
        backend: str | None = None,
        model: str | None = None,
        embedder: str | None = None,
        on_seed: Callable[[Path], None] | None = None,
        reranker: str | None = None,
        show_unsupported: bool = False,
        drop_unsupported: bool | None = None,
        store: str | None = None,
        kb: str | None = None,
    ):
        """store: a folder or a postgresql:// URL (default: QA_STORE, else the index folder);
        kb: the knowledge base in a database (default: QA_KB, else "default").
        show_unsupported: keep, marked, the answer sentences their citations do not support;
        by default they are taken out and, when nothing supported is left, the documents' own
        sentences (or the refusal) answer instead. drop_unsupported: the older switch, kept
        for callers that pass it (True is now the default; False shows them)."""
        self.index = store_location(store, index)
        if drop_unsupported is not None:
            show_unsupported = not drop_unsupported
        self.drop_unsupported = not show_unsupported
        self._extractive_answerer = None
        if isinstance(self.index, Path):  # a database is never filled with the seeds unasked
            ensure_index(self.index, on_seed)
        self.retriever = Retriever.open(self.index, embedder, kb_name(kb))
        reranker = reranker or os.environ.get("QA_RERANKER")
        if reranker:
            from qa.rerank import CrossEncoderReranker

            self.retriever.reranker = CrossEncoderReranker(reranker)
        self.backend_name = backend or default_backend()
        if self.backend_name == "extractive":
            self.backend = self._extractive()
        elif self.backend_name == "openai":
            from qa.answering.chat_model import ChatModelAnswerer

            self.backend = ChatModelAnswerer(model=model)
        else:
            raise QAError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")

    def _extractive(self):
        from qa.answering.extractive import ExtractiveAnswerer

        if self._extractive_answerer is None:
            store = self.retriever.store

            def document_text(doc_id: str) -> str | None:
                # The answer copies document sentences: a document's own [2][3] must not turn
                # into citations of passages 2 and 3.
                text = store.document_text(doc_id)
                return None if text is None else neutralized(text)

            self._extractive_answerer = ExtractiveAnswerer(
                self.retriever.embedder,
                document_text,
                self.retriever.query_vector,
                self.retriever.store.idf,
            )
        return self._extractive_answerer

    def _supported(
        self, text: str, citations: list, passages: list[Passage], instructing: set[int]
    ):
        """The answer with misfiled citations re-pointed, its citations and judged sentences.
        A passage that instructs the assistant (its number in `instructing`) backs nothing: what
        it asks for is data, and a sentence it alone would back is flagged as unsupported."""
        evidence = [p for p in passages if p.n not in instructing]
        text, sentences = repair_citations(
            text, evidence, self._similarity(), self._names_context()
        )
        if any(s.corrected_from is not None for s in sentences):
            citations = check_citations(text, passages).citations
        return text, citations, sentences

    def _similarity(self):
        return embedding_similarity(self.retriever.embedder)

    def _names_context(self):
        """A passage's document (title and cleaned text), read once per answer."""
        documents: dict[str, str] = {}

        def context(passage: Passage) -> str:
            if passage.doc_id not in documents:
                text = self.retriever.store.document_text(passage.doc_id)
                documents[passage.doc_id] = f"{passage.title}\n{text or passage.text}"
            return documents[passage.doc_id]

        return context

    def ask(
        self,
        question: str,
        k: int = DEFAULT_K,
        on_token: OnToken | None = None,
        standalone_question: str | None = None,
    ) -> Answer:
        """Answer `question`. When chat rewrote it into `standalone_question`, retrieval runs on
        both the rewrite and the user's own words (Retriever.search_followup)."""
        question = question.strip()
        if not question:
            raise QAError("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise QAError(
                f"the question is {len(question)} characters long; ask it in at most "
                f"{MAX_QUESTION_CHARS}"
            )
        if not _CONTENT.search(question):
            raise QAError("the question has no words to search for, only punctuation or symbols")
        if k < 1:
            raise QAError(f"k must be at least 1, not {k}")
        started = time.perf_counter()
        if standalone_question and standalone_question.strip() != question:
            passages = self.retriever.search_followup(standalone_question, question, k)
        else:
            passages = self.retriever.search(question, k)
        retrieval_ms = (time.perf_counter() - started) * 1000
        return self.answer_from(question, passages, on_token, standalone_question, retrieval_ms)

    def answer_from(
        self,
        question: str,
        passages: list[Passage],
        on_token: OnToken | None = None,
        standalone_question: str | None = None,
        retrieval_ms: float = 0.0,
    ) -> Answer:
        """Answer from passages already retrieved, checking the citations against them.

        on_token gets the answer as it is written with show_unsupported, else the checked
        answer once: a sentence no passage supports is never shown by default."""
        started = time.perf_counter()
        stream = None
        if on_token is not None and not self.drop_unsupported:
            marker_filter = StreamingMarkerFilter({p.n for p in passages})

            def stream(piece: str) -> None:
                text = marker_filter.feed(piece)
                if text:
                    on_token(text)

        asked = standalone_question or question
        instructing = {p.n for p in passages if instructs_assistant(p.text)}
        # Document text is data: what looks like a citation marker in it is neutralised before
        # any answerer sees it (the answer's own markers are then the only ones).
        shown = [replace(p, title=neutralized(p.title), text=neutralized(p.text)) for p in passages]
        draft = self.backend.answer(asked, shown, stream)
        if stream is not None:
            rest = marker_filter.flush()
            if rest:
                on_token(rest)
        checked = check_citations(draft.text, passages)
        invented, backend, abstained = checked.invented, self.backend_name, draft.abstained
        text, citations, sentences = checked.text, checked.citations, []
        short_answer = draft.short_answer
        if not abstained:
            text, citations, sentences = self._supported(text, citations, passages, instructing)
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
            fallback = self._extractive().answer(asked, data, None)
            if not fallback.abstained:
                checked = check_citations(fallback.text, passages)
                text, citations, sentences = self._supported(
                    checked.text, checked.citations, passages, instructing
                )
                backend, abstained, short_answer = "extractive", False, fallback.short_answer
        if on_token is not None and self.drop_unsupported:
            on_token(text)
        answer_ms = (time.perf_counter() - started) * 1000
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
        )


def answer(
    question: str,
    k: int = DEFAULT_K,
    backend: str | None = None,
    index: str | Path | None = None,
    model: str | None = None,
    on_token: OnToken | None = None,
    reranker: str | None = None,
    show_unsupported: bool = False,
    drop_unsupported: bool | None = None,
    store: str | None = None,
    kb: str | None = None,
) -> Answer:
    """Answer one question from the indexed documents, with checked citations.

    backend: "extractive" (no chat model needed) or "openai" (any OpenAI-compatible endpoint);
    by default "openai" when OPENAI_BASE_URL or OPENAI_API_KEY is set. index: the index folder
    (default: QA_INDEX, else the user data folder), built from the bundled seeds if missing.
    on_token: called with each piece of the answer as it is written. reranker: a
    sentence-transformers CrossEncoder name or folder to reorder the retrieved passages.
    show_unsupported: keep the sentences their citations do not support, marked in
    Answer.sentences; by default they are taken out (Answer.dropped) and, when nothing supported
    is left, the documents' own sentences or the refusal answer instead. drop_unsupported: the
    older switch, still accepted (True is the default now). store, kb: a postgresql:// URL
    (default: QA_STORE) and the knowledge base in it (default: QA_KB, else "default").
    """
    assistant = Assistant(
        index=index,
        backend=backend,
        model=model,
        reranker=reranker,
        show_unsupported=show_unsupported,
        drop_unsupported=drop_unsupported,
        store=store,
        kb=kb,
    )
    return assistant.ask(question, k, on_token)
