"""Answers written by a chat model at any OpenAI-compatible endpoint (OpenAI, DeepSeek, Qwen, vLLM,
Ollama, llama.cpp server), from numbered passages, citing them as [n]."""

from __future__ import annotations

import re
import sys
import threading
import time

from embeddings.cleaning import question_language, question_script, to_simplified
from embeddings.errors import QAError
from embeddings.urls import url_secrets
from qa.answering.base import Draft, OnToken, is_refusal, refusal
from qa.config import masked, prompt_text
from qa.context import QuestionContext
from qa.markers import neutralized
from qa.records import Passage
from qa.settings import Settings

# The passages reach the model in simplified characters; the answer goes back in the asker's.
SCRIPT_NAMES = {"hans": "简体字", "hant": "繁體字", "en": "English"}
# A retry is worth it for these (the server was busy or restarting), and only while at least
# this much of QA_TIMEOUT is left: a server that hung for all of it is not asked again.
_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_LEAST_TIME_TO_RETRY_S = 1.0
CUT_MARK = "[answer cut off]"

_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", neutralized(to_simplified(text)))


def format_passage(passage: Passage) -> str:
    """One passage as the model reads it: a header line only qa writes (its number, title and,
    for a located passage, where it sits: p. 3, slide 2, 经济指标 row 5), then the text on one
    line, so no document text can begin a line of the prompt (a forged passage header, a forged
    question), and with its citation-like markers neutralised (a sheet or heading name too)."""
    where = passage.location.describe()
    header = f"[{passage.n}] 《{_one_line(passage.title)}》"
    if where:
        header += f" {_one_line(where)}"
    return f"{header}\n{_one_line(passage.text)}"


def format_passages(passages: list[Passage]) -> str:
    # Simplified characters: small local models read them far better than traditional ones, and
    # they take a fifth fewer tokens (Qwen's tokenizer). Citations still quote the original text.
    return "\n\n".join(format_passage(p) for p in passages)


class AnswerCut(QAError):
    """The stream broke after part of the answer was shown: `partial` is that part."""

    def __init__(self, message: str, partial: str):
        super().__init__(message)
        self.partial = partial


class _OutOfTime(Exception):
    pass


class ChatModelAnswerer:
    name = "openai"

    def __init__(self, settings: Settings | None = None):
        import openai  # 0.8 s to import: only the chat-model path pays for it

        settings = settings or Settings.load()
        self._openai = openai
        self.model = settings.model
        self.base_url = settings.base_url or "https://api.openai.com/v1"
        # Local servers (Ollama, llama.cpp, vLLM) accept any key; the client insists on one.
        self._key = settings.api_key or "not-needed"
        # The whole answer, retries included, not each read: QA_TIMEOUT is how long a user waits.
        self.timeout = settings.timeout

    def _say(self, text: str) -> str:
        return masked(text, self._key, *url_secrets(self.base_url))

    def complete(self, messages: list[dict], on_token: OnToken | None = None) -> str:
        """The model's reply, within QA_TIMEOUT; streamed to on_token piece by piece when given.
        A busy server is asked once more (said on stderr) while time is left and nothing has
        been shown; an empty or unreadable reply is an error, and a broken stream an AnswerCut."""
        deadline = time.monotonic() + self.timeout
        shown: list[str] = []

        def show(piece: str) -> None:
            shown.append(piece)
            if on_token is not None:
                on_token(piece)

        retried = False
        while True:
            try:
                text = self._complete_once(messages, show if on_token else None, deadline)
            except Exception as exc:
                why = self._failure(exc)
                if shown:
                    raise AnswerCut(
                        self._say(
                            f"the answer broke off after {len(''.join(shown))} characters, so "
                            f"what was shown is incomplete ({CUT_MARK}): {why}"
                        ),
                        "".join(shown),
                    ) from None
                left = deadline - time.monotonic()
                if retried or not self._retryable(exc) or left < _LEAST_TIME_TO_RETRY_S:
                    raise QAError(self._say(why)) from None
                # Said, not logged: a user waiting at the prompt should know why it takes longer.
                print(self._say(f"({why}; asking once more, {left:.0f} s left)"), file=sys.stderr)
                retried = True
                continue
            if not text.strip():
                raise QAError(self._say(f"the chat model at {self.base_url} sent an empty answer"))
            return text

    def _complete_once(self, messages, on_token: OnToken | None, deadline: float) -> str:
        """One request, given up at the deadline. Per-read timeouts cannot bound a server that
        drips a character at a time, so the request runs in a worker that is waited for until
        the deadline, then abandoned (it shows nothing more and stops at its next read)."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise _OutOfTime()
        client = self._openai.OpenAI(
            base_url=self.base_url, api_key=self._key, timeout=left, max_retries=0
        )
        abandoned = threading.Event()
        outcome: dict = {}

        def show(piece: str) -> None:
            if not abandoned.is_set() and on_token is not None:
                on_token(piece)

        def work() -> None:
            try:
                outcome["text"] = self._request(
                    client, messages, show if on_token else None, abandoned
                )
            except BaseException as exc:  # handed to the waiting thread, which raises it
                outcome["error"] = exc
            finally:
                client.close()

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        worker.join(left)
        if worker.is_alive():
            abandoned.set()
            raise _OutOfTime()
        if "error" in outcome:
            if time.monotonic() >= deadline:
                raise _OutOfTime()
            raise outcome["error"]
        return outcome["text"]

    def _request(self, client, messages, on_token: OnToken | None, abandoned) -> str:
        if on_token is None:
            reply = client.chat.completions.create(
                model=self.model, messages=messages, temperature=0
            )
            if not hasattr(reply, "choices"):
                raise ValueError(f"not a chat completion: {str(reply)[:80]!r}")
            return reply.choices[0].message.content or ""
        pieces, finished = [], False
        stream = client.chat.completions.create(
            model=self.model, messages=messages, temperature=0, stream=True
        )
        for event in stream:
            if abandoned.is_set():
                stream.close()
                return ""
            if not event.choices:
                continue
            piece = event.choices[0].delta.content
            if piece:
                pieces.append(piece)
                on_token(piece)
            finished = finished or event.choices[0].finish_reason is not None
        if not finished:
            raise ConnectionError("the stream ended before the answer did")
        return "".join(pieces)

    def _retryable(self, exc: Exception) -> bool:
        openai = self._openai
        if isinstance(exc, openai.APIStatusError):
            return exc.status_code in _RETRY_STATUSES
        return isinstance(exc, openai.APIConnectionError)  # refused, reset, or timed out

    def _failure(self, exc: Exception) -> str:
        """What went wrong, in one sentence naming the endpoint."""
        openai, url = self._openai, self.base_url
        if isinstance(exc, _OutOfTime | openai.APITimeoutError):
            return (
                f"the chat model at {url} did not answer in time "
                f"(QA_TIMEOUT: {self.timeout:g} s for the whole answer)"
            )
        if isinstance(exc, openai.APIStatusError):
            return f"the chat model at {url} answered HTTP {exc.status_code}: {exc.message}"
        if isinstance(exc, openai.APIConnectionError):
            return f"cannot reach the chat model at {url}: {exc}"
        if isinstance(exc, ConnectionError):
            return f"the chat model at {url} could not be read to the end: {exc}"
        return (
            f"the chat model at {url} sent a reply that is not an OpenAI chat completion "
            f"({type(exc).__name__}: {str(exc)[:120]})"
        )

    def answer(
        self,
        question: str,
        passages: list[Passage],
        context: QuestionContext,
        on_token: OnToken | None = None,
    ) -> Draft:
        language, declined = question_language(question), refusal(question)
        if not passages:  # never let the model answer from its own knowledge
            text = declined
            if on_token:
                on_token(text)
            return Draft(text, abstained=True)
        script = SCRIPT_NAMES[question_script(question)]
        system = prompt_text(f"answer_system_{language}").format(refusal=declined, script=script)
        # The refusal is repeated after the passages: small models follow the last thing they read.
        user = prompt_text(f"answer_user_{language}").format(
            passages=format_passages(passages), question=question, refusal=declined, script=script
        )
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        text = self.complete(messages, on_token).strip()
        # A model's refusal, in whatever script it chose, becomes the asker's own.
        return Draft(declined, abstained=True) if is_refusal(text) else Draft(text, False)

    def rewrite(self, history: list[tuple[str, str]], question: str) -> str:
        """A follow-up made standalone, from the conversation quoted inside one message."""
        language = question_language(question)
        turns = "\n".join(f"Q: {q}\nA: {a}" for q, a in history)
        prompt = prompt_text(f"rewrite_{language}").format(history=turns, question=question)
        rewritten = self.complete([{"role": "user", "content": prompt}]).strip()
        return rewritten.splitlines()[0].strip() if rewritten else question
