"""Evaluators for tool_selection / tool_retrieval: one per selector, metrics per sample."""

from __future__ import annotations

from typing import Any

from core.catalog import Catalog
from core.errors import SageError, UsageError
from core.evaluation.runner import Evaluator, SampleResult, mean_metrics
from core.metrics.selection import METRIC_NAMES, selection_metrics
from core.selection.base import Selector
from core.selection.common import check_top_k
from core.selection.registry import DEFAULT_SELECTORS, get_selector

MIN_DEPTH = 5  # the public metrics look at the top 5


class SelectionEvaluator:
    """Ranks each sample's candidates (or the whole catalog) and scores the ranking against gold.

    The ranking depth is max(top_k, 5); `mrr` is the reciprocal rank within that depth (0 beyond).
    Ties in score are ordered pessimistically (see core.metrics.selection).
    """

    def __init__(self, selector: Selector, task: str, top_k: int = 5) -> None:
        self.selector = selector
        self.task = task
        self.depth = max(check_top_k(top_k), MIN_DEPTH)
        self.config: dict[str, Any] = {"name": getattr(selector, "name", type(selector).__name__), **selector.config(), "top_k": self.depth, "tie_policy": "pessimistic"}

    def evaluate_sample(self, sample: dict[str, Any]) -> SampleResult:
        gold = list(sample["gold"]["tools"])
        try:
            ranked = self.selector.select(sample["instruction"], self.depth, sample.get("candidate_tools"))
        except SageError as exc:  # e.g. an empty instruction: this sample fails, the run goes on
            return SampleResult(sample["id"], False, dict.fromkeys(METRIC_NAMES, 0.0), {"gold": gold, "ranking": [], "error": str(exc)})
        ids = [s.tool_id for s in ranked]
        scores = [s.score for s in ranked]
        metrics = selection_metrics(ids, gold, scores)
        return SampleResult(
            sample["id"],
            bool(metrics["acc@1"]),
            metrics,
            {"ranking": ids, "scores": [round(s, 6) for s in scores], "gold": gold},
        )

    def aggregate(self, results: list[SampleResult]) -> dict[str, float]:
        return mean_metrics(results)


def build_evaluators(catalog: Catalog, options: dict[str, Any]) -> list[Evaluator]:
    """One evaluator per selector name in options["selectors"] (default: keyword, embedding, two_stage)."""
    task = options.get("task", "tool_selection")
    if task not in ("tool_selection", "tool_retrieval"):
        raise UsageError(f"selection evaluators do not handle task {task!r}")
    names = list(dict.fromkeys(options.get("selectors") or DEFAULT_SELECTORS))
    top_k = int(options.get("top_k") or 5)
    check_top_k(top_k)
    sels = [get_selector(n, catalog) for n in names]  # unknown names fail before any run is stored
    return [SelectionEvaluator(s, task, top_k) for s in sels]
