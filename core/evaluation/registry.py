"""Which evaluator factories exist per task. Capabilities register themselves here.

A factory takes the CLI/TUI options (a dict: selectors, planner, timing strategy, model, lora,
catalog, seed, ...) and returns one Evaluator per configuration to compare.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from core.catalog import Catalog
from core.errors import UsageError
from core.evaluation.runner import Evaluator

EvaluatorFactory = Callable[[Catalog, dict[str, Any]], list[Evaluator]]

# task -> "module:function" (lazy, so `--help` stays fast)
FACTORIES: dict[str, str] = {
    "tool_selection": "core.evaluation.selection:build_evaluators",
    "tool_retrieval": "core.evaluation.selection:build_evaluators",
    "task_planning": "core.evaluation.planning:build_evaluators",
    "timing_judgment": "core.evaluation.timing:build_evaluators",
}


def build_evaluators(task: str, catalog: Catalog, options: dict[str, Any]) -> list[Evaluator]:
    if task not in FACTORIES:
        raise UsageError(f"unknown task {task!r}; expected one of {sorted(FACTORIES)}")
    mod_name, fn_name = FACTORIES[task].split(":")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        raise UsageError(f"evaluation of {task!r} is not available ({exc})") from None
    factory: EvaluatorFactory = getattr(mod, fn_name)
    return factory(catalog, {**options, "task": task})
