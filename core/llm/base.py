"""The one backend protocol every planner / timing decider talks to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system"|"user"|"assistant"|"tool", "content": str}
TokenCallback = Callable[[str], None]


@dataclass
class Completion:
    """One generation: text plus the facts needed to judge it (truncation, speed)."""

    text: str
    finish_reason: str  # "stop" | "length" | ...
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


@runtime_checkable
class LLMBackend(Protocol):
    """Chat completion with optional JSON-schema / GBNF constraints and token streaming."""

    name: str

    def complete(
        self,
        messages: Sequence[Message],
        *,
        json_schema: dict[str, Any] | None = None,
        grammar: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion: ...

    def info(self) -> dict[str, Any]:
        """JSON-serialisable identity of the backend/model (stored with runs)."""
        ...
