"""timing_judgment evaluators: one per strategy; aggregate metrics come from the confusion matrix."""

from __future__ import annotations

from typing import Any

from core.catalog import Catalog
from core.evaluation.runner import SampleResult
from core.metrics.timing import confusion, timing_metrics
from core.planning.registry import make_selector
from core.timing.decider import STRATEGIES, TimingConfig, TimingDecider


class TimingEvaluator:
    task = "timing_judgment"

    def __init__(self, decider: TimingDecider, model_name: str | None) -> None:
        self.decider = decider
        label = decider.strategy if decider.strategy == "rule" else f"{decider.strategy}:{model_name}"
        self.config: dict[str, Any] = {"name": label, "method": decider.strategy, **decider.describe()}

    def evaluate_sample(self, sample: dict[str, Any]) -> SampleResult:
        d = self.decider.decide(sample["message"], sample.get("context") or [])
        gold = bool(sample["gold"]["should_call_tool"])
        ok = d.should_call_tool == gold
        metrics = {"correct": float(ok), "used_llm": float(d.used_llm)}
        payload = {"pred": d.should_call_tool, "gold": gold, "confidence": d.confidence, "reason": d.reason,
                   "tool": d.tool, "gold_tool": sample["gold"].get("tool"), "probability": d.probability}
        return SampleResult(sample["id"], ok, metrics, payload)

    def aggregate(self, results: list[SampleResult]) -> dict[str, float]:
        """precision/recall/f1/fpr from the pooled confusion matrix (not per-sample means)."""
        c = confusion((bool(r.payload.get("pred")), bool(r.payload.get("gold"))) for r in results)
        m = timing_metrics(c)
        m.update(tp=float(c.tp), fp=float(c.fp), tn=float(c.tn), fn=float(c.fn))
        if results:
            m["llm_rate"] = sum(r.metrics.get("used_llm", 0.0) for r in results) / len(results)
        return m


def build_evaluators(catalog: Catalog, options: dict[str, Any]) -> list[TimingEvaluator]:
    """Options: timing (strategies|None -> rule, llm, hybrid), model, lora, selectors (first used)."""
    strategies = options.get("timing") or list(STRATEGIES)
    sel_names = options.get("selectors") or [None]
    selector = make_selector(catalog, sel_names[0])
    backend, model_name = None, None
    if any(s != "rule" for s in strategies):
        from core.llm.factory import make_backend

        backend = make_backend(options.get("model"), options.get("lora"), purpose="timing")
        model_name = backend.model.name + ("+lora" if backend.model.lora else "")
    return [TimingEvaluator(TimingDecider(s, catalog, selector=selector, backend=backend, config=TimingConfig()),
                            model_name) for s in strategies]
