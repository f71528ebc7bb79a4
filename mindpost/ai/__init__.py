"""Transcribe, embed and chat behind one interface each, with `local` and `openai` backends.

    from mindpost.ai import get_transcriber, get_embedder, get_chat_model

    get_transcriber().transcribe(audio=path_or_16k_mono_float32, language=None) -> Transcript
    get_embedder().embed_passages([...]) / .embed_query("...")   -> 384-d, L2-normalised
    get_chat_model().complete(messages=[...], json=False) / .stream(...) / .astream(...)

Backends come from settings (TRANSCRIBE_BACKEND, EMBED_BACKEND, CHAT_BACKEND = local | openai).
Instances are cached per process; changing an AI setting (override_settings, pytest-django's
`settings` fixture) clears the cache by itself, and `reset_backends()` does it explicitly.
Local weights stay loaded across resets. Errors: types.AIError (permanent),
TransientAIError (retry), ModelUnavailable (the model server is down; also transient).
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings

from .types import (
    AIError,
    ChatModel,
    Embedder,
    ModelNotInstalled,
    ModelUnavailable,
    Segment,
    Transcriber,
    Transcript,
    TransientAIError,
)

__all__ = [
    "AI_SETTINGS",
    "AIError",
    "ChatModel",
    "Embedder",
    "ModelNotInstalled",
    "ModelUnavailable",
    "Segment",
    "Transcriber",
    "Transcript",
    "TransientAIError",
    "get_chat_model",
    "get_embedder",
    "get_transcriber",
    "reset_backends",
]

# Settings that change which backend or model the factories return.
AI_SETTINGS = frozenset(
    {
        "TRANSCRIBE_BACKEND",
        "EMBED_BACKEND",
        "CHAT_BACKEND",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "TRANSCRIBE_MODEL",
        "EMBED_MODEL",
        "CHAT_MODEL",
        "LLM_PRESET",
        "LLM_SERVER_URL",
        "MODEL_CACHE_DIR",
        "AI_TIMEOUT_SECONDS",
        "AI_MAX_RETRIES",
        "AI_CPU_THREADS",
    }
)

_cache: dict[str, Any] = {}
_lock = threading.Lock()


def _backend(setting: str) -> str:
    value = getattr(settings, setting)
    if value not in ("local", "openai"):
        raise AIError(f"{setting} must be 'local' or 'openai', not {value!r}.")
    return str(value)


# The backend modules are imported on first use: they load openai, numpy and PyAV, which a
# process that never calls a model (migrate, the admin, the types' users) need not pay for.
def _openai_client() -> Any:
    from .clients import make_client

    if not settings.OPENAI_API_KEY:
        raise AIError("OPENAI_API_KEY is not set, but an AI backend is 'openai'.")
    return make_client(
        base_url=settings.OPENAI_BASE_URL,
        api_key=settings.OPENAI_API_KEY,
        timeout=settings.AI_TIMEOUT_SECONDS,
        max_retries=settings.AI_MAX_RETRIES,
    )


def _cached(name: str, build: Any) -> Any:
    with _lock:
        if name not in _cache:
            _cache[name] = build()
        return _cache[name]


def get_transcriber() -> Transcriber:
    def build() -> Transcriber:
        from . import models, transcribe

        if _backend("TRANSCRIBE_BACKEND") == "openai":
            return transcribe.OpenAITranscriber(client=_openai_client(), model=settings.TRANSCRIBE_MODEL)
        model_dir = models.whisper_model_dir(cache_dir=settings.MODEL_CACHE_DIR)
        return transcribe.LocalTranscriber(model_dir=model_dir, cpu_threads=settings.AI_CPU_THREADS or None)

    result: Transcriber = _cached("transcriber", build)
    return result


def get_embedder() -> Embedder:
    def build() -> Embedder:
        from . import embed

        if _backend("EMBED_BACKEND") == "openai":
            return embed.OpenAIEmbedder(client=_openai_client(), model=settings.EMBED_MODEL)
        return embed.LocalEmbedder()

    result: Embedder = _cached("embedder", build)
    return result


def get_chat_model() -> ChatModel:
    def build() -> ChatModel:
        from .chat import OpenAIChatModel
        from .clients import make_client
        from .models import llm_preset

        if _backend("CHAT_BACKEND") == "openai":
            client = _openai_client()
            base_url, api_key, model = settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY, settings.CHAT_MODEL
        else:
            # llama.cpp's server ignores the key, but the openai client insists on one.
            base_url, api_key = settings.LLM_SERVER_URL, "local"
            model = llm_preset(settings.LLM_PRESET).alias
            client = make_client(
                base_url=base_url,
                api_key=api_key,
                timeout=settings.AI_TIMEOUT_SECONDS,
                max_retries=settings.AI_MAX_RETRIES,
            )
        return OpenAIChatModel(
            client=client,
            model=model,
            base_url=base_url,
            api_key=api_key,
            timeout=settings.AI_TIMEOUT_SECONDS,
            max_retries=settings.AI_MAX_RETRIES,
            local=_backend("CHAT_BACKEND") == "local",
        )

    result: ChatModel = _cached("chat", build)
    return result


def reset_backends() -> None:
    """Forget the cached backends so the next get_* call reads the settings again."""
    with _lock:
        _cache.clear()
