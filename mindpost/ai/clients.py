"""The `openai` client, shared by the cloud backends and the local llama.cpp server, and error mapping.

Every provider failure leaves this package as one of three errors:
- ModelUnavailable: nothing answers (connection refused, a 503 while a model loads);
- TransientAIError: timeouts, a connection that broke mid-way, 429, 408/409 and other 5xx - retry later;
- AIError: any other 4xx or a response we cannot use - retrying will not help.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
import openai

from .types import AIError, ModelUnavailable, TransientAIError

_RETRYABLE_STATUSES = {408, 409, 429}


def make_client(*, base_url: str, api_key: str, timeout: float, max_retries: int) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)


def make_async_client(*, base_url: str, api_key: str, timeout: float, max_retries: int) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)


def _status_error(exc: openai.APIStatusError, what: str) -> AIError:
    status = exc.status_code
    message = f"{what} failed with HTTP {status}: {exc.message}"
    if status == 503:
        return ModelUnavailable(message, status_code=status)
    if status >= 500 or status in _RETRYABLE_STATUSES:
        return TransientAIError(message, status_code=status)
    return AIError(message, status_code=status)


@contextmanager
def mapped_errors(what: str) -> Iterator[None]:
    """Translate openai / transport exceptions raised inside the block into the AI error types."""
    try:
        yield
    except AIError:
        raise
    except openai.APITimeoutError as exc:
        raise TransientAIError(f"{what} timed out.") from exc
    except openai.APIConnectionError as exc:
        # The client wraps transport errors; only a failed connect means nothing is listening.
        if isinstance(exc.__cause__, httpx2.ConnectError):
            raise ModelUnavailable(f"{what}: the model server is not reachable ({exc.__cause__}).") from exc
        raise TransientAIError(f"{what}: the connection broke ({exc.__cause__ or exc}).") from exc
    except openai.APIStatusError as exc:
        raise _status_error(exc, what) from exc
    except openai.APIError as exc:
        # An error event inside a stream, or a body that does not match the API.
        raise AIError(f"{what} failed: {exc.message}") from exc
    except httpx2.TimeoutException as exc:  # raised by a stream after its first bytes
        raise TransientAIError(f"{what} timed out.") from exc
    except httpx2.TransportError as exc:
        raise TransientAIError(f"{what}: the connection broke ({exc}).") from exc
    except openai.OpenAIError as exc:
        raise AIError(f"{what} failed: {exc}") from exc
