"""Run-store queries and pure helpers shared by the dashboard screens (no widgets here)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.store import RunStore

LOSS_NAMES = ("loss", "train_loss")
# metrics where smaller is better (for "best" highlighting and default sort direction)
LOWER_IS_BETTER = {"fpr", "loss", "train_loss", "train_seconds", "peak_memory_mb", "samples_used"}


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER or metric.endswith("_ms") or metric.endswith("_seconds")


def load_runs(
    store: RunStore, *, kind: str | None = None, status: str | None = None, method: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """Runs matching the filters (newest first) and their summary metrics. `method` is a comma-separated list
    of case-insensitive prefixes: `B` matches B1, B2 and B3; `A,B1` matches A and B1."""
    runs = store.list_runs(kind=kind, status=status)
    if method:
        runs = [r for r in runs if method_matches(r.get("method"), method)]
    return runs, {r["id"]: store.final_metrics(r["id"]) for r in runs}


def method_matches(run_method: str | None, query: str) -> bool:
    terms = [t.strip().lower() for t in query.split(",") if t.strip()]
    m = (run_method or "").lower()
    return not terms or (bool(m) and any(m.startswith(t) for t in terms))


def sort_runs(runs: list[dict[str, Any]], metrics: dict[str, dict[str, float]], metric: str | None, *, descending: bool = True) -> list[dict[str, Any]]:
    """Order runs by a metric; runs without it go last, in their original order."""
    if not metric:
        return list(runs)
    have = [r for r in runs if metric in metrics.get(r["id"], {})]
    rest = [r for r in runs if metric not in metrics.get(r["id"], {})]
    have.sort(key=lambda r: metrics[r["id"]][metric], reverse=descending)
    return have + rest


def fmt_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) >= 100 else f"{v:.4g}" if abs(v) < 1e-3 and v != 0 else f"{v:.3f}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, default=str)
    return str(v)


def flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def comparison_rows(
    runs: list[dict[str, Any]], metrics: dict[str, dict[str, float]], *, hide_equal: bool
) -> list[tuple[str, str, list[Any]]]:
    """(section, name, values per run) for run fields, metrics and the flattened config diff."""
    rows: list[tuple[str, str, list[Any]]] = []
    for field in ("kind", "status", "task", "method", "name", "started"):
        rows.append(("run", field, [r.get(field) for r in runs]))
    names = sorted({m for r in runs for m in metrics.get(r["id"], {})})
    for m in names:
        rows.append(("metric", m, [metrics.get(r["id"], {}).get(m) for r in runs]))
    flat = [flatten(r.get("config") or {}) for r in runs]
    for key in sorted({k for f in flat for k in f}):
        vals = [f.get(key) for f in flat]
        if hide_equal and all(json.dumps(v, sort_keys=True, default=str) == json.dumps(vals[0], sort_keys=True, default=str) for v in vals):
            continue
        rows.append(("config", key, vals))
    return rows


def best_index(metric: str, values: list[Any]) -> int | None:
    nums = [(i, v) for i, v in enumerate(values) if isinstance(v, (int, float))]
    if len(nums) < 2 or len({v for _, v in nums}) == 1:
        return None
    pick = min if lower_is_better(metric) else max
    return pick(nums, key=lambda t: t[1])[0]


def loss_series(store: RunStore, run_id: str) -> list[tuple[int, float]]:
    """Per-step training loss of a run (the first loss metric name that has points)."""
    for name in LOSS_NAMES:
        rows = [r for r in store.metrics(run_id, name) if r["step"] is not None]
        if rows:
            return [(int(r["step"]), float(r["value"])) for r in rows]
    return []


def metric_by_method(runs: list[dict[str, Any]], metrics: dict[str, dict[str, float]], metric: str) -> dict[str, float]:
    """Mean of `metric` per method (runs without a method are grouped by name or kind)."""
    acc: dict[str, list[float]] = defaultdict(list)
    for r in runs:
        v = metrics.get(r["id"], {}).get(metric)
        if v is not None:
            label = r.get("method") or r.get("name") or r.get("config", {}).get("name") or r["kind"]
            acc[str(label)].append(v)
    return {k: sum(v) / len(v) for k, v in sorted(acc.items())}
