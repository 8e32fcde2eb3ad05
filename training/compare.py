"""`sage-tui train compare`: train methods A, B1, B2, B3, C, D (+ R, the random-coreset control of
the same budget as B1-B3) with the same base config and seeds, evaluate every trained model on the
test split of each task type (training/evaluate.py) and report each run in the `eval --json` shape.

Each method is one stored `train` run (child of a `compare-<preset>` parent run) whose config has
`method`; its summary metrics hold the evaluation metrics under their public names (`acc@1`,
`acc@5`, `mrr`, planning and timing metrics) plus `samples_used`, `train_seconds`,
`tokens_per_second`, `peak_memory_mb`; continual runs (C, D) add `chunk_acc/<chunk>` per chunk,
`forgetting` and `backward_transfer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from core.errors import UsageError
from core.metrics.stats import mean_ci
from training.config import METHOD_SETTINGS, METHODS, load_config
from training.pipeline import apply_method

DEFAULT_METHODS = list(METHODS)
SUMMARY_KEYS = ("samples_used", "train_seconds", "tokens_per_second", "peak_memory_mb", "final_loss", "steps",
                "forgetting", "backward_transfer")


def run_compare(preset: str, store: Any, *, methods: list[str] | None = None, seeds: int = 1,
                log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Train + evaluate each (seed, method); returns one `eval --json`-shaped dict per run."""
    from training.pipeline import run_training

    methods = methods or DEFAULT_METHODS
    bad = [m for m in methods if m not in METHOD_SETTINGS]
    if bad:
        raise UsageError(f"unknown method(s) {bad}; expected {DEFAULT_METHODS}")
    if seeds < 1:
        raise UsageError("--seeds must be >= 1")
    base = load_config(preset)
    base.eval.enabled = True
    parent = store.create_run("train", {"compare": preset, "methods": methods, "seeds": seeds}, name=f"compare-{preset}")
    t0 = time.perf_counter()
    out: list[dict[str, Any]] = []
    with store.finishing(parent):
        for seed in range(seeds):
            for m in methods:
                cfg = apply_method(base, m)
                cfg.name = f"{preset}-{m}-s{seed}"
                cfg.train.seed = seed
                cfg.output.dir = ""
                log(f"== method {m} seed {seed}")
                res = run_training(cfg, store, log=log, parent_id=parent, tags=("compare", preset), reuse_base=True)
                metrics = {k: float(v) for k, v in res.summary.items() if not k.startswith("eval_")}
                metrics.update({k: float(res.continual[k]) for k in ("forgetting", "backward_transfer") if k in res.continual})
                n = int(sum(v for k, v in res.summary.items() if k.startswith("eval_n/")))
                out.append({"run_id": res.run_id, "task": "agent_tasks",
                            "config": {"method": m, "seed": seed, "preset": preset, "coreset": cfg.coreset.strategy,
                                       "budget": cfg.coreset.budget, "stratify": cfg.coreset.stratify, "continual": cfg.continual.enabled,
                                       "split": cfg.eval.split},
                            "n": n, "metrics": {k: metrics[k] for k in sorted(metrics)}})
    store.log_metrics(parent, {"wall_seconds": time.perf_counter() - t0})
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
)


def compare_summary(store: Any, parent_id: str, baseline: str = "A") -> str:
    """Markdown: per method the efficiency numbers, each evaluation metric with the half-width of
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
        by[(r["method"], seed)] = {"id": r["id"], "final": final, "rows": rows}
    order = [m for m in DEFAULT_METHODS if any(k[0] == m for k in by)]
    head = ["method", "seed", "samples", "steps", "train s", *[p[0] for p in PAIRED], "forgetting", "BWT"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    diffs = ["| method vs " + baseline + " | seed | " + " | ".join(p[0] for p in PAIRED) + " |",
             "|" + "---|" * (len(PAIRED) + 2)]
    for (m, seed) in sorted(by, key=lambda k: (k[1], order.index(k[0]))):
        d = by[(m, seed)]
        f = d["final"]
        cells = [m, str(seed), f"{f.get('samples_used', 0):.0f}", f"{f.get('steps', 0):.0f}", f"{f.get('train_seconds', 0):.0f}"]
        for _name, task, fn in PAIRED:
            vals = [fn(x) for x in d["rows"].get(task, {}).values()]
            mu, ci = mean_ci(vals)
            cells.append(f"{mu:.3f} ± {ci:.3f}" if vals else "–")
        cells += [f"{f[k]:.3f}" if k in f else "–" for k in ("forgetting", "backward_transfer")]
        out.append("| " + " | ".join(cells) + " |")
        base = by.get((baseline, seed))
        if base is None or m == baseline:
            continue
        dcells = [m, str(seed)]
        for _name, task, fn in PAIRED:
            a, b = base["rows"].get(task, {}), d["rows"].get(task, {})
            common = sorted(set(a) & set(b))
            mu, ci = mean_ci([fn(b[k]) - fn(a[k]) for k in common])
            star = "*" if common and abs(mu) > ci else ""
            dcells.append(f"{mu:+.3f} ± {ci:.3f}{star}" if common else "–")
        diffs.append("| " + " | ".join(dcells) + " |")
    return "\n".join(out) + "\n\n" + "\n".join(diffs) + "\n"
