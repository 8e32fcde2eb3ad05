"""Prompt budgets: fit a planner prompt and its new tokens into the model's context window.

A long catalog or a big candidate list is never an error: descriptions are shortened first (90 -> 60 -> 30
characters -> none), then the lowest-ranked candidates are dropped (required tools kept), and last the new
tokens are capped. Each step taken is a `budget` repair in the plan. Backends that can count tokens
(`count_tokens`) are asked; others are estimated at CHARS_PER_TOKEN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from typing import Any

from core.catalog import Tool
from core.errors import ContextLengthError
from core.llm.base import Message
from core.llm.prompts import MAX_DESC_CHARS
from core.planning.types import Repair

CHARS_PER_TOKEN = 3.0  # conservative for English text with ids and JSON (Gemma / Qwen tokenizers: ~3.5-4)
DESC_LEVELS = (MAX_DESC_CHARS, 60, 30, 0)
MIN_TOOLS = 2
MIN_NEW_TOKENS = 96
Builder = Callable[[Sequence[Tool], int], list[Message]]


def count_prompt(backend: Any, messages: Sequence[Message]) -> int:
    """Prompt tokens: the backend's own count when it has one, else a character estimate."""
    fn = getattr(backend, "count_tokens", None)
    if callable(fn):
        return int(fn(messages))
    return math.ceil(sum(len(m.get("content") or "") for m in messages) / CHARS_PER_TOKEN) + 8 * len(messages)


def fit_prompt(backend: Any, build: Builder, tools: Sequence[Tool], max_tokens: int, *,
               keep: Collection[str] = ()) -> tuple[list[Message], list[Tool], int, list[Repair]]:
    """(messages, tools shown, new-token budget, repairs) that fit `backend.n_ctx`. Backends without a
    context size get the full prompt. Raises ContextLengthError when even the smallest prompt leaves fewer
    than MIN_NEW_TOKENS."""
    tools = list(tools)
    n_ctx = getattr(backend, "n_ctx", None)
    if not isinstance(n_ctx, int) or n_ctx <= 0:
        return build(tools, MAX_DESC_CHARS), tools, max_tokens, []
    repairs: list[Repair] = []
    n = 0
    for desc in DESC_LEVELS:
        messages = build(tools, desc)
        n = count_prompt(backend, messages)
        if n + max_tokens <= n_ctx:
            if desc != MAX_DESC_CHARS:
                repairs.append(Repair("budget", f"tool descriptions cut to {desc} characters to fit n_ctx={n_ctx} "
                                                f"(prompt {n} + {max_tokens} new tokens)"))
            return messages, tools, max_tokens, repairs
    # still too long without descriptions: drop the lowest-ranked candidates (required ones stay)
    desc = DESC_LEVELS[-1]
    dropped: list[str] = []
    while n + max_tokens > n_ctx:
        droppable = [i for i, t in enumerate(tools) if t.tool_id not in keep]
        if len(tools) <= MIN_TOOLS or not droppable:
            break
        per_tool = max(1.0, (n - count_prompt(backend, build([], desc))) / max(1, len(tools)))
        k = max(1, min(len(droppable), len(tools) - MIN_TOOLS, math.ceil((n + max_tokens - n_ctx) / per_tool)))
        for i in sorted(droppable[-k:], reverse=True):
            dropped.append(tools.pop(i).tool_id)
        messages = build(tools, desc)
        n = count_prompt(backend, messages)
    if dropped:
        repairs.append(Repair("budget", f"dropped {len(dropped)} lowest-ranked candidates ({', '.join(dropped[:6])}"
                                        f"{', …' if len(dropped) > 6 else ''}) and descriptions to fit n_ctx={n_ctx}"))
    else:
        repairs.append(Repair("budget", f"tool descriptions dropped to fit n_ctx={n_ctx}"))
    if n + max_tokens > n_ctx:
        room = n_ctx - n
        if room < min(max_tokens, MIN_NEW_TOKENS):
            raise ContextLengthError(f"a prompt of {n} tokens leaves {room} new tokens in n_ctx={n_ctx}")
        repairs.append(Repair("budget", f"new tokens capped at {room} (was {max_tokens}) to fit n_ctx={n_ctx}"))
        max_tokens = room
    return messages, tools, max_tokens, repairs
