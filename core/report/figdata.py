"""The numbers behind each figure, pulled from stored runs (kept apart from drawing for tests)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.report.aggregate import AblationSection, ci95_of, train_run_metrics
from core.report.select import KNOBS, child_evals, comparison_breadth, coreset_of, knobs_of, seed_of
from core.store import RunStore

CHUNK_PREFIX = "chunk_acc/"
EFFICIENCY_METHODS = ("A", "B1", "B2", "B3", "R", "C", "D")  # R: random-coreset control; C, D: continual regime
CONTINUAL_METHODS = ("C", "D")
EFFICIENCY_METRICS = ("acc@1", "node_f1", "plan_nll")  # node F1: generated plans (primary); NLL: teacher-forced
STREAM_METHODS = ("A", "C", "D")


def _mean_std(values: list[float]) -> tuple[float, float]:
    return math.fsum(values) / len(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


@dataclass
class Series:
    """One line of a figure: x values with mean/std of y over runs, and the runs behind it."""

    label: str
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    y_std: list[float] = field(default_factory=list)
    n: list[int] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "x": self.x,
            "y": self.y,
            "y_std": self.y_std,
            "n": self.n,
            "run_ids": sorted(self.run_ids),
            **({"extra": self.extra} if self.extra else {}),
        }


def _series(label: str, points: dict[float, list[float]], run_ids: Iterable[str]) -> Series:
    s = Series(label=label, run_ids=sorted(set(run_ids)))
    for x in sorted(points):
        m, sd = _mean_std(points[x])
        s.x.append(x)
        s.y.append(m)
        s.y_std.append(sd)
        s.n.append(len(points[x]))
    return s


def sample_efficiency(store: RunStore, runs: list[dict[str, Any]],
                      metrics: tuple[str, ...] = EFFICIENCY_METRICS) -> dict[str, list[Series]]:
    """Per metric (only those with data), one series per method: the metric against training samples used.

    y is the mean over seeds; `extra["err"]` the error bar per point: std over seeds where a point has
    two runs or more (`err_kind` "std"), else the run's stored `ci95/<metric>` half-width over
    evaluation samples ("ci95"), else 0 ("none"). `extra["regime"]` is "continual" for C and D.
    """
    train = main_setting(r for r in runs if r["kind"] == "train" and r.get("method") in EFFICIENCY_METHODS)
    children = child_evals(store, {r["id"] for r in train})
    pts: dict[str, dict[str, dict[float, list[tuple[float, float | None]]]]] = {}
    ids: dict[tuple[str, str], list[str]] = {}
    for r in sorted(train, key=lambda r: r["id"]):
        vals = train_run_metrics(store, r, children.get(r["id"], []))
        if "samples_used" not in vals:
            continue
        for metric in metrics:
            if metric in vals:
                point = (vals[metric][0], ci95_of(vals, metric))
                pts.setdefault(metric, {}).setdefault(r["method"], {}).setdefault(vals["samples_used"][0], []).append(point)
                ids.setdefault((metric, r["method"]), []).extend({r["id"], vals[metric][1]})
    out: dict[str, list[Series]] = {}
    for metric in metrics:
        if metric not in pts:
            continue
        out[metric] = []
        for m in EFFICIENCY_METHODS:
            if m not in pts[metric]:
                continue
            s = _with_errors(m, pts[metric][m], ids[(metric, m)])
            s.extra["regime"] = "continual" if m in CONTINUAL_METHODS else "standard"
            out[metric].append(s)
    return out


def _setting(r: dict[str, Any], *, budget: bool) -> tuple:
    return ((coreset_of(r)[1],) if budget else ()) + tuple(sorted(knobs_of(r).items()))


def main_setting(train: Iterable[dict[str, Any]], *, budget: bool = False) -> list[dict[str, Any]]:
    """The runs of each method's main setting of the ablation knobs (hybrid loss share, replay ratio, buffer; with
    `budget`, the coreset budget too): the setting of the widest comparison among the runs (the one parent that ran
    the most methods: the main comparison), then the most common: an ablation grid adds cells of other settings,
    which a figure of another variable must not average in, also when a setting gets as many seeds as the main."""
    train = list(train)
    breadth = comparison_breadth(train)
    counts: dict[str, Counter] = {}
    widest: dict[tuple[str, tuple], int] = {}
    for r in train:
        key = _setting(r, budget=budget)
        counts.setdefault(r["method"], Counter())[key] += 1
        widest[(r["method"], key)] = max(widest.get((r["method"], key), 0), breadth.get(r.get("parent_id") or "", 0))
    modal = {m: min(c.items(), key=lambda kv: (-widest[(m, kv[0])], -kv[1], repr(kv[0])))[0] for m, c in counts.items()}
    return [r for r in train if _setting(r, budget=budget) == modal[r["method"]]]


def _with_errors(label: str, by_x: dict[float, list[tuple[float, float | None]]], run_ids: Iterable[str]) -> Series:
    """A series of (value, stored ci95) points per x; `extra["err"]` per point: the std over seeds where it has
    two runs or more ("std"), else the run's 95 % CI half-width over evaluation samples ("ci95"), else 0."""
    s = _series(label, {x: [v for v, _ in ps] for x, ps in by_x.items()}, run_ids)
    err: list[float] = []
    kinds: list[str] = []
    for x in s.x:
        ps = by_x[x]
        ci = ps[0][1] if len(ps) == 1 else None
        kind = "std" if len(ps) > 1 else "ci95" if ci is not None else "none"
        err.append(statistics.stdev([v for v, _ in ps]) if kind == "std" else ci if ci is not None else 0.0)
        kinds.append(kind)
    s.extra = {"err": err, "err_kind": kinds}
    return s


KNOB_METRICS = ("acc@1", "node_f1", "plan_nll", "forgetting")
REFERENCE_METHOD = "A"


@dataclass
class KnobPanels:
    """The ablation-knob figure's numbers: per knob, per metric, one series per method that ran the knob at
    two values or more (its other knobs and budget at the method's main setting); `main` the main setting's
    value per (knob, method); `reference` A's mean, std and runs per metric (a horizontal line)."""

    panels: dict[str, dict[str, list[Series]]] = field(default_factory=dict)
    main: dict[str, dict[str, float]] = field(default_factory=dict)
    reference: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"panels": {k: {m: [s.to_json() for s in ss] for m, ss in v.items()} for k, v in self.panels.items()},
                "main": self.main, "reference": self.reference}


def knob_ablation(store: RunStore, runs: list[dict[str, Any]], metrics: tuple[str, ...] = KNOB_METRICS) -> KnobPanels:
    """Each ablation knob (hybrid loss share, replay ratio, buffer size) against the trained model's quality."""
    train = [r for r in runs if r["kind"] == "train" and r.get("method") in EFFICIENCY_METHODS]
    main = {r["method"]: r for r in main_setting(train, budget=True)}
    children = child_evals(store, {r["id"] for r in train})
    values = {r["id"]: train_run_metrics(store, r, children.get(r["id"], [])) for r in train}
    out = KnobPanels()
    for name, _, _ in KNOBS:
        for method, ref in sorted(main.items()):
            base = dict(_setting(ref, budget=True)[1:])
            budget = coreset_of(ref)[1]
            rs = [r for r in train if r["method"] == method and coreset_of(r)[1] == budget and name in knobs_of(r)
                  and all(v == base.get(k) for k, v in knobs_of(r).items() if k != name)]
            if len({knobs_of(r)[name] for r in rs}) < 2:
                continue
            out.main.setdefault(name, {})[method] = base[name]
            for metric in metrics:
                by_x: dict[float, list[tuple[float, float | None]]] = {}
                ids: list[str] = []
                for r in rs:
                    v = values[r["id"]]
                    if metric in v:
                        by_x.setdefault(knobs_of(r)[name], []).append((v[metric][0], ci95_of(v, metric)))
                        ids.extend({r["id"], v[metric][1]})
                if len(by_x) >= 2:
                    series = _with_errors(method, by_x, ids)
                    series.extra["values"] = [[v for v, _ in by_x[x]] for x in series.x]  # each run, for the dots
                    out.panels.setdefault(name, {}).setdefault(metric, []).append(series)
    refs = [r for r in main_setting(train, budget=True) if r["method"] == REFERENCE_METHOD]
    for metric in metrics:
        pts = [(values[r["id"]][metric][0], values[r["id"]][metric][1]) for r in refs if metric in values[r["id"]]]
        if pts:
            mean, sd = _mean_std([v for v, _ in pts])
            out.reference[metric] = {"label": REFERENCE_METHOD, "mean": mean, "std": sd, "n": len(pts),
                                     "run_ids": sorted({rid for _, rid in pts} | {r["id"] for r in refs})}
    return out


def _chunk_matrix(store: RunStore, run_id: str) -> tuple[list[str], dict[tuple[int, str], float]]:
    """Accuracy matrix of a continual run: {(step, chunk): accuracy} and the chunk order.

    Read from `chunk_acc/<chunk>` metrics (step = index of the chunk just trained) or, as
    training/pipeline.py logs it, from per-chunk events whose payload is
    {"chunk": name, "acc": [accuracy on chunk 0..i after training chunk i]}.
    """
    acc: dict[tuple[int, str], float] = {}
    first: dict[str, int] = {}
    for row in store.metrics(run_id):
        name, step = row["name"], row["step"]
        if not name.startswith(CHUNK_PREFIX) or step is None:
            continue
        chunk = name[len(CHUNK_PREFIX) :]
        acc[(int(step), chunk)] = float(row["value"])
        first[chunk] = min(first.get(chunk, int(step)), int(step))
    if acc:
        return sorted(first, key=lambda c: (first[c], c)), acc
    order: list[str] = []
    for ev in store.events(run_id):
        p = ev.get("payload")
        if not (isinstance(p, dict) and isinstance(p.get("chunk"), str) and isinstance(p.get("acc"), list)):
            continue
        if p["chunk"] not in order:  # a resumed run may repeat a chunk: the last measurement wins
            order.append(p["chunk"])
        step = order.index(p["chunk"])
        for j, v in enumerate(p["acc"][: step + 1]):
            if isinstance(v, int | float) and not isinstance(v, bool):
                acc[(step, order[j])] = float(v)
    return order, acc


def forgetting_of(order: list[str], acc: dict[tuple[int, str], float]) -> float | None:
    """Mean over all but the last chunk of (best accuracy before the end - final accuracy)."""
    if len(order) < 2:
        return None
    last = max(s for s, _ in acc)
    drops = []
    for c in order[:-1]:
        before = [v for (s, cc), v in acc.items() if cc == c and s < last]
        if before and (last, c) in acc:
            drops.append(max(before) - acc[(last, c)])
    return math.fsum(drops) / len(drops) if drops else None


def forgetting(store: RunStore, runs: list[dict[str, Any]]) -> dict[str, list[Series]]:
    """Across the task stream, per method A/C/D: accuracy on the first chunk and mean over seen chunks."""
    first_pts: dict[str, dict[float, list[float]]] = {}
    seen_pts: dict[str, dict[float, list[float]]] = {}
    forget: dict[str, list[float]] = {}
    chunks: dict[str, list[str]] = {}
    ids: dict[str, list[str]] = {}
    stream = main_setting((r for r in runs if r["kind"] == "train" and r.get("method") in STREAM_METHODS), budget=True)
    for r in sorted(stream, key=lambda r: r["id"]):
        order, acc = _chunk_matrix(store, r["id"])
        if not order:
            continue
        m = r["method"]
        ids.setdefault(m, []).append(r["id"])
        chunks.setdefault(m, order)
        for step in sorted({s for s, _ in acc}):
            if (step, order[0]) in acc:
                first_pts.setdefault(m, {}).setdefault(float(step), []).append(acc[(step, order[0])])
            seen = [acc[(step, c)] for c in order[: step + 1] if (step, c) in acc]
            if seen:
                seen_pts.setdefault(m, {}).setdefault(float(step), []).append(math.fsum(seen) / len(seen))
        f = forgetting_of(order, acc)
        if f is not None:
            forget.setdefault(m, []).append(f)
    out: dict[str, list[Series]] = {"first_chunk": [], "mean_seen": []}
    for m in STREAM_METHODS:
        if m not in ids:
            continue
        extra: dict[str, Any] = {"chunks": chunks[m]}
        if m in forget:
            extra["forgetting_mean"], extra["forgetting_std"] = _mean_std(forget[m])
        if m in first_pts:
            s = _series(m, first_pts[m], ids[m])
            s.extra = extra
            out["first_chunk"].append(s)
        if m in seen_pts:
            s = _series(m, seen_pts[m], ids[m])
            s.extra = extra
            out["mean_seen"].append(s)
    return out


@dataclass
class TradeoffPoint:
    variant: str
    latency_ms: float
    accuracy: float
    accuracy_std: float
    run_ids: list[str]


def selector_tradeoff(sections: list[AblationSection], metric: str = "acc@1") -> tuple[AblationSection | None, list[TradeoffPoint]]:
    """Latency (p50) against accuracy for each selector, from the largest tool_selection section."""
    cands = [s for s in sections if s.task == "tool_selection"]
    if not cands:
        return None, []
    sec = sorted(cands, key=lambda s: (-len(s.rows), -s.n_samples, s.key))[0]
    pts = []
    for row in sec.rows:
        lat, acc = row.cells.get("latency_p50_ms"), row.cells.get(metric)
        if lat and acc and lat.mean is not None and acc.mean is not None:
            pts.append(TradeoffPoint(row.label, lat.mean, acc.mean, acc.std or 0.0, sorted(set(lat.run_ids + acc.run_ids))))
    return sec, pts


def _plan_like(obj: Any) -> dict[str, Any] | None:
    """A dict with a non-empty `steps` list of dicts having an id (searched recursively)."""
    if isinstance(obj, dict):
        steps = obj.get("steps")
        if isinstance(steps, list) and steps and all(isinstance(s, dict) and "id" in s for s in steps):
            return obj
        for k in sorted(obj):
            found = _plan_like(obj[k])
            if found is not None:
                return found
    elif isinstance(obj, list):
        for v in obj:
            found = _plan_like(v)
            if found is not None:
                return found
    return None


def example_plan(store: RunStore, runs: list[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """(run id, plan) of the newest selected plan run whose events or artifacts hold a plan."""
    import json
    from pathlib import Path

    plans = sorted((r for r in runs if r["kind"] == "plan"), key=lambda r: (r["started"] or "", r["id"]), reverse=True)
    for r in plans:
        for ev in reversed(store.events(r["id"])):
            found = _plan_like(ev.get("payload"))
            if found is not None:
                return r["id"], found
        for art in store.artifacts(r["id"]):
            p = Path(art["path"])
            if p.suffix == ".json" and p.is_file():
                try:
                    found = _plan_like(json.loads(p.read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    continue
                if found is not None:
                    return r["id"], found
    return None


def plan_edges(plan: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(nodes as (id, label), edges as (from id, to id)) of a plan's steps; unknown deps are dropped."""
    nodes: list[tuple[str, str]] = []
    for s in plan["steps"]:
        tool = s.get("tool_id") or s.get("tool") or s.get("name") or "?"
        nodes.append((str(s["id"]), f"{s['id']}: {tool}"))
    nodes = list(dict.fromkeys(nodes))  # a repeated step id is drawn once
    known = {n for n, _ in nodes}
    edges = []
    for s in plan["steps"]:
        for d in s.get("depends_on") or []:
            if str(d) in known:
                edges.append((str(d), str(s["id"])))
    return nodes, sorted(set(edges))


def seeds_of(runs: Iterable[dict[str, Any]]) -> list[int | None]:
    return sorted({seed_of(r) for r in runs}, key=lambda s: -1 if s is None else s)


def plan_subgoals(plan: dict[str, Any]) -> tuple[dict[str, int], dict[int, str]]:
    """(step id -> sub-goal id, sub-goal id -> description) of a hierarchical plan; empty for flat plans."""
    of = {str(s["id"]): s["subgoal_id"] for s in plan["steps"] if isinstance(s.get("subgoal_id"), int)}
    names = {}
    for g in plan.get("subgoals") or []:
        if isinstance(g, dict) and isinstance(g.get("id"), int):
            names[g["id"]] = str(g.get("description") or "")
    return of, names
