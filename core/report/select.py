"""Choosing the stored runs a report is built from: by id, by tag, or the latest per method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import UsageError
from core.store import RunStore

REPORT_KINDS = ("train", "eval", "plan")


@dataclass(frozen=True)
class Selection:
    run_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    latest_per_method: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"run_ids": sorted(self.run_ids), "tags": sorted(self.tags), "latest_per_method": self.latest_per_method}


def seed_of(run: dict[str, Any]) -> int | None:
    """The training/eval seed recorded in a run's config (top level or `train.seed`)."""
    cfg = run.get("config") or {}
    seed = cfg.get("seed")
    if seed is None and isinstance(cfg.get("train"), dict):
        seed = cfg["train"].get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def coreset_of(run: dict[str, Any]) -> tuple[str, float | None]:
    """(strategy, budget) of a training run's coreset selection; ("none", None) without one."""
    cfg = run.get("config") or {}
    core = cfg.get("coreset") if isinstance(cfg.get("coreset"), dict) else {}
    strategy = str(core.get("strategy") or cfg.get("coreset_strategy") or "none")
    budget = core.get("budget", cfg.get("coreset_budget"))
    if strategy == "none" or not isinstance(budget, int | float) or isinstance(budget, bool) or budget <= 0:
        return strategy, None
    return strategy, float(budget)


KNOBS = (("loss_ratio", "coreset", "loss ratio"), ("replay_ratio", "continual", "replay ratio"),
         ("buffer_size", "continual", "buffer"), ("epochs", "train", "epochs"))


def knobs_of(run: dict[str, Any]) -> dict[str, float]:
    """The ablation knobs a training run was configured with (hybrid loss share, replay ratio, buffer size)."""
    cfg = run.get("config") or {}
    out = {}
    for name, sec, _ in KNOBS:
        v = (cfg.get(sec) or {}).get(name) if isinstance(cfg.get(sec), dict) else None
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[name] = float(v)
    return out


def variant_of(run: dict[str, Any]) -> str:
    """Name of an eval run's configuration (selector / planner / timing variant). A planning run also names
    the selector that fed its planner (`hierarchical:... [two_stage]`), so selector variants stay apart."""
    cfg = run.get("config") or {}
    name = str(cfg.get("name") or run.get("name") or run.get("task") or "?")
    sel = cfg.get("selector")
    if run.get("task") == "task_planning" and isinstance(sel, dict) and sel.get("name"):
        name += f" [{sel['name']}]"
    return name


def identity(run: dict[str, Any]) -> tuple:
    """What makes two runs repeats of the same experiment cell (used for latest-per-method)."""
    kind = run["kind"]
    if kind == "train":
        return ("train", run.get("method") or "", coreset_of(run)[1] or 0.0, seed_of(run) if seed_of(run) is not None else -1,
                tuple(sorted(knobs_of(run).items())))
    if kind == "eval":
        cfg = run.get("config") or {}
        return ("eval", run.get("task") or "", variant_of(run), run.get("dataset_hash") or "", str(cfg.get("limit")), str(seed_of(run)))
    return (kind,)


def select_runs(store: RunStore, selection: Selection) -> list[dict[str, Any]]:
    """Completed train/eval/plan runs chosen by `selection`, sorted by id.

    Explicit ids are always kept (and must be completed). Tags pick every completed run that
    carries one of them. Without ids or tags, every completed run is a candidate and only the
    latest run per experiment cell is kept (method x coreset budget x seed for training runs,
    task x variant x dataset for evals, the newest plan run); `latest_per_method` applies that
    filter to tagged runs too. Eval runs whose parent is a training run are read through it.
    """
    explicit: dict[str, dict[str, Any]] = {}
    for rid in selection.run_ids:
        run = store.get_run(rid)
        if run["status"] != "completed":
            raise UsageError(f"run {run['id']} is {run['status']}, not completed; only completed runs go into a report")
        if run["kind"] not in REPORT_KINDS:
            raise UsageError(f"run {run['id']} is a {run['kind']!r} run; a report uses {', '.join(REPORT_KINDS)} runs")
        explicit[run["id"]] = run
    pool: list[dict[str, Any]] = []
    if selection.tags:
        seen: set[str] = set()
        for tag in selection.tags:
            for r in store.list_runs(status="completed", tag=tag):
                if r["id"] not in seen and r["kind"] in REPORT_KINDS:
                    seen.add(r["id"])
                    pool.append(r)
    elif not selection.run_ids:
        pool = [r for r in store.list_runs(status="completed") if r["kind"] in REPORT_KINDS]
    pool = [r for r in pool if r["id"] not in explicit]
    if selection.latest_per_method or (not selection.tags and not selection.run_ids):
        pool.sort(key=lambda r: (r["started"] or "", r["id"]), reverse=True)
        keep: dict[tuple, dict[str, Any]] = {}
        for r in pool:
            if r["kind"] == "eval" and r.get("parent_id"):
                continue  # read through its training run
            keep.setdefault(identity(r), r)
        pool = list(keep.values())
    return sorted([*explicit.values(), *pool], key=lambda r: r["id"])


def child_evals(store: RunStore, train_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Completed eval runs whose parent is one of `train_ids` (evaluations of a trained model)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not train_ids:
        return out
    for r in store.list_runs(kind="eval", status="completed"):
        if r.get("parent_id") in train_ids:
            out.setdefault(r["parent_id"], []).append(r)
    for v in out.values():
        v.sort(key=lambda r: (r["started"] or "", r["id"]))
    return out


def comparison_breadth(train: list[dict[str, Any]]) -> dict[str, int]:
    """Comparison parent id -> how many methods among `train` came from it (the main comparison: every method; an
    ablation stage: one or two). What tells a method's main setting from an ablation setting with as many seeds."""
    methods: dict[str, set[str]] = {}
    for r in train:
        if r.get("parent_id"):
            methods.setdefault(r["parent_id"], set()).add(r.get("method") or "")
    return {pid: len(ms) for pid, ms in methods.items()}
