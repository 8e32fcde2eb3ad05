"""Mean +- std over seeds (or the stored 95 % CI of a single run) for Table 1 and the ablation tables,
with provenance for every number."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.report.select import (
    KNOBS,
    child_evals,
    comparison_breadth,
    coreset_of,
    knobs_of,
    seed_of,
    variant_of,
)
from core.report.specs import ABLATION_TASKS, LATENCY, METHOD_LABELS, METHODS, TABLE1_METRICS, TASK_OF_METRIC
from core.store import RunStore

CI_PREFIX = "ci95/"


@dataclass
class Cell:
    """One table number: the values it averages and where each came from."""

    values: list[float] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    seeds: list[int | None] = field(default_factory=list)
    ci95: list[float | None] = field(default_factory=list)  # per run: 95 % CI half-width over its eval samples

    def add(self, value: float, run_id: str, seed: int | None, ci95: float | None = None) -> None:
        self.values.append(float(value))
        self.run_ids.append(run_id)
        self.seeds.append(seed)
        self.ci95.append(None if ci95 is None else float(ci95))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return math.fsum(self.values) / len(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation over seeds (None below two values)."""
        return statistics.stdev(self.values) if len(self.values) >= 2 else None

    @property
    def spread(self) -> tuple[float, str] | None:
        """(value, kind) shown after ±: ("std", over seeds) from two runs on, else ("ci95", the single
        run's 95 % CI half-width over evaluation samples) where stored, else None."""
        if self.std is not None:
            return self.std, "std"
        if self.n == 1 and self.ci95[0] is not None:
            return self.ci95[0], "ci95"
        return None

    def to_json(self) -> dict[str, Any]:
        order = sorted(range(self.n), key=lambda i: (self.run_ids[i], self.values[i]))
        return {
            "mean": self.mean,
            "std": self.std,
            "n": self.n,
            "values": [self.values[i] for i in order],
            "run_ids": [self.run_ids[i] for i in order],
            "seeds": [self.seeds[i] for i in order],
            **({"ci95": [self.ci95[i] for i in order]} if any(c is not None for c in self.ci95) else {}),
        }


@dataclass
class Row:
    key: str  # stable id: method (+ budget) or variant name
    label: str
    cells: dict[str, Cell] = field(default_factory=dict)
    # methods in the widest comparison any of its runs belongs to (7 for the main comparison's cells, 1 for a
    # one-method ablation stage; 0 for runs outside a comparison): what tells a method's main row from an ablation's
    breadth: int = 0

    def cell(self, metric: str) -> Cell:
        return self.cells.setdefault(metric, Cell())

    @property
    def run_ids(self) -> list[str]:
        return sorted({rid for c in self.cells.values() for rid in c.run_ids})


def _fmt_budget(b: float) -> str:
    return f"{b:.0%}" if b < 1 else f"{int(b)}" if b == int(b) else f"{b:g}"


def train_run_metrics(store: RunStore, run: dict[str, Any], children: list[dict[str, Any]]) -> dict[str, tuple[float, str]]:
    """Summary metrics of a training run: its own, completed by evaluations of the trained model.

    Returns metric -> (value, run id it was read from). A child eval contributes only the
    metrics of its task (e.g. `accuracy` only from timing_judgment), with their `ci95/` half-widths.
    """
    out = {k: (v, run["id"]) for k, v in store.final_metrics(run["id"]).items()}
    for child in children:
        for k, v in store.final_metrics(child["id"]).items():
            base = k.removeprefix(CI_PREFIX)
            if TASK_OF_METRIC.get(base) == child.get("task") and k not in out:
                out[k] = (v, child["id"])
    return out


def ci95_of(values: dict[str, tuple[float, str]], metric: str) -> float | None:
    """The stored 95 % CI half-width of `metric` (`ci95/<metric>`) when it comes from the same run."""
    ci = values.get(CI_PREFIX + metric)
    return ci[0] if ci is not None and metric in values and ci[1] == values[metric][1] else None


# summary metrics kept on Table 1 rows (for results.tex / results.md) without a Table 1 column
EXTRA_METRICS = ("forgetting", "backward_transfer", "timing_margin", "fallback", "acc@3", "ndcg@5", "recall@5")


def _extra(name: str) -> bool:
    return name in EXTRA_METRICS or (name.startswith("ext/") and name.count("/") == 2)


def main_rows(rows: Sequence[Row]) -> dict[str, str]:
    """Row key -> method, for each method shown in several configurations (`B3@40%,loss_ratio=0.6`, ...): the
    row from the widest comparison (the main one compares every method; an ablation stage one or two), then the
    one with the most runs (the main comparison's seeds against one-seed ablation cells), so an ablation setting
    run with as many seeds does not take the name. No entry when two configurations tie on both, or the method
    has one row (its key is already the method)."""
    by_method: dict[str, list[Row]] = {}
    for r in rows:
        if "@" in r.key and r.run_ids:
            by_method.setdefault(r.key.partition("@")[0], []).append(r)
    out = {}
    for method, rs in by_method.items():
        rs = sorted(rs, key=lambda r: (-r.breadth, -len(r.run_ids)))
        if len(rs) == 1 or (rs[0].breadth, len(rs[0].run_ids)) > (rs[1].breadth, len(rs[1].run_ids)):
            out[rs[0].key] = method
    return out


def table1_rows(store: RunStore, runs: list[dict[str, Any]]) -> tuple[list[Row], dict[str, list[str]]]:
    """Rows A..D, one per configuration where a method ran with several (coreset budget; and the hybrid loss
    share, replay ratio or buffer size of an ablation grid), and run -> contributing run ids."""
    train = [r for r in runs if r["kind"] == "train" and r.get("method")]
    children = child_evals(store, {r["id"] for r in train})
    budgets: dict[str, set[float | None]] = {}
    knob_vals: dict[tuple[str, str], set[float | None]] = {}
    for r in train:
        budgets.setdefault(r["method"], set()).add(coreset_of(r)[1])
        k = knobs_of(r)
        for name, _, _ in KNOBS:
            knob_vals.setdefault((r["method"], name), set()).add(k.get(name))
    rows: dict[str, Row] = {m: Row(key=m, label=METHOD_LABELS[m]) for m in METHODS}
    breadth = comparison_breadth(train)
    split: set[str] = set()
    sources: dict[str, list[str]] = {}
    for r in sorted(train, key=lambda r: r["id"]):
        method = r["method"]
        budget = coreset_of(r)[1]
        parts, labels = [], []
        if len(budgets[method]) > 1:
            tag = "all" if budget is None else _fmt_budget(budget)
            parts.append(tag)
            labels.append(f"budget {tag}")
        k = knobs_of(r)
        for name, _, words in KNOBS:
            if len(knob_vals[(method, name)]) > 1:
                v = k.get(name)
                parts.append(f"{name}={'?' if v is None else f'{v:g}'}")
                labels.append(f"{words} {'?' if v is None else f'{v:g}'}")
        key, label = method, method
        if parts:
            split.add(method)
            key, label = f"{method}@{','.join(parts)}", ", ".join([METHOD_LABELS.get(method, method), *labels])
        row = rows.setdefault(key, Row(key=key, label=label))
        row.breadth = max(row.breadth, breadth.get(r.get("parent_id") or "", 0))
        values = train_run_metrics(store, r, children.get(r["id"], []))
        sources[r["id"]] = sorted({src for _, src in values.values()})
        for spec in TABLE1_METRICS:
            if spec.name in values:
                row.cell(spec.name).add(values[spec.name][0], r["id"], seed_of(r), ci95_of(values, spec.name))
        for name in sorted(values):
            if _extra(name):
                row.cell(name).add(values[name][0], r["id"], seed_of(r), ci95_of(values, name))
    for method in split:
        rows.pop(method, None)  # shown as one row per configuration instead
    return sorted(rows.values(), key=_row_order), sources


def budget_of_key(key: str) -> str:
    """The budget tag of a row key (`B3@40%,loss_ratio=0.2` -> `40%`; "" without one)."""
    return next((p for p in key.partition("@")[2].split(",") if p and "=" not in p), "")


def _row_order(row: Row) -> tuple:
    method = row.key.partition("@")[0]
    budget = budget_of_key(row.key)
    rank = METHODS.index(method) if method in METHODS else len(METHODS)
    num = float(budget.rstrip("%")) / (100 if budget.endswith("%") else 1) if budget and budget != "all" else -1.0
    return (rank, method, num, row.key)


@dataclass
class AblationSection:
    task: str
    component: str
    dataset: str
    n_samples: int
    limit: str
    rows: list[Row]
    # row key -> metric -> {sample id: value}, for rows backed by exactly one run (paired differences between rows)
    per_sample: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.task}|{self.dataset}|{self.limit}"

    def paired(self, a: str, b: str, metric: str) -> dict[str, float | int] | None:
        """Row `a` minus row `b` on `metric` over the samples both scored (normal 95 % CI), or None when either row
        has no single-run sample values or they share fewer than two samples."""
        from core.metrics.stats import paired_diff

        va, vb = self.per_sample.get(a, {}).get(metric), self.per_sample.get(b, {}).get(metric)
        if not va or not vb:
            return None
        ids = sorted(set(va) & set(vb))
        return paired_diff([va[i] for i in ids], [vb[i] for i in ids]) if len(ids) >= 2 else None


def _dataset_label(run: dict[str, Any]) -> str:
    """`folder/file`, or the named subset of the file (`handwritten-test`) when the run evaluated one."""
    cfg = run.get("config") or {}
    if isinstance(cfg.get("split"), str) and cfg["split"]:  # a selector's own `split` flag (sub-queries) is a bool
        return cfg["split"]
    ds = cfg.get("dataset") or ""
    p = Path(ds)
    return f"{p.parent.name}/{p.name}" if ds else "?"


def sample_values(store: RunStore, run_id: str, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """metric -> {sample id: value} of a run's evaluation samples, for each metric in `names` its rows hold."""
    rows = [(r["sample_id"], r.get("metrics") or {}) for r in store.sample_results(run_id)]
    return {name: {sid: float(m[name]) for sid, m in rows if isinstance(m.get(name), int | float)} for name in names}


def sample_ci95(values: dict[str, dict[str, float]]) -> dict[str, float]:
    """95 % CI half-width over the samples of each metric with at least two values."""
    from core.metrics.stats import mean_ci

    return {name: mean_ci(list(v.values()))[1] for name, v in values.items() if len(v) >= 2}


def ablation_sections(store: RunStore, runs: list[dict[str, Any]]) -> list[AblationSection]:
    """One section per (task, dataset, limit); one row per variant, mean +- std over its runs."""
    evals = [r for r in runs if r["kind"] == "eval" and not r.get("parent_id") and r.get("task") in ABLATION_TASKS]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in evals:
        cfg = r.get("config") or {}
        groups.setdefault((r["task"], r.get("dataset_hash") or "", _dataset_label(r), str(cfg.get("limit"))), []).append(r)
    sections = []
    for (task, _dh, label, limit), members in groups.items():
        component, specs = ABLATION_TASKS[task]
        rows: dict[str, Row] = {}
        per_sample: dict[str, dict[str, dict[str, float]]] = {}
        for r in sorted(members, key=lambda r: r["id"]):
            name = variant_of(r)
            row = rows.setdefault(name, Row(key=name, label=name))
            metrics = store.final_metrics(r["id"])
            values = sample_values(store, r["id"], [sp.name for sp in specs if sp is not LATENCY])
            ci = sample_ci95(values)
            per_sample[name] = {} if name in per_sample else values  # a row of several runs has no single series
            for spec in specs:
                if spec.name in metrics:
                    row.cell(spec.name).add(metrics[spec.name], r["id"], seed_of(r), ci.get(spec.name))
        n = max(len(store.done_sample_ids(r["id"])) for r in members)
        sections.append(AblationSection(task, component, label, n, limit, sorted(rows.values(), key=lambda x: x.key),
                                        per_sample))
    task_order = list(ABLATION_TASKS)
    return sorted(sections, key=lambda s: (task_order.index(s.task), s.dataset, _limit_key(s.limit)))


def _limit_key(limit: str) -> tuple[int, int, str]:
    """Sections without a limit (whole dataset) first, then by numeric limit."""
    return (0, 0, limit) if not limit.isdigit() else (1, int(limit), limit)
