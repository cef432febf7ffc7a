"""Where things live and which chat model to use, from flags, then the environment, then defaults."""

from __future__ import annotations

import os
import re
from importlib.resources import files
from pathlib import Path

DEFAULT_MODEL = "gpt-4o-mini"


def index_dir(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("QA_INDEX"):
        return Path(os.environ["QA_INDEX"]).expanduser()
    return default_index_dir()


def store_location(store: str | None = None, index: str | Path | None = None) -> str | Path:
    """Where the index lives: --store, else QA_STORE (a folder, or a postgresql:// URL of a
    database holding many knowledge bases), else the index folder (--index, QA_INDEX)."""
    chosen = store or os.environ.get("QA_STORE")
    if chosen and chosen.startswith(("postgresql://", "postgres://")):
        return chosen
    return index_dir(chosen or index)


def kb_name(kb: str | None = None) -> str:
    """The knowledge base inside a database store: --kb, else QA_KB, else "default"."""
    return kb or os.environ.get("QA_KB") or "default"


def default_index_dir() -> Path:
    """The one index that gets the bundled seeds on first use: a folder the user named
    (--index, QA_INDEX) and that holds no index is a mistake to report, not to fill."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("qa", appauthor=False)) / "index"


# What API keys look like (OpenAI's sk-…, bearer tokens): masked even when not the one configured.
_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{6,}|(?<=Bearer )[A-Za-z0-9._\-]{8,}")


def masked(text: str, *secrets: str) -> str:
    """The text with the configured key (and these secrets, and anything shaped like a key)
    replaced by ***: error messages echo what servers say, and servers echo keys."""
    for secret in (*secrets, os.environ.get("OPENAI_API_KEY", "")):
        if len(secret) >= 6:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub("***", text)


def seeds_dir() -> Path:
    return Path(str(files("qa.seeds")))


def prompt_text(name: str) -> str:
    return files("qa.prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")


def chat_endpoint_configured() -> bool:
    return bool(os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY"))


def chat_model_name(explicit: str | None = None) -> str:
    return explicit or os.environ.get("QA_MODEL") or DEFAULT_MODEL
