"""TimingDecider: rule, llm and hybrid strategies; each returns decision, confidence and reason."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from core.catalog import Catalog
from core.errors import PlanError, UsageError
from core.llm.base import Message
from core.llm.prompts import timing_prompt, timing_schema
from core.planning.repair import repair_json
from core.timing.features import WEIGHTS, TimingFeatures, extract_features, logit

STRATEGIES = ("rule", "llm", "hybrid")
MAX_MESSAGE_CHARS = 2000


@dataclass
class TimingConfig:
    threshold: float = 0.6  # rule: call a tool when P(tool) >= threshold (tuned: bench/tune_timing.py)
    band: float = 0.05  # hybrid: consult the LLM when rule confidence < band (tuned: bench/tune_timing.py)
    score_scale: float = 8.0  # selector score s -> s / (s + scale) in the tool_score feature
    top_k: int = 5  # candidate tools shown to the LLM
    max_tokens: int = 48

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TimingDecision:
    should_call_tool: bool
    confidence: float  # rule: distance of P(tool) from the threshold in [0, 1]; llm: output consistency
    reason: str
    strategy: str
    tool: str | None = None
    used_llm: bool = False
    probability: float | None = None  # rule P(tool), when computed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _reason(f: TimingFeatures) -> str:
    pos = [k for k in ("action_verb", "realtime", "date", "amount", "identifier") if getattr(f, k)]
    neg = [k for k in ("result_in_context", "chitchat", "creative", "knowledge_question") if getattr(f, k)]
    parts = []
    if pos:
        parts.append("+" + ",".join(pos))
    if neg:
        parts.append("-" + ",".join(neg))
    parts.append(f"tool match {f.tool_score:.2f}")
    return "; ".join(parts)


class TimingDecider:
    def __init__(self, strategy: str, catalog: Catalog, *, selector: Any = None, backend: Any = None,
                 config: TimingConfig | None = None, weights: dict[str, float] | None = None) -> None:
        if strategy not in STRATEGIES:
            raise UsageError(f"unknown timing strategy {strategy!r}; expected one of {STRATEGIES}")
        self.strategy = strategy
        self.catalog = catalog
        self.selector = selector
        self.backend = backend
        self.config = config or TimingConfig()
        self.weights = weights or WEIGHTS
        if strategy != "rule" and backend is None:
            from core.llm.llamacpp import LlamaCppBackend

            self.backend = LlamaCppBackend()

    def describe(self) -> dict[str, Any]:
        d = {"strategy": self.strategy, **self.config.to_dict()}
        if self.strategy != "rule":
            d["model"] = self.backend.info()
        if self.selector is not None and hasattr(self.selector, "config"):
            d["selector"] = self.selector.config()
        return d

    def _ranked(self, message: str) -> list[Any]:
        if self.selector is None:
            return []
        return self.selector.select(message, top_k=self.config.top_k)

    def decide(self, message: str, context: Sequence[Message] = ()) -> TimingDecision:
        msg = " ".join((message or "").split())
        if not msg:
            raise UsageError("the message is empty")
        msg = msg[:MAX_MESSAGE_CHARS]
        ranked = self._ranked(msg)
        rule = self.rule(msg, context, ranked)
        if self.strategy == "rule" or (self.strategy == "hybrid" and rule.confidence >= self.config.band):
            return rule
        llm = self.llm(msg, context, ranked, fallback=rule)
        llm.strategy = self.strategy
        return llm

    def rule(self, message: str, context: Sequence[Message], ranked: list[Any]) -> TimingDecision:
        top = max(ranked[0].score, 0.0) if ranked else 0.0
        f = extract_features(message, context, top / (top + self.config.score_scale) if top > 0 else 0.0)
        p = _sigmoid(logit(f, self.weights))
        t = self.config.threshold
        call = p >= t
        conf = abs(p - t) / (t if not call else 1 - t) if 0 < t < 1 else 1.0
        tool = ranked[0].tool_id if call and ranked else None
        return TimingDecision(call, round(min(conf, 1.0), 4), _reason(f), "rule", tool, False, round(p, 4))

    def llm(self, message: str, context: Sequence[Message], ranked: list[Any],
            fallback: TimingDecision | None = None) -> TimingDecision:
        tools = [self.catalog.get(s.tool_id) for s in ranked]
        ids = [t.tool_id for t in tools]
        comp = self.backend.complete(timing_prompt(message, context, tools), json_schema=timing_schema(ids),
                                     max_tokens=self.config.max_tokens, temperature=0.0)
        try:
            obj, _ = repair_json(comp.text)
        except PlanError:
            obj = None
        if not isinstance(obj, dict) or not isinstance(obj.get("should_call_tool"), bool):
            fb = fallback or TimingDecision(False, 0.0, "", "llm")
            return TimingDecision(fb.should_call_tool, 0.0, f"unparseable LLM output; rule said: {fb.reason}", "llm",
                                  fb.tool, True, fb.probability)
        call = obj["should_call_tool"]
        tool = obj.get("tool") if obj.get("tool") in ids else None
        consistent = (tool is not None) == call
        reason = str(obj.get("reason") or "")[:120]
        if comp.truncated:
            reason += " [truncated]"
        return TimingDecision(call, 1.0 if consistent else 0.5, reason, "llm", tool if call else None, True,
                              fallback.probability if fallback else None)
