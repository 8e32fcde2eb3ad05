"""`sage-tui train compare`: train methods A, B1, B2, B3, C, D (+ R, the random-coreset control of
the same budget as B1-B3) with the same base config and seeds, evaluate every trained model on the
test split of each task type (training/evaluate.py) and report each run in the `eval --json` shape.

Each (method, seed, ablation variant) is one *cell*, stored as one `train` run (child of a
`compare-<preset>` parent run) whose config has `method`; its summary metrics hold the evaluation
metrics under their public names (`acc@1`, `acc@5`, `mrr`, planning and timing metrics) plus
`samples_used`, `train_seconds`, `tokens_per_second`, `peak_memory_mb`; continual runs (C, D) add
`chunk_acc/<chunk>` per chunk, `forgetting` and `backward_transfer`.

The parent run stores the whole base config, the methods, seeds and ablation variants, so
`run_compare(..., resume=PARENT)` (`train compare --resume PARENT`) continues it in another process
or session: cells with a completed child run are skipped, the rest run as new children of the same
parent (an interrupted or failed cell runs again from scratch). `max_cells` stops after that many new
cells (the parent is then `interrupted`, resumable): a long tier runs in pieces.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from core.errors import UsageError
from core.metrics.stats import mean_ci
from training.config import METHOD_SETTINGS, METHODS, Config, config_from_dict, load_config
from training.pipeline import apply_method

DEFAULT_METHODS = list(METHODS)
SUMMARY_KEYS = ("samples_used", "train_seconds", "tokens_per_second", "peak_memory_mb", "final_loss", "steps",
                "forgetting", "backward_transfer")
# ablation knobs: name -> (config section, field), and which methods they apply to
GRID_FIELDS: dict[str, tuple[str, str]] = {"budget": ("coreset", "budget"), "loss_ratio": ("coreset", "loss_ratio"),
                                           "replay_ratio": ("continual", "replay_ratio"),
                                           "buffer_size": ("continual", "buffer_size"),
                                           "epochs": ("train", "epochs")}
# knobs added after cells were stored: a cell at the knob's usual value keeps the key it was stored under
KEY_ONLY_IF_NOT: dict[str, float] = {"epochs": 1.0}
# the paper's ablations as compare presets: methods and one-knob-at-a-time variants (`--ablation NAME`)
ABLATIONS: dict[str, dict[str, Any]] = {
    # the sample-efficiency curve: coresets and the random control at 10/20/40/60 % of the pool; A is the 100 % point
    "budget": {"methods": ["A", "B1", "B2", "B3", "R"], "grid": {"budget": [0.1, 0.2, 0.4, 0.6]}},
    # the hybrid coreset's share chosen by loss (the rest by diversity)
    "hybrid_ratio": {"methods": ["B3"], "grid": {"loss_ratio": [0.2, 0.4, 0.6, 0.8]}},
    # continual replay: replayed samples per new sample, and the buffer's capacity (one knob at a time)
    "replay": {"methods": ["C"], "grid": {"replay_ratio": [0.1, 0.3, 0.5, 1.0], "buffer_size": [16, 64, 256]}},
}


def applies(method: str, knob: str) -> bool:
    s = METHOD_SETTINGS[method]
    if knob == "budget":
        return s["strategy"] != "none"
    if knob == "loss_ratio":
        return s["strategy"] == "hybrid"
    return bool(s["continual"])  # replay_ratio, buffer_size, epochs (more passes without more replay: C's control)


def cell_key(cfg: dict[str, Any]) -> str:
    """What identifies a cell of a comparison: method, seed and the effective values of the ablation knobs
    that matter for the method (a budget only for coreset methods, replay settings only for C/D)."""
    m = str(cfg.get("method"))
    parts = [m, f"seed={int((cfg.get('train') or {}).get('seed', 0))}"]
    if m in METHOD_SETTINGS:
        for knob, (sec, fld) in GRID_FIELDS.items():
            val = float((cfg.get(sec) or {}).get(fld, 0))
            if applies(m, knob) and KEY_ONLY_IF_NOT.get(knob) != val:
                parts.append(f"{knob}={val:g}")
    return "|".join(parts)


def variants_of(grid: dict[str, list[float]] | None) -> list[dict[str, float]]:
    """One-knob-at-a-time variants: {"budget": [0.1, 0.2]} -> [{"budget": 0.1}, {"budget": 0.2}]."""
    out = []
    for knob, vals in (grid or {}).items():
        if knob not in GRID_FIELDS:
            raise UsageError(f"unknown ablation knob {knob!r}; expected one of {list(GRID_FIELDS)}")
        out += [{knob: v} for v in vals]
    return out


def plan_cells(base: Config, preset: str, methods: list[str], seeds: int,
               grid: dict[str, list[float]] | None = None, first_seed: int = 0) -> list[tuple[str, Config]]:
    """Every (key, config) cell of seeds `first_seed`..`seeds - 1`, seed-major (all methods of the first seed
    first, so a partial run is a whole seed). `first_seed` > 0 adds seeds to cells another comparison ran."""
    variants = variants_of(grid)
    cells: list[tuple[str, Config]] = []
    seen: set[str] = set()
    for seed in range(first_seed, seeds):
        for m in methods:
            mine = [v for v in variants if all(applies(m, k) for k in v)] or [{}]
            for v in mine:
                cfg = apply_method(base, m)
                for knob, val in v.items():
                    sec, fld = GRID_FIELDS[knob]
                    cur = getattr(getattr(cfg, sec), fld)
                    setattr(getattr(cfg, sec), fld, type(cur)(val))
                cfg.train.seed = seed
                cfg.output.dir = ""
                tag = "".join(f"-{k}{val:g}" for k, val in v.items())
                cfg.name = f"{preset}-{m}{tag}-s{seed}"
                cfg.validate()
                key = cell_key(cfg.to_dict())
                if key not in seen:
                    seen.add(key)
                    cells.append((key, cfg))
    return cells


def finished_cells(store: Any, parent_id: str) -> dict[str, dict[str, Any]]:
    """cell key -> the completed child run of `parent_id` (the newest when a cell ran twice)."""
    out: dict[str, dict[str, Any]] = {}
    kids = [r for r in store.list_runs(kind="train") if r.get("parent_id") == parent_id and r["status"] == "completed"]
    for r in sorted(kids, key=lambda r: (r.get("started") or "", r["id"])):
        out[cell_key({**(r.get("config") or {}), "method": r.get("method") or (r.get("config") or {}).get("method")})] = r
    return out


def _payload(store: Any, run_id: str, cfg: dict[str, Any], preset: str) -> dict[str, Any]:
    """The `eval --json`-shaped record of one finished cell, read back from the store."""
    final = store.final_metrics(run_id)
    metrics = {k: float(v) for k, v in final.items() if not k.startswith("eval_")}
    n = int(sum(v for k, v in final.items() if k.startswith("eval_n/")))
    core, cont, ev = cfg.get("coreset") or {}, cfg.get("continual") or {}, cfg.get("eval") or {}
    return {"run_id": run_id, "task": "agent_tasks", "cell": cell_key(cfg),
            "config": {"method": cfg.get("method"), "seed": int((cfg.get("train") or {}).get("seed", 0)), "preset": preset,
                       "coreset": core.get("strategy"), "budget": core.get("budget"), "loss_ratio": core.get("loss_ratio"),
                       "stratify": core.get("stratify"), "continual": cont.get("enabled"),
                       "replay_ratio": cont.get("replay_ratio"), "buffer_size": cont.get("buffer_size"),
                       "split": ev.get("split")},
            "n": n, "metrics": {k: metrics[k] for k in sorted(metrics)}}


def run_compare(preset: str | None, store: Any, *, methods: list[str] | None = None, seeds: int | None = None,
                grid: dict[str, list[float]] | None = None, resume: str | None = None, max_cells: int = 0,
                first_seed: int = 0,
                overrides: Callable[[Config], None] | None = None,
                log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Train + evaluate each cell; returns one `eval --json`-shaped dict per cell (finished earlier or now).

    `resume`: the parent run of an earlier comparison; its stored config, methods, seeds and grid are used
    (`seeds` may raise the seed count) and finished cells are skipped. `first_seed`: run seeds
    `first_seed`..`seeds - 1` only (stored with the parent, so a resume keeps it). `overrides(cfg)` edits the base config
    of a new comparison (the CLI's `--external`)."""
    from training.pipeline import run_training

    t0 = time.perf_counter()
    if resume:
        store.reap_stale_runs()  # a piece that was killed (kill -9, a closed session) no longer counts as running
        parent_run = store.get_run(resume)
        parent = parent_run["id"]
        if parent_run["status"] == "running":
            raise UsageError(f"comparison {parent} is running (pid {parent_run.get('pid')} on {parent_run.get('host')}); "
                             "stop it first or wait for it")
        pc = parent_run.get("config") or {}
        if "base" not in pc:
            raise UsageError(f"run {parent} is not a resumable comparison (no stored base config)")
        base = config_from_dict(pc["base"])
        preset = str(pc.get("compare"))
        methods = list(pc.get("methods") or DEFAULT_METHODS) if not methods else methods
        seeds = max(int(pc.get("seeds") or 1), seeds or 0)
        grid = pc.get("grid") or None
        first_seed = int(pc.get("first_seed") or 0)
        prior_wall = float(store.final_metrics(parent).get("wall_seconds", 0.0))
        store.update_run(parent, status="running", ended=None, error=None, pid=os.getpid(),
                         config={**pc, "methods": methods, "seeds": seeds})
        store.log_event(parent, f"resumed (pid {os.getpid()})")
    else:
        if preset is None:
            raise UsageError("a comparison needs a preset or --resume PARENT")
        base = load_config(preset)
        base.eval.enabled = True
        if overrides is not None:
            overrides(base)
            base.validate()
        methods = methods or DEFAULT_METHODS
        seeds = 1 if seeds is None else seeds
        prior_wall = 0.0
    bad = [m for m in methods if m not in METHOD_SETTINGS]
    if bad:
        raise UsageError(f"unknown method(s) {bad}; expected {DEFAULT_METHODS}")
    if seeds < 1:
        raise UsageError("--seeds must be >= 1")
    if not 0 <= first_seed < seeds:
        raise UsageError(f"first seed {first_seed} must be in 0..{seeds - 1} (seeds = {seeds})")
    cells = plan_cells(base, preset, methods, seeds, grid, first_seed)
    if not resume:
        parent = store.create_run("train", {"compare": preset, "methods": methods, "seeds": seeds, "grid": grid or {},
                                            **({"first_seed": first_seed} if first_seed else {}),
                                            "cells": [k for k, _ in cells], "base": base.to_dict()},
                                  name=f"compare-{preset}")
    done = finished_cells(store, parent)
    out: list[dict[str, Any]] = []
    ran = 0
    left = 0
    with store.finishing(parent):
        for key, cfg in cells:
            if key in done:
                log(f"== {key}: finished earlier ({done[key]['id']}), skipped")
                out.append(_payload(store, done[key]["id"], done[key].get("config") or cfg.to_dict(), preset))
                continue
            if max_cells and ran >= max_cells:
                left += 1
                continue
            log(f"== method {cfg.method} seed {cfg.train.seed} ({key})")
            res = run_training(cfg, store, log=log, parent_id=parent, tags=("compare", preset), reuse_base=True)
            ran += 1
            if res.status != "completed":
                raise KeyboardInterrupt
            out.append(_payload(store, res.run_id, store.get_run(res.run_id).get("config") or cfg.to_dict(), preset))
    store.log_metrics(parent, {"wall_seconds": prior_wall + time.perf_counter() - t0, "cells_done": float(len(out)),
                               "cells_total": float(len(cells))})
    if left:
        store.finish_run(parent, "interrupted",
                         error=f"{left} of {len(cells)} cells left; continue with `sage-tui train compare --resume {parent}`")
    else:
        store.finish_run(parent, "completed")
    return out


# ---- reading a finished comparison -------------------------------------------------------------
# (name in the summary, task of the per-sample rows, per-sample value)
PAIRED = (
    ("acc@1", "tool_selection", lambda r: r["metrics"]["acc@1"]),
    ("mrr", "tool_selection", lambda r: r["metrics"]["mrr"]),
    ("timing acc", "timing_judgment", lambda r: float(r["pred"] == r["gold"])),
    ("timing margin", "timing_judgment", lambda r: r["margin"] if r["gold"] else -r["margin"]),
    ("plan tok-acc", "task_planning_scored", lambda r: r["metrics"]["plan_token_acc"]),
    ("plan NLL", "task_planning_scored", lambda r: r["metrics"]["plan_nll"]),
    ("plan exec.", "task_planning", lambda r: r["metrics"]["executability"]),
    ("plan node F1", "task_planning", lambda r: r["metrics"]["node_f1"]),
)


def _label(key: str) -> str:
    """A cell key without its seed: `B3|seed=1|budget=0.4|loss_ratio=0.6` -> `B3|budget=0.4|loss_ratio=0.6`."""
    return "|".join(p for p in key.split("|") if not p.startswith("seed="))


def _baseline_label(labels: set[str], baseline: str, label: str) -> str | None:
    """The baseline's cell to pair `label` with: the same budget where the baseline has one, else its only cell."""
    mine = [x for x in labels if x.split("|")[0] == baseline]
    budget = next((p for p in label.split("|") if p.startswith("budget=")), None)
    same = [x for x in mine if budget and budget in x.split("|")]
    if len(same) == 1:
        return same[0]
    return mine[0] if len(mine) == 1 else None


def compare_summary(store: Any, parent_id: str, baseline: str = "A") -> str:
    """Markdown: per cell the efficiency numbers, each evaluation metric with the half-width of
    its 95 % CI over evaluation samples, forgetting / BWT, and the paired difference to `baseline`
    on the same evaluation samples (mean ± 95 % CI; * where the interval excludes 0)."""
    runs = [r for r in store.list_runs(kind="train") if r.get("parent_id") == parent_id and r["status"] == "completed"]
    by: dict[tuple[str, int], dict[str, Any]] = {}
    for r in runs:
        seed = int((r.get("config") or {}).get("train", {}).get("seed", 0))
        rows: dict[str, dict[str, Any]] = {}
        for s in store.sample_results(r["id"]):
            rows.setdefault(s.get("task", ""), {})[s["sample_id"]] = s
        final = store.final_metrics(r["id"])
        final.setdefault("steps", float(len(store.metrics(r["id"], "loss", split="train"))))
        label = _label(cell_key({**(r.get("config") or {}), "method": r["method"]}))
        by[(label, seed)] = {"id": r["id"], "final": final, "rows": rows}
    labels = {k[0] for k in by}
    variants = len(labels) > len({x.split("|")[0] for x in labels})

    def name(label: str) -> str:  # the method, plus its knobs where a method has several cells
        parts = label.split("|")
        return parts[0] + (" " + " ".join(parts[1:]) if variants and len(parts) > 1 else "")

    def order(k: tuple[str, int]) -> tuple:
        m = k[0].split("|")[0]
        return (k[1], DEFAULT_METHODS.index(m) if m in DEFAULT_METHODS else 99, k[0])

    head = ["method", "seed", "samples", "steps", "train s", *[p[0] for p in PAIRED], "forgetting", "BWT"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    diffs = ["| method vs " + baseline + " | seed | " + " | ".join(p[0] for p in PAIRED) + " |",
             "|" + "---|" * (len(PAIRED) + 2)]
    for (label, seed) in sorted(by, key=order):
        d = by[(label, seed)]
        f = d["final"]
        cells = [name(label), str(seed), f"{f.get('samples_used', 0):.0f}", f"{f.get('steps', 0):.0f}",
                 f"{f.get('train_seconds', 0):.0f}"]
        for _name, task, fn in PAIRED:
            vals = [v for x in d["rows"].get(task, {}).values() if (v := _value(fn, x)) is not None]
            mu, ci = mean_ci(vals)
            cells.append(f"{mu:.3f} ± {ci:.3f}" if vals else "–")
        cells += [f"{f[k]:.3f}" if k in f else "–" for k in ("forgetting", "backward_transfer")]
        out.append("| " + " | ".join(cells) + " |")
        ref = _baseline_label(labels, baseline, label)
        base = by.get((ref, seed)) if ref else None
        if base is None or label.split("|")[0] == baseline:
            continue
        dcells = [name(label), str(seed)]
        for _name, task, fn in PAIRED:
            a, b = base["rows"].get(task, {}), d["rows"].get(task, {})
            vals = [(va, vb) for k in sorted(set(a) & set(b))
                    if (va := _value(fn, a[k])) is not None and (vb := _value(fn, b[k])) is not None]
            mu, ci = mean_ci([vb - va for va, vb in vals])
            star = "*" if vals and abs(mu) > ci else ""
            dcells.append(f"{mu:+.3f} ± {ci:.3f}{star}" if vals else "–")
        diffs.append("| " + " | ".join(dcells) + " |")
    return "\n".join(out) + "\n\n" + "\n".join(diffs) + "\n"


def _value(fn: Callable[[dict[str, Any]], Any], row: dict[str, Any]) -> float | None:
    try:
        v = fn(row)
    except (KeyError, TypeError):
        return None
    return None if v is None else float(v)
