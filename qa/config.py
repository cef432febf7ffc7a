"""Where things live and which chat model to use, from flags, then the environment, then defaults."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

DEFAULT_MODEL = "gpt-4o-mini"


def index_dir(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("QA_INDEX"):
        return Path(os.environ["QA_INDEX"]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("qa", appauthor=False)) / "index"


def seeds_dir() -> Path:
    return Path(str(files("qa.seeds")))


def prompt_text(name: str) -> str:
    return files("qa.prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")


def chat_endpoint_configured() -> bool:
    return bool(os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY"))


def chat_model_name(explicit: str | None = None) -> str:
    return explicit or os.environ.get("QA_MODEL") or DEFAULT_MODEL
