"""One constrained LLM call whose output is parsed leniently; truncation and repairs are reported."""

from __future__ import annotations

from typing import Any

from core.errors import PlanError
from core.llm.base import Completion, LLMBackend, Message, TokenCallback
from core.planning.repair import repair_json
from core.planning.types import Repair

GUIDED_STATS = ("sampled_tokens", "forced_tokens", "reused_prompt_tokens", "prompt_s", "forward_s", "regex_s",
                "forward_calls", "draft_tokens", "accepted_draft_tokens")


def call_json(backend: LLMBackend, messages: list[Message], schema: dict[str, Any], *, max_tokens: int, seed: int,
              on_token: TokenCallback | None, stats: dict[str, Any]) -> tuple[Any | None, list[Repair], Completion]:
    """(parsed object or None, repairs, completion). Accumulates token counts/time into `stats`. A prompt that
    does not fit the context is a `context` repair and None (the planner falls back), never an error."""
    from core.errors import ContextLengthError

    try:
        comp = backend.complete(messages, json_schema=schema, max_tokens=max_tokens, temperature=0.0, seed=seed,
                                on_token=on_token)
    except ContextLengthError as exc:
        stats["context_fallbacks"] = stats.get("context_fallbacks", 0) + 1
        return None, [Repair("context", f"LLM call skipped: {exc.message}")], Completion("", "error")
    stats["llm_calls"] = stats.get("llm_calls", 0) + 1
    stats["prompt_tokens"] = stats.get("prompt_tokens", 0) + comp.prompt_tokens
    stats["completion_tokens"] = stats.get("completion_tokens", 0) + comp.completion_tokens
    stats["llm_s"] = round(stats.get("llm_s", 0.0) + comp.seconds, 4)
    for k in GUIDED_STATS:
        if isinstance(comp.meta.get(k), int | float):  # guided decoding's breakdown (core/llm/guided.py)
            stats[k] = round(stats.get(k, 0) + comp.meta[k], 4)
    repairs: list[Repair] = []
    if comp.truncated:
        repairs.append(Repair("truncate", f"model output hit max_tokens={max_tokens}; parsed what was there"))
    try:
        obj, rep = repair_json(comp.text)
    except PlanError as exc:
        repairs.append(Repair("json", f"unparseable model output: {exc.message}"))
        return None, repairs, comp
    return obj, repairs + rep, comp
