"""`qa eval`: retrieval and answer quality on a question set, asked through the pipeline.

Answers are normalised on both sides (traditional → simplified, full-width → half-width, lower
case, white space removed) and an answer is correct when one gold string occurs in it (and every
`all_of` string). Retrieval is scored by document: a hit at k when a passage of the question's
doc_id is among the top k, since short answers such as a year occur in many documents.
"""

from __future__ import annotations

import hashlib
import json
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from embeddings.cleaning import spaceless_form
from embeddings.errors import QAError
from embeddings.loading import text_document
from embeddings.records import Document
from qa.records import Answer
from qa.rules import Rules
from qa.settings import Settings

RETRIEVAL_DEPTH = 10  # recall@10 and MRR look this deep, whatever k the answerer gets


def normalise_answer(text: str) -> str:
    """Traditional → simplified, full-width → half-width, lower case, white space removed."""
    return spaceless_form(text)


def answer_is_correct(answer: str, answers: list[str], all_of: list[str] | None = None) -> bool:
    text = normalise_answer(answer)
    if answers and not any(normalise_answer(a) in text for a in answers):
        return False
    return all(normalise_answer(a) in text for a in all_of or [])


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: list[str]
    doc_id: str | None
    kind: str = "fact"
    all_of: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def _json_lines(path: Path):
    if not path.is_file():
        raise QAError(f"no such file: {path}")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise QAError(f"{path}:{number}: bad JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise QAError(f"{path}:{number}: expected a JSON object")
            yield number, record


def _require(record: dict, key: str, kind, path: Path, number: int):
    value = record.get(key)
    if not isinstance(value, kind):
        raise QAError(f"{path}:{number}: '{key}' is missing or not a {kind.__name__}")
    return value


def load_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    for number, record in _json_lines(path):
        doc_id = record.get("doc_id")
        kind = record.get("kind") or ("unanswerable" if doc_id is None else "fact")
        if doc_id is not None and not isinstance(doc_id, str):
            raise QAError(f"{path}:{number}: 'doc_id' must be a string or null")
        answers = record.get("answers", [])
        if not isinstance(answers, list):
            raise QAError(f"{path}:{number}: 'answers' must be a list")
        questions.append(
            EvalQuestion(
                id=str(record.get("id", number)),
                question=_require(record, "question", str, path, number),
                answers=[str(a) for a in answers],
                doc_id=doc_id,
                kind=kind,
                all_of=[str(a) for a in record.get("all_of") or []],
            )
        )
    if not questions:
        raise QAError(f"{path}: no questions")
    return questions


def load_corpus_jsonl(path: Path) -> list[Document]:
    """Documents from JSON Lines of {"doc_id", "title", "text"}, cleaned like files are."""
    documents, seen = [], set()
    for number, record in _json_lines(path):
        doc_id = _require(record, "doc_id", str, path, number)
        text = _require(record, "text", str, path, number)
        if doc_id in seen:
            raise QAError(f"{path}:{number}: doc_id {doc_id!r} appears twice")
        seen.add(doc_id)
        documents.append(
            text_document(doc_id, record.get("title"), text, f"{path.resolve()}#{doc_id}")
        )
    return documents


def check_doc_ids(questions: list[EvalQuestion], doc_ids: set[str], path: Path) -> None:
    for question in questions:
        if question.doc_id is not None and question.doc_id not in doc_ids:
            raise QAError(
                f"{path}: question {question.id} names unknown doc_id {question.doc_id!r}"
            )


@dataclass
class QuestionResult:
    id: str
    question: str
    kind: str
    doc_id: str | None
    rank: int | None  # of the first passage from doc_id, 1-based, within RETRIEVAL_DEPTH
    answer_in_top5: bool | None  # a top-5 passage holds an answer string
    answer: str
    correct: bool  # answerable: right answer; unanswerable: refused
    abstained: bool
    citations: int
    valid_citations: int
    invented_citations: int
    answer_chars: int
    sentences: int  # of the answer, the refusal not counted
    supported_sentences: int
    corrected_citations: int  # sentences re-pointed to the passage that backs them
    retrieval_ms: float
    answer_ms: float
    retrieved: list[dict]

    @property
    def failed(self) -> bool:
        return not self.correct or (self.doc_id is not None and self.rank != 1)


def score_question(
    question: EvalQuestion,
    ranked_doc_ids: list[str],  # of the retrieved passages, in rank order
    top5_texts: list[str],
    answer: Answer,
    document_text: Callable[[str], str | None],
) -> QuestionResult:
    rank = None
    if question.doc_id is not None and question.doc_id in ranked_doc_ids:
        rank = ranked_doc_ids.index(question.doc_id) + 1
    answer_in_top5 = None
    if question.answerable and question.answers:
        gold = [normalise_answer(a) for a in question.answers]
        answer_in_top5 = any(g in normalise_answer(t) for t in top5_texts for g in gold)
    if question.answerable:
        correct = not answer.abstained and answer_is_correct(
            answer.answer, question.answers, question.all_of
        )
    else:
        correct = answer.abstained
    valid = 0
    for citation in answer.citations:
        text = document_text(citation.doc_id)
        if text is not None and text[citation.start : citation.end] == citation.quote:
            valid += 1
    return QuestionResult(
        id=question.id,
        question=question.question,
        kind=question.kind,
        doc_id=question.doc_id,
        rank=rank,
        answer_in_top5=answer_in_top5,
        answer=answer.answer,
        correct=correct,
        abstained=answer.abstained,
        citations=len(answer.citations),
        valid_citations=valid,
        invented_citations=len(answer.invented_citations),
        answer_chars=0 if answer.abstained else len(_without_markers(answer.answer)),
        sentences=len(answer.sentences),
        supported_sentences=sum(s.supported for s in answer.sentences),
        corrected_citations=sum(s.corrected_from is not None for s in answer.sentences),
        retrieval_ms=answer.timings_ms.get("retrieve", 0.0),
        answer_ms=answer.timings_ms.get("answer", 0.0),
        retrieved=[
            {"n": p.n, "doc_id": p.doc_id, "score": round(p.score, 4), "text": p.text}
            for p in answer.passages
        ],
    )


def _without_markers(text: str) -> str:
    from qa.markers import MARKER

    return MARKER.sub("", text)


def _share(hits: list[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 2)


def summarize(results: list[QuestionResult], index_seconds: float) -> dict:
    with_doc = [r for r in results if r.doc_id is not None]
    answerable = [r for r in results if r.kind != "unanswerable"]
    unanswerable = [r for r in results if r.kind == "unanswerable"]
    citations = sum(r.citations for r in results)
    answered = [r for r in results if not r.abstained]
    return {
        "n": len(results),
        "recall@1": _share([r.rank is not None and r.rank <= 1 for r in with_doc]),
        "recall@5": _share([r.rank is not None and r.rank <= 5 for r in with_doc]),
        "recall@10": _share([r.rank is not None and r.rank <= 10 for r in with_doc]),
        "mrr": round(sum(1 / r.rank for r in with_doc if r.rank) / len(with_doc), 4)
        if with_doc
        else None,
        "answer_recall@5": _share(
            [r.answer_in_top5 for r in answerable if r.answer_in_top5 is not None]
        ),
        "answer_accuracy": _share([r.correct for r in answerable]),
        "abstain_accuracy": _share([r.correct for r in unanswerable]),
        "false_abstain_rate": _share([r.abstained for r in answerable]),
        "citation_validity": round(sum(r.valid_citations for r in results) / citations, 4)
        if citations
        else None,
        "retrieval_ms_p50": percentile([r.retrieval_ms for r in results], 50),
        "retrieval_ms_p95": percentile([r.retrieval_ms for r in results], 95),
        "answer_ms_p50": percentile([r.answer_ms for r in results], 50),
        "index_seconds": round(index_seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "invented_citations": sum(r.invented_citations for r in results),
        "corrected_citations": sum(r.corrected_citations for r in results),
        "supported_sentence_rate": round(
            sum(r.supported_sentences for r in results) / sum(r.sentences for r in results), 4
        )
        if any(r.sentences for r in results)
        else None,
        "answer_chars_mean": round(statistics.mean(r.answer_chars for r in answered), 1)
        if answered
        else None,
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
    }


@dataclass
class EvalRun:
    metrics: dict
    results: list[QuestionResult]

    def failures(self) -> list[dict]:
        return [asdict(r) for r in self.results if r.failed]


@dataclass
class EvalInputs:
    docs: Path
    questions_path: Path
    questions: list[EvalQuestion]
    corpus: list[Document] | None  # read from JSON Lines; None for a folder of files


def load_eval_inputs(docs: Path, questions_path: Path) -> EvalInputs:
    """Read and check everything before any slow work, so bad input fails at once."""
    questions = load_questions(questions_path)
    if not docs.exists():
        raise QAError(f"no such file or folder: {docs}")
    if docs.is_file() and docs.suffix == ".jsonl":
        corpus = load_corpus_jsonl(docs)
        doc_ids = {d.doc_id for d in corpus}
    else:
        from embeddings.loading import find_files

        corpus = None
        doc_ids = {doc_id for _, doc_id in find_files([docs]).files}
    check_doc_ids(questions, doc_ids, questions_path)
    return EvalInputs(docs, questions_path, questions, corpus)


def evaluate(
    inputs: EvalInputs,
    k: int = 5,
    backend: str | None = None,
    index: Path | None = None,
    model: str | None = None,
    on_index_progress: Callable[[int, int], None] | None = None,
    on_question: Callable[[int, int], None] | None = None,
    show_unsupported: bool = False,
    settings: Settings | None = None,
    store: str | None = None,
    kb: str | None = None,
    rules: Rules = Rules(),
) -> EvalRun:
    """Index the documents (reusing what an earlier run embedded), then ask and score.
    store: a postgresql:// URL to index into and ask from, in the knowledge base kb; rules: the
    weights and thresholds of every stage (qa/rules.py)."""
    from embeddings.indexer import build_index, index_documents
    from embeddings.store import IndexMismatch, ManifestDamaged
    from qa.api import Assistant, checked_k

    checked_k(k)
    settings = (settings or Settings.load()).but(store=store, kb=kb)
    kb_name = settings.kb
    root = settings.store or index or _default_eval_index(inputs.docs)
    started = time.perf_counter()
    embedder, threads = settings.embedder, settings.threads

    def build(rebuild: bool) -> None:
        if inputs.corpus is not None:
            index_documents(
                root,
                inputs.corpus,
                embedder,
                rebuild=rebuild,
                progress=on_index_progress,
                threads=threads,
                kb=kb_name,
            )
        else:
            build_index(
                root,
                [inputs.docs],
                embedder,
                rebuild=rebuild,
                progress=on_index_progress,
                threads=threads,
                kb=kb_name,
            )

    try:
        build(rebuild=False)
    except (IndexMismatch, ManifestDamaged):
        if index is not None or store is not None:  # the user's own index: theirs to rebuild
            raise
        build(rebuild=True)  # our cache, from an older qa or with no manifest to go by: made again
    index_seconds = time.perf_counter() - started

    assistant = Assistant(
        index=None if settings.store else root,
        backend=backend,
        model=model,
        show_unsupported=show_unsupported,
        settings=settings.but(store=str(root)),
        rules=rules,
    )
    depth = max(k, RETRIEVAL_DEPTH)
    results = []
    for done, question in enumerate(inputs.questions, start=1):
        started = time.perf_counter()
        ranked = assistant.retriever.search(question.question, depth)
        retrieval_ms = (time.perf_counter() - started) * 1000
        answer = assistant.answer_from(question.question, ranked[:k], retrieval_ms=retrieval_ms)
        results.append(
            score_question(
                question,
                [p.doc_id for p in ranked],
                [p.text for p in ranked[:5]],
                answer,
                assistant.retriever.store.document_text,
            )
        )
        if on_question:
            on_question(done, len(inputs.questions))
    return EvalRun(summarize(results, index_seconds), results)


def _default_eval_index(docs: Path) -> Path:
    from platformdirs import user_cache_dir

    key = hashlib.sha1(str(docs.resolve()).encode()).hexdigest()[:12]
    return Path(user_cache_dir("qa", appauthor=False)) / "eval" / f"{docs.stem}-{key}"
