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
from core.timing.combiner import Combiner
from core.timing.features import WEIGHTS, TimingFeatures, extract_features, logit
from core.timing.llm_vote import Calibration, calibrated_vote_tools, calibration_for, vote_margin
from core.timing.vote_prompt import DEFAULT_VOTE_TOOLS, vote_prompt

STRATEGIES = ("rule", "llm", "hybrid")
VOTES = ("logprob", "generate")
COMBINES = ("stacked", "sum")
DEFAULT_BAND = 0.05
DEFAULT_LLM_WEIGHT = 1.0
MAX_MESSAGE_CHARS = 2000


# the selector whose top score the rule's tool_score feature was fit on (threshold, band and combiner:
# bench/timing_cv.py --selector keyword). A decider fed another selector's scores sees another distribution: on
# the hand-written goals, two_stage with the query map cut the rule's recall from 0.91 to 0.81 (docs/PLANNING.md)
FIT_SELECTOR = "keyword"


@dataclass
class TimingConfig:
    threshold: float = 0.6  # rule: call a tool when P(tool) >= threshold (tuned: bench/tune_timing.py)
    # hybrid: consult the LLM when rule confidence < band; None = the band tuned for this model on the
    # validation split (core/timing/calibration.json, bench/tune_timing.py), else DEFAULT_BAND
    band: float | None = None
    score_scale: float = 8.0  # selector score s -> s / (s + scale) in the tool_score feature
    top_k: int = 5  # candidate tools shown to the LLM
    max_tokens: int = 48
    # llm vote: "logprob" = calibrated P(call) from the logits of the constrained true/false choice
    # (core/timing/llm_vote.py); "generate" = parse a generated JSON answer (also the fallback for
    # backends without logits)
    llm_vote: str = "logprob"
    # hybrid inside the band: call when (logit P_rule - logit threshold) + llm_weight * logit P_llm >= 0;
    # None = the weight tuned for this model (calibration.json), else DEFAULT_LLM_WEIGHT
    llm_weight: float | None = None
    # tool lines in the prompt the logprob vote is scored after (core/timing/vote_prompt.py): 5 = the decider's
    # timing prompt with top_k tools, 0 = message + conversation only (cheapest); None = the variant this model
    # was calibrated with (calibration.json; the default variant when it has one, else the calibrated one)
    vote_tools: int | None = None
    # hybrid inside the band: "stacked" = the combiner fitted for this model (z = rule * rule log-odds + margin *
    # LLM margin + bias, core/timing/combiner.py), "sum" = the log-odds sum above; None = stacked when this model's
    # calibration has a combiner, else sum
    combine: str | None = None

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
    llm_probability: float | None = None  # calibrated LLM P(call) (logprob vote), when computed
    llm_margin: float | None = None  # raw LLM true-vs-false log-likelihood margin (logprob vote), when computed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sigmoid(z: float) -> float:
    z = max(min(z, 60.0), -60.0)
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
        if self.config.llm_vote not in VOTES:
            raise UsageError(f"unknown LLM vote {self.config.llm_vote!r}; expected one of {VOTES}")
        if self.config.combine is not None and self.config.combine not in COMBINES:
            raise UsageError(f"unknown hybrid combine {self.config.combine!r}; expected one of {COMBINES}")
        self._calibration: Calibration | None = None
        self._vote_tools: int | None = None
        if strategy != "rule" and backend is None:
            from core.llm.factory import make_backend

            self.backend = make_backend(purpose="timing")  # the bundled timing adapter

    def describe(self) -> dict[str, Any]:
        d = {"strategy": self.strategy, **self.config.to_dict()}
        if self.strategy != "rule":
            d["model"] = self.backend.info()
            d["calibration"] = self.calibration.to_dict()
            d["band"], d["llm_weight"], d["vote_tools"] = self.band, self.llm_weight, self.vote_tools
            d["combine"] = self.combine_mode
        if self.selector is not None and hasattr(self.selector, "config"):
            d["selector"] = self.selector.config()
        return d

    @property
    def calibration(self) -> Calibration:
        """Platt scaling of this backend's true/false margin (identity when none was fitted for it)."""
        if self._calibration is None:
            self._calibration = calibration_for(self.backend, vote_tools=self.vote_tools)
        return self._calibration

    @property
    def vote_tools(self) -> int:
        """Tool lines in the vote prompt: the configured number, else the variant calibrated for this model."""
        if self.config.vote_tools is not None:
            return self.config.vote_tools
        if self.strategy == "rule":
            return DEFAULT_VOTE_TOOLS
        if self._vote_tools is None:
            self._vote_tools = calibrated_vote_tools(self.backend)
        return self._vote_tools

    @property
    def band(self) -> float:
        if self.config.band is not None:
            return self.config.band
        if self.strategy == "rule":
            return DEFAULT_BAND
        b = self.calibration.band
        return DEFAULT_BAND if b is None else b

    @property
    def llm_weight(self) -> float:
        if self.config.llm_weight is not None:
            return self.config.llm_weight
        w = self.calibration.llm_weight if self.strategy != "rule" else None
        return DEFAULT_LLM_WEIGHT if w is None else w

    @property
    def combiner(self) -> Combiner | None:
        """The fitted in-band combiner of this model (None: none was fitted)."""
        raw = self.calibration.combiner if self.strategy != "rule" else None
        return Combiner.from_dict(raw) if raw is not None else None

    @property
    def combine_mode(self) -> str:
        """How the hybrid combines rule and LLM inside the band: "stacked" or "sum"."""
        if self.config.combine == "stacked" and self.combiner is None:
            raise UsageError(f"no fitted hybrid combiner for {self.calibration.key!r}",
                             hint="fit one with bench/timing_cv.py --combiner stacked --write, or use combine='sum'")
        if self.config.combine is not None:
            return self.config.combine
        return "stacked" if self.combiner is not None else "sum"

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
        if self.strategy == "rule" or (self.strategy == "hybrid" and rule.confidence >= self.band):
            return rule
        llm = self.llm(msg, context, ranked, fallback=rule)
        if self.strategy == "hybrid" and llm.llm_probability is not None and rule.probability is not None:
            return self.combine(rule, llm, ranked)
        llm.strategy = self.strategy
        return llm

    def combine(self, rule: TimingDecision, llm: TimingDecision, ranked: list[Any]) -> TimingDecision:
        """Inside the band: the fitted combiner of the rule's log-odds (relative to its threshold) and the LLM's
        margin ("stacked"), or the rule's log-odds plus the weighted calibrated LLM log-odds ("sum")."""
        eps = 1e-6
        pr = min(max(0.5 if rule.probability is None else rule.probability, eps), 1 - eps)
        pl = min(max(0.5 if llm.llm_probability is None else llm.llm_probability, eps), 1 - eps)
        t = min(max(self.config.threshold, eps), 1 - eps)
        rule_lo = math.log(pr / (1 - pr)) - math.log(t / (1 - t))
        comb = self.combiner if self.combine_mode == "stacked" else None
        if comb is not None and llm.llm_margin is not None:
            z = comb.z(rule_lo, llm.llm_margin)
            how = f"combined z={z:+.2f}"
        else:
            z = rule_lo + self.llm_weight * math.log(pl / (1 - pl))
            how = f"log-odds sum z={z:+.2f}"
        call = z >= 0
        tool = (llm.tool or (ranked[0].tool_id if ranked else None)) if call else None
        reason = f"rule unsure (P={pr:.2f}, {rule.reason}); LLM P(call)={pl:.2f}; {how}"
        return TimingDecision(call, round(min(abs(_sigmoid(z) - 0.5) * 2, 1.0), 4), reason, "hybrid", tool, True,
                              rule.probability, llm.llm_probability, llm.llm_margin)

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
        messages = timing_prompt(message, context, tools)
        if self.config.llm_vote == "logprob":
            margin = vote_margin(self.backend, vote_prompt(message, context, tools, self.vote_tools))
            if margin is not None:
                p = self.calibration.probability(margin)
                call = p >= 0.5
                return TimingDecision(call, round(abs(2 * p - 1), 4),
                                      f"LLM P(call)={p:.2f} (true-false log-lik. margin {margin:+.2f})", "llm",
                                      ids[0] if call and ids else None, True,
                                      fallback.probability if fallback else None, round(p, 4), margin)
        comp = self.backend.complete(messages, json_schema=timing_schema(ids),
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
