"""The public doors: `answer()` for one question, `Assistant` for many; both run qa/pipeline.py."""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from embeddings.errors import OutOfBounds, QAError
from embeddings.store import is_database
from qa.answering.base import Answerer, OnToken, Rewriter
from qa.answering.extractive import ExtractiveAnswerer
from qa.config import seeds_dir
from qa.pipeline import Pipeline
from qa.records import Answer, Passage
from qa.retrieve.retriever import Retriever
from qa.rules import Rules
from qa.settings import MAX_K, Settings, default_index_dir

BACKENDS = ("extractive", "openai")
DEFAULT_K = 5
# Longer than any question people type, short enough that no step of an answer (the answerer's
# question analysis, the embedder's 512 tokens) has much to do; a document is not a question.
MAX_QUESTION_CHARS = 1000
_CONTENT = re.compile(r"[^\W_]")  # a letter, digit or CJK character: something to search for


def ensure_index(
    index: Path,
    on_seed: Callable[[Path], None] | None = None,
    settings: Settings | None = None,
) -> None:
    """A first question with no index yet at the default location gets one built from the
    bundled seeds. Any other folder, or one whose manifest was lost, is left for IndexStore.open
    to report: seeds there would hide the user's mistake, or replace the user's index."""
    from embeddings.store import has_generations

    if (index / "manifest.json").exists() or has_generations(index):
        return
    if index.absolute() != default_index_dir().absolute():
        return
    from embeddings.indexer import build_index

    settings = settings or Settings.load()
    if on_seed:
        on_seed(index)
    build_index(index, [seeds_dir()], embedder=settings.embedder, threads=settings.threads)


def checked_question(question: str) -> str:
    """The question stripped, or the one reason it cannot be asked (before anything is loaded
    or said about it)."""
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
    return question


def checked_k(k: int) -> int:
    """k, or the reason that many passages cannot be read for one question (before anything is
    loaded)."""
    if k < 1:
        raise OutOfBounds(f"k must be at least 1, not {k}")
    if k > MAX_K:
        raise OutOfBounds(
            f"k = {k} asks for more passages than qa reads for one question: at most {MAX_K}"
        )
    return k


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
        settings: Settings | None = None,
        store: str | None = None,
        kb: str | None = None,
        rules: Rules = Rules(),
    ):
        """settings: every setting (default: Settings.load(), the environment's); the keyword
        arguments before it override it, as flags do. show_unsupported: keep, marked, the answer
        sentences their citations do not support; by default they are taken out and, when
        nothing supported is left, the documents' own sentences (or the refusal) answer instead.
        drop_unsupported: the older switch, kept for callers that pass it (True is now the
        default; False shows them). store: a folder or a postgresql:// URL (default: QA_STORE,
        else the index folder); kb: the knowledge base in a database (default: QA_KB, else
        "default"). rules: the weights and thresholds of every stage (qa/rules.py)."""
        if drop_unsupported is not None:
            show_unsupported = not drop_unsupported
        self.settings = (settings or Settings.load()).but(
            index=index,
            backend=backend,
            model=model,
            embedder=embedder,
            reranker=reranker,
            show_unsupported=show_unsupported or None,
            store=store,
            kb=kb,
        )
        self.index = self.settings.index_path
        self.drop_unsupported = not self.settings.show_unsupported
        if self.settings.store is None:  # a database is never filled with the seeds unasked
            ensure_index(self.index, on_seed, self.settings)
        self.retriever = Retriever.open(
            self.settings.store_location,
            self.settings.embedder,
            self.settings.threads,
            self.settings.kb,
            self.settings.reranker,
            rules,
        )
        self.backend_name = self.settings.default_backend()
        # Who makes a chat follow-up standalone: the chat model, else qa/followup.py's rules.
        self.rewriter: Rewriter | None = None
        self.backend: Answerer
        if self.backend_name == "extractive":
            self.backend = ExtractiveAnswerer.over(self.retriever, rules)
        elif self.backend_name == "openai":
            from qa.answering.chat_model import ChatModelAnswerer

            self.backend = self.rewriter = ChatModelAnswerer(self.settings)
        else:
            raise QAError(
                f"unknown backend {self.backend_name!r}: choose one of {', '.join(BACKENDS)}"
            )
        self.pipeline = Pipeline(
            self.retriever, self.backend, self.backend_name, self.drop_unsupported, rules
        )

    def ask(
        self,
        question: str,
        k: int = DEFAULT_K,
        on_token: OnToken | None = None,
        standalone_question: str | None = None,
    ) -> Answer:
        """Answer `question`. When chat rewrote it into `standalone_question`, retrieval runs on
        both the rewrite and the user's own words (Retriever.search_followup)."""
        question = checked_question(question)
        return self.pipeline.ask(question, checked_k(k), on_token, standalone_question)

    def answer_from(
        self,
        question: str,
        passages: list[Passage],
        on_token: OnToken | None = None,
        standalone_question: str | None = None,
        retrieval_ms: float = 0.0,
    ) -> Answer:
        """Answer from passages already retrieved, checking the citations against them
        (Pipeline.answer_from)."""
        return self.pipeline.answer_from(
            question, passages, on_token, standalone_question, retrieval_ms
        )


# Assistants kept for answer(): each holds an embedder and an open index, a few are enough for
# the settings a program switches between.
MAX_SHARED_ASSISTANTS = 4
_shared: OrderedDict[
    tuple[Settings, str, Path], tuple[tuple[int, int, int] | None, Assistant, threading.Lock]
] = OrderedDict()
_shared_lock = threading.Lock()


def index_version(folder: Path) -> tuple[int, int, int] | None:
    """What changes whenever the index folder is written: every write replaces its manifest
    file atomically (a new file), so its identity, time and size; None when there is none."""
    try:
        found = os.stat(folder / "manifest.json")
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size


def shared_assistant(
    settings: Settings, rules: Rules = Rules()
) -> tuple[Assistant, threading.Lock]:
    """The Assistant answer() asks with these settings (a folder store), opened once and opened
    again when the index has been written since, with the lock its questions take in turn (its
    index reader and engines are not shared by concurrent questions)."""
    folder = Path(settings.store_location)
    # a relative folder names another after a chdir; rules hold dicts, so their repr stands in
    key = (settings, repr(rules), folder.absolute())
    with _shared_lock:
        version = index_version(folder)
        kept = _shared.get(key)
        if kept is not None and kept[0] == version and version is not None:
            _shared.move_to_end(key)
            return kept[1], kept[2]
        # read before opening: a write meanwhile makes the next question open the index again
        assistant = Assistant(settings=settings, rules=rules)
        _shared[key] = (version, assistant, threading.Lock())
        _shared.move_to_end(key)
        while len(_shared) > MAX_SHARED_ASSISTANTS:
            _shared.popitem(last=False)
        return assistant, _shared[key][2]


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
    settings: Settings | None = None,
    store: str | None = None,
    kb: str | None = None,
    rules: Rules = Rules(),
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
    (default: QA_STORE) and the knowledge base in it (default: QA_KB, else "default"). rules:
    the weights and thresholds of every stage (qa/rules.py).
    """
    if drop_unsupported is not None:
        show_unsupported = not drop_unsupported
    chosen = (settings or Settings.load()).but(
        index=index,
        backend=backend,
        model=model,
        reranker=reranker,
        show_unsupported=show_unsupported or None,
        store=store,
        kb=kb,
    )
    question = checked_question(question)
    checked_k(k)
    if is_database(str(chosen.store_location)):
        # a database's generation is not seen without a query: opened afresh, as always
        return Assistant(settings=chosen, rules=rules).ask(question, k, on_token)
    assistant, lock = shared_assistant(chosen, rules)
    with lock:
        return assistant.ask(question, k, on_token)
