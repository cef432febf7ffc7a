"""qa: answers from your own Chinese and English documents, every claim cited.

from qa import answer
result = answer("镇江提出哪一年实现碳峰值？")
print(result.answer, result.citations)
"""

import os

# bm25s shows progress bars through tqdm.auto, whose import alone costs a third of a second on
# every `qa ask`; ours are rich's, on stderr.
os.environ.setdefault("DISABLE_TQDM", "1")

from embeddings.errors import QAError  # noqa: E402
from embeddings.records import Chunk, Document  # noqa: E402
from qa.records import Answer, Citation, Passage  # noqa: E402
from qa.rules import Rules  # noqa: E402
from qa.settings import Settings  # noqa: E402

__all__ = [
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "Document",
    "Passage",
    "QAError",
    "Rules",
    "Settings",
    "answer",
]


def __getattr__(name: str):
    # qa.api pulls in the index and the models; importing embeddings.cleaning alone should not.
    if name in ("answer", "Assistant"):
        from qa import api

        return getattr(api, name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
