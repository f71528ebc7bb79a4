"""Chat completions over the `openai` client, for a cloud provider and for the local llama.cpp server alike.

The local backend is the same class pointed at LLM_SERVER_URL (`manage.py llmserver`), so web
and worker processes never load the LLM themselves and there is one code path to test.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai

from mindpost.core import metrics

from .clients import make_async_client, mapped_errors
from .types import AIError

_ROLES = {"system", "user", "assistant"}
_JSON_HINT = {"role": "system", "content": "Reply with one JSON object and nothing else."}


def _check_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    if not messages:
        raise AIError("A chat request needs at least one message.")
    for message in messages:
        if (
            not isinstance(message, dict)
            or message.get("role") not in _ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise AIError("Each chat message must be {'role': system|user|assistant, 'content': str}.")
    return [{"role": message["role"], "content": message["content"]} for message in messages]


class OpenAIChatModel:
    """`complete`, `stream` (sync iterator of text deltas) and `astream` (async iterator)."""

    def __init__(
        self,
        *,
        client: openai.OpenAI,
        model: str,
        base_url: str,
        api_key: str,
        timeout: float,
        max_retries: int,
        local: bool,
    ) -> None:
        self.client = client
        self.model_name = model
        self._base_url, self._api_key, self._timeout, self._max_retries = base_url, api_key, timeout, max_retries
        self.local = local
        self.label = "Local LLM" if local else "Chat completion"
        self.backend = "local" if local else "openai"  # the metrics label

    def _request(
        self, messages: list[dict[str, str]], max_tokens: int, temperature: float, *, json: bool = False
    ) -> dict[str, Any]:
        messages = _check_messages(messages)
        if max_tokens < 1:
            raise AIError("max_tokens must be at least 1.")
        request: dict[str, Any] = {"model": self.model_name, "messages": messages, "temperature": temperature}
        # OpenAI deprecated max_tokens for chat; llama.cpp's server reads max_tokens.
        request["max_tokens" if self.local else "max_completion_tokens"] = max_tokens
        if json:
            # OpenAI refuses json_object unless a message mentions JSON; llama.cpp turns it into a grammar.
            if not any("json" in message["content"].lower() for message in messages):
                request["messages"] = [_JSON_HINT, *messages]
            request["response_format"] = {"type": "json_object"}
        return request

    def complete(
        self,
        *,
        messages: list[dict[str, str]],
        max_tokens: int = 512,
        temperature: float = 0.2,
        json: bool = False,
    ) -> str:
        request = self._request(messages, max_tokens, temperature, json=json)
        with metrics.model_call(operation="complete", backend=self.backend), mapped_errors(self.label):
            response = self.client.chat.completions.create(**request)
        if not response.choices or response.choices[0].message.content is None:
            raise AIError(f"{self.label} returned no text.")
        content: str = response.choices[0].message.content
        return content.strip() if json else content

    def stream(
        self, *, messages: list[dict[str, str]], max_tokens: int = 512, temperature: float = 0.2
    ) -> Iterator[str]:
        request = self._request(messages, max_tokens, temperature)
        # Closing the stream (the consumer stops early) drops the connection, and llama.cpp
        # then stops generating for it.
        with (
            metrics.model_call(operation="stream", backend=self.backend),
            mapped_errors(self.label),
            self.client.chat.completions.create(**request, stream=True) as chunks,
        ):
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

    async def astream(
        self, *, messages: list[dict[str, str]], max_tokens: int = 512, temperature: float = 0.2
    ) -> AsyncIterator[str]:
        deltas = await self.aopen_stream(messages=messages, max_tokens=max_tokens, temperature=temperature)
        try:
            async for delta in deltas:
                yield delta
        finally:
            await deltas.aclose()

    async def aopen_stream(
        self, *, messages: list[dict[str, str]], max_tokens: int = 512, temperature: float = 0.2
    ) -> _DeltaStream:
        """Open the stream and return once the response headers are in, before the first token.

        A server that is down or refuses fails here; llama.cpp sends its headers at once, so
        this costs a round trip, not the prompt evaluation. Close the result (`aclose`) when done."""
        request = self._request(messages, max_tokens, temperature)
        started = time.perf_counter()
        # A client per call: an async connection pool belongs to the event loop that made it.
        client = make_async_client(
            base_url=self._base_url, api_key=self._api_key, timeout=self._timeout, max_retries=self._max_retries
        )
        try:
            with mapped_errors(self.label):
                chunks = await client.chat.completions.create(**request, stream=True)
        except BaseException:
            await client.close()
            raise
        return _DeltaStream(client, chunks, self.label, backend=self.backend, started=started)


class _DeltaStream:
    """The text deltas of an opened completion stream; `aclose` drops the connection (and
    llama.cpp then stops generating), whether or not iteration has started."""

    def __init__(self, client: openai.AsyncOpenAI, chunks: Any, label: str, *, backend: str, started: float) -> None:
        self._client, self._chunks, self._label = client, chunks, label
        # Metrics: first token and whole stream, timed from the request (mindpost.core.metrics).
        self._backend, self._started, self._first, self._outcome = backend, started, True, "incomplete"
        self._iterator = chunks.__aiter__()
        self._closed = False

    def __aiter__(self) -> _DeltaStream:
        return self

    async def __anext__(self) -> str:
        while True:
            try:
                with mapped_errors(self._label):
                    chunk = await self._iterator.__anext__()
            except StopAsyncIteration:
                self._outcome = "ok"
                raise
            except BaseException:
                self._outcome = "error"
                raise
            if chunk.choices and chunk.choices[0].delta.content:
                if self._first:
                    self._first = False
                    metrics.observe_first_token(backend=self._backend, seconds=time.perf_counter() - self._started)
                return str(chunk.choices[0].delta.content)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        seconds = time.perf_counter() - self._started
        metrics.observe_model(operation="stream", backend=self._backend, outcome=self._outcome, seconds=seconds)
        try:
            await self._chunks.close()
        finally:
            await self._client.close()
