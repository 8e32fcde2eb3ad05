"""Planning metrics (names are a public contract): step_validity, dependency_correctness, executability,
node_f1, edge_f1, exact_match (+ edge_precision, edge_recall, structural_executability).

Steps are matched to gold by tool: the k-th use of a tool in the prediction matches the k-th use in gold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from core.catalog import Catalog
from core.planning.types import PlanStep

Key = tuple[str, int]  # (tool_id, occurrence index)

# the headline planning metrics, in display order: evaluation summaries, `sage-tui eval`, training evals
METRIC_NAMES = ("step_validity", "dependency_correctness", "executability", "node_f1", "edge_f1", "exact_match")
# what `plan_metrics` returns besides the headline ones
EXTRA_METRIC_NAMES = ("structural_executability", "edge_precision", "edge_recall")


def _prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    if n_pred == 0 and n_gold == 0:
        return 1.0, 1.0, 1.0
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def step_keys(steps: Sequence[PlanStep]) -> dict[int, Key]:
    """Step id -> (tool_id, k) where k counts earlier uses of the same tool."""
    seen: Counter[str] = Counter()
    out: dict[int, Key] = {}
    for s in steps:
        out.setdefault(s.id, (s.tool_id, seen[s.tool_id]))
        seen[s.tool_id] += 1
    return out


def edges(steps: Sequence[PlanStep]) -> set[tuple[Key, Key]]:
    keys = step_keys(steps)
    return {(keys[d], keys[s.id]) for s in steps for d in s.depends_on if d in keys and d != s.id}


def node_f1(pred: Sequence[PlanStep], gold: Sequence[PlanStep]) -> float:
    p, g = Counter(s.tool_id for s in pred), Counter(s.tool_id for s in gold)
    return _prf(sum((p & g).values()), sum(p.values()), sum(g.values()))[2]


def edge_prf(pred: Sequence[PlanStep], gold: Sequence[PlanStep]) -> tuple[float, float, float]:
    pe, ge = edges(pred), edges(gold)
    return _prf(len(pe & ge), len(pe), len(ge))


def dependency_correctness(pred: Sequence[PlanStep], gold: Sequence[PlanStep]) -> float:
    """Share of gold steps matched by a predicted step whose (matched) dependency set equals gold's."""
    pk, gk = step_keys(pred), step_keys(gold)
    pdeps = {pk[s.id]: {pk[d] for d in s.depends_on if d in pk} for s in pred}
    gdeps = {gk[s.id]: {gk[d] for d in s.depends_on if d in gk} for s in gold}
    if not gdeps:
        return 1.0 if not pdeps else 0.0
    return sum(1 for k, deps in gdeps.items() if k in pdeps and pdeps[k] == deps) / len(gdeps)


def exact_match(pred: Sequence[PlanStep], gold: Sequence[PlanStep]) -> float:
    """1.0 when the tool sequence (in step order) equals gold's."""
    return float([s.tool_id for s in pred] == [s.tool_id for s in gold])


def _norm_value(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int | float):
        return float(v)
    text = " ".join(str(v).split()).lower().strip(" .")
    try:
        return float(text)
    except ValueError:
        return text


def argument_accuracy(pred: Sequence[PlanStep], gold: Sequence[PlanStep]) -> tuple[int, int]:
    """(matched, total) gold argument values on the gold steps the plan has the tool for (steps paired as in
    `edges`: the k-th use of a tool with the k-th): a value matches when equal after trimming and lower-casing
    (numbers as numbers). Measures the values given the right tool; a missed tool is node F1's business."""
    def keyed(steps: Sequence[PlanStep]) -> dict[Key, PlanStep]:
        seen: Counter[str] = Counter()
        out: dict[Key, PlanStep] = {}
        for s in steps:
            out[(s.tool_id, seen[s.tool_id])] = s
            seen[s.tool_id] += 1
        return out

    pk = keyed(pred)
    hit = total = 0
    for key, s in keyed(gold).items():
        p = pk.get(key)
        if p is None:
            continue
        for name, value in (s.arguments or {}).items():
            total += 1
            hit += name in (p.arguments or {}) and _norm_value(p.arguments[name]) == _norm_value(value)
    return hit, total


def plan_metrics(pred: Sequence[PlanStep], gold: Sequence[PlanStep], catalog: Catalog,
                 candidates: Sequence[str] | None = None) -> dict[str, float]:
    """All planning metrics for one sample (METRIC_NAMES + EXTRA_METRIC_NAMES)."""
    from core.planning.validators import validate_plan  # jsonschema: not on the CLI's start path

    report = validate_plan(pred, catalog, candidates)
    structural = report.is_dag and bool(pred) and all(s.tool_id in catalog for s in pred)
    p, r, f = edge_prf(pred, gold)
    return {
        "step_validity": (sum(report.step_valid.values()) / len(pred)) if pred else 0.0,
        "dependency_correctness": dependency_correctness(pred, gold),
        "executability": float(structural and all(report.step_valid.values())),
        "structural_executability": float(structural),
        "node_f1": node_f1(pred, gold),
        "edge_precision": p,
        "edge_recall": r,
        "edge_f1": f,
        "exact_match": exact_match(pred, gold),
    }


def gold_steps(sample: dict[str, Any]) -> list[PlanStep]:
    return [PlanStep.from_dict(s) for s in sample["gold"]["steps"]]
