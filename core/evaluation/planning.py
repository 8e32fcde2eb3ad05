"""task_planning evaluators: one per planner (hierarchical, flat, greedy), scored with core.metrics.planning."""

from __future__ import annotations

from typing import Any

from core.catalog import Catalog
from core.errors import SageError
from core.evaluation.runner import SampleResult, mean_metrics
from core.metrics.planning import METRIC_NAMES, gold_steps, plan_metrics
from core.planning.base import BasePlanner, PlannerConfig
from core.planning.registry import make_planner, make_selector

DEFAULT_PLANNERS = ["grounded", "hierarchical", "flat", "greedy"]


class PlanningEvaluator:
    task = "task_planning"

    def __init__(self, planner: BasePlanner, catalog: Catalog, model_name: str | None) -> None:
        self.planner = planner
        self.catalog = catalog
        d = planner.describe()
        label = planner.name if not planner.uses_llm else f"{planner.name}:{model_name}"
        self.config: dict[str, Any] = {"name": label, "method": planner.name, **d}

    def evaluate_sample(self, sample: dict[str, Any]) -> SampleResult:
        gold = gold_steps(sample)
        try:
            plan = self.planner.plan(sample["instruction"], candidates=sample.get("candidate_tools"))
        except SageError as exc:  # a failed plan scores zero but keeps the run going
            zero = dict.fromkeys((*METRIC_NAMES, "structural_executability"), 0.0)
            return SampleResult(sample["id"], False, zero, {"error": str(exc)})
        m = plan_metrics(plan.steps, gold, self.catalog, plan.candidates)
        m["repairs"] = float(len(plan.repairs))
        m["fallback"] = float(any(r.kind == "fallback" for r in plan.repairs))
        payload = {"pred": [s.__dict__ for s in plan.steps], "gold": [s.__dict__ for s in gold],
                   "repairs": [r.__dict__ for r in plan.repairs],
                   "llm_calls": plan.meta.get("llm_calls", 0), "completion_tokens": plan.meta.get("completion_tokens", 0)}
        return SampleResult(sample["id"], m["exact_match"] == 1.0, m, payload)

    def aggregate(self, results: list[SampleResult]) -> dict[str, float]:
        return mean_metrics(results)


def build_evaluators(catalog: Catalog, options: dict[str, Any]) -> list[PlanningEvaluator]:
    """Options: planners (list|None), model, lora, seed, selectors (the first one feeds every planner; none named:
    each planner's own default, as the plan screen and `sage-tui plan` use it), top_k."""
    from core.planning.registry import PLANNERS

    names = options.get("planners") or DEFAULT_PLANNERS
    named = (options.get("selectors") or [None])[0]
    fitted: dict[str | None, Any] = {}

    def selector_for(planner: str) -> Any:
        key = named or getattr(PLANNERS.get(planner), "default_selector", None)
        if key not in fitted:
            fitted[key] = make_selector(catalog, key)
        return fitted[key]
    cfg = PlannerConfig(seed=int(options.get("seed") or 0))
    backend, model_name = None, None
    if any(n != "greedy" for n in names):
        from core.llm.factory import make_backend

        backend = make_backend(options.get("model"), options.get("lora"), purpose="plan")
        model_name = backend.model.name + ("+lora" if options.get("lora") else "")
    return [PlanningEvaluator(make_planner(n, catalog, selector=selector_for(n), backend=backend, config=cfg), catalog,
                              model_name) for n in names]
