"""The development sets several benchmarks read (the CMRC 2018 dev subset, mainland usage; the
DRCD subset, Taiwan usage), and the index they build over one."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from embeddings.indexer import index_documents
from embeddings.records import Document
from qa.evaluation import EvalQuestion, load_corpus_jsonl, load_questions
from qa.retrieve.retriever import Retriever

DATA = Path(__file__).resolve().parent / "data"
QUICK_DOCS = 80  # --quick keeps the first documents and their questions


SETS = {"cmrc": "cmrc_dev", "drcd": "drcd_test"}


def load(
    quick: bool = False, dataset: str = "cmrc"
) -> tuple[list[Document], list[EvalQuestion], list[EvalQuestion]]:
    """The documents, the Chinese questions and their English translations (none for DRCD)."""
    stem = SETS[dataset]
    corpus = load_corpus_jsonl(DATA / f"{stem}_docs.jsonl")
    zh = load_questions(DATA / f"{stem}_questions.jsonl")
    english = DATA / f"{stem}_questions_en.jsonl"
    en = load_questions(english) if english.exists() else []
    if quick:
        corpus = corpus[:QUICK_DOCS]
        kept = {d.doc_id for d in corpus}
        zh = [q for q in zh if q.doc_id in kept]
        en = [q for q in en if q.doc_id in kept]
    return corpus, zh, en


@contextmanager
def retriever(corpus: list[Document], index: Path | None = None) -> Iterator[Retriever]:
    """A retriever over the corpus, indexed into `index` (kept, and only topped up when it holds
    the corpus already) or else into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        root = index or Path(tmp)
        index_documents(root, corpus)
        yield Retriever.open(root)
