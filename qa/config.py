"""Where things live (the index, the bundled seeds and prompts) and how secrets are masked."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from embeddings.urls import masked_urls
from qa.settings import Settings, configured_secrets


def index_dir(explicit: str | Path | None = None) -> Path:
    """The index folder: explicit, else QA_INDEX, else the user data folder."""
    return Settings.load(index=explicit or None).index_path


# What API keys look like (OpenAI's sk-…, bearer tokens): masked even when not the one configured.
_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{6,}|(?<=Bearer )[A-Za-z0-9._\-]{8,}")


def masked(text: str, *secrets: str) -> str:
    """The text with the credentials of every URL in it, the configured key and those of the
    configured URLs (and these secrets, and anything shaped like a key) replaced by ***: error
    messages echo what servers say, and servers echo keys."""
    text = masked_urls(text)
    for secret in (*secrets, *configured_secrets()):
        if len(secret) >= 6:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub("***", text)


def seeds_dir() -> Path:
    return Path(str(files("qa.seeds")))


def prompt_text(name: str) -> str:
    return files("qa.prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")
