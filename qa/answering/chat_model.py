"""Answers written by a chat model at any OpenAI-compatible endpoint (OpenAI, DeepSeek, Qwen, vLLM,
Ollama, llama.cpp server), from numbered passages, citing them as [n]."""

from __future__ import annotations

import os

from embeddings.cleaning import question_language, question_script, to_simplified
from embeddings.errors import QAError
from qa.answering.base import Draft, OnToken, is_refusal, refusal
from qa.config import chat_model_name, prompt_text
from qa.records import Passage

DEFAULT_TIMEOUT_S = 120.0
# The passages reach the model in simplified characters; the answer goes back in the asker's.
SCRIPT_NAMES = {"hans": "简体字", "hant": "繁體字", "en": "English"}


def format_passages(passages: list[Passage]) -> str:
    # Simplified characters: small local models read them far better than traditional ones, and
    # they take a fifth fewer tokens (Qwen's tokenizer). Citations still quote the original text.
    return "\n\n".join(
        f"[{p.n}] 《{to_simplified(p.title)}》\n{to_simplified(p.text)}" for p in passages
    )


class ChatModelAnswerer:
    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
    ):
        import openai  # 0.8 s to import: only the chat-model path pays for it

        self._openai = openai
        self.model = chat_model_name(model)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        # Local servers (Ollama, llama.cpp, vLLM) accept any key; the client insists on one.
        key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        timeout = timeout or float(os.environ.get("QA_TIMEOUT", DEFAULT_TIMEOUT_S))
        self.client = openai.OpenAI(
            base_url=self.base_url, api_key=key, timeout=timeout, max_retries=1
        )

    def complete(self, messages: list[dict], on_token: OnToken | None = None) -> str:
        """The model's reply; streamed to on_token piece by piece when given."""
        try:
            if on_token is None:
                reply = self.client.chat.completions.create(
                    model=self.model, messages=messages, temperature=0
                )
                return reply.choices[0].message.content or ""
            pieces = []
            stream = self.client.chat.completions.create(
                model=self.model, messages=messages, temperature=0, stream=True
            )
            for event in stream:
                if not event.choices:
                    continue
                piece = event.choices[0].delta.content
                if piece:
                    pieces.append(piece)
                    on_token(piece)
            return "".join(pieces)
        except self._openai.APITimeoutError as exc:
            raise QAError(
                f"the chat model at {self.base_url} did not answer in time ({exc})"
            ) from exc
        except self._openai.APIConnectionError as exc:
            raise QAError(f"cannot reach the chat model at {self.base_url}: {exc}") from exc
        except self._openai.APIStatusError as exc:
            raise QAError(
                f"the chat model at {self.base_url} answered HTTP {exc.status_code}: {exc.message}"
            ) from exc

    def answer(
        self, question: str, passages: list[Passage], on_token: OnToken | None = None
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
