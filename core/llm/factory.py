"""The one place LLM backends are built (outside core/llm and tests): presets, adapters, endpoints, the
timing vote's default adapter, process isolation and the per-process cache.

`make_backend(model, lora, endpoint, purpose)`:
- `endpoint` (an `EndpointSpec` or an http(s) URL), or a `model` that is an http(s) URL: an
  OpenAI-compatible server (`core/llm/openai_compat.py`);
- otherwise llama.cpp on a GGUF preset/path with an optional LoRA (a path or an adapter name). With
  `purpose="timing"` and neither model nor adapter named, the bundled timing adapter
  (`default_timing_lora`). Isolation `child` (default) runs llama.cpp in its own process
  (`core/llm/engine/`), so a native crash fails one request instead of the whole program; `inprocess`
  loads it here. `$SAGE_TUI_ENGINE` or `[engine] isolation` picks the default.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from core.errors import UsageError

PURPOSES = ("plan", "timing")
ISOLATION_ENV = "SAGE_TUI_ENGINE"
ISOLATIONS = ("child", "inprocess")

_CACHE: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class EndpointSpec:
    """An OpenAI-compatible server: what `OpenAICompatibleBackend` needs (the key itself, never its variable)."""

    base_url: str
    model: str = "default"
    chat_format: str | None = None
    api_key: str | None = None
    timeout_s: float = 120.0
    schema_style: str = "llama-cpp"


def default_isolation() -> str:
    """`$SAGE_TUI_ENGINE`, else `[engine] isolation` in the config file, else `child`."""
    from core.llm.engine.settings import engine_setting

    return engine_setting("isolation", ISOLATION_ENV, ISOLATIONS, "child")[0]


def _is_url(text: str | None) -> bool:
    return bool(text) and str(text).startswith(("http://", "https://"))


def make_backend(model: Any = None, lora: str | None = None, endpoint: EndpointSpec | str | None = None,
                 purpose: str = "plan", *, isolation: str | None = None, cache: bool = True,
                 **options: Any) -> Any:
    """A backend for `purpose` ("plan" | "timing"), shared per process for the same arguments unless
    `cache=False`. `model` is a preset, a GGUF path, an http(s) URL or an already resolved model
    (`core.llm.models.ResolvedModel`, taken as is). `options` go to the llama.cpp backend (n_ctx, n_threads,
    decoding, merge_lora, ...)."""
    if purpose not in PURPOSES:
        raise UsageError(f"unknown backend purpose {purpose!r}; expected one of {PURPOSES}")
    if isinstance(endpoint, str) or (endpoint is None and isinstance(model, str) and _is_url(model)):
        endpoint = EndpointSpec(str(endpoint or model), model="default" if endpoint is None else (model or "default"))
    if endpoint is not None:
        key: tuple[Any, ...] = ("endpoint", endpoint)
        return _cached(key, cache, lambda: _endpoint_backend(endpoint))
    if purpose == "timing":
        from core.llm.models import default_timing_lora

        lora = default_timing_lora(model, lora)  # the bundled timing adapter for the default model
    isolation = isolation or default_isolation()
    if isolation not in ISOLATIONS:
        raise UsageError(f"unknown engine isolation {isolation!r}; expected one of {ISOLATIONS}")
    key = ("llama.cpp", model, lora, isolation, tuple(sorted(options.items())))
    return _cached(key, cache, lambda: _llama_backend(model, lora, isolation, options))


def _cached(key: tuple[Any, ...], cache: bool, build: Any) -> Any:
    if not cache:
        return build()
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = build()
        return _CACHE[key]


def _endpoint_backend(ep: EndpointSpec) -> Any:
    from core.llm.openai_compat import OpenAICompatibleBackend

    return OpenAICompatibleBackend(ep.base_url, model=ep.model, chat_format=ep.chat_format, api_key=ep.api_key,
                                   timeout_s=ep.timeout_s, schema_style=ep.schema_style)


def _llama_backend(model: Any, lora: str | None, isolation: str, options: dict[str, Any]) -> Any:
    from core.llm.models import ResolvedModel, resolve_adapter, resolve_model

    if isinstance(model, ResolvedModel):
        resolved = model
    else:
        resolved = resolve_model(model, resolve_adapter(lora) if lora else None)
    if isolation == "child":
        from core.llm.engine.client import EngineBackend

        return EngineBackend(resolved, **options)
    from core.llm.llamacpp import LlamaCppBackend

    return LlamaCppBackend(resolved, **options)


def clear_cache() -> None:
    """Forget cached backends (tests; a fresh engine child is started on the next request anyway)."""
    with _LOCK:
        _CACHE.clear()
