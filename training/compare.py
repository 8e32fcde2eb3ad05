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
from training.config import load_config
from training.pipeline import METHOD_SETTINGS, apply_method

DEFAULT_METHODS = ["A", "B1", "B2", "B3", "C", "D", "R"]
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
    try:
        for seed in range(seeds):
            for m in methods:
                cfg = apply_method(base, m)
                cfg.name = f"{preset}-{m}-s{seed}"
                cfg.train.seed = seed
                cfg.output.dir = ""
                log(f"== method {m} seed {seed}")
                res = run_training(cfg, store, log=log, parent_id=parent, tags=("compare", preset))
                metrics = {k: float(v) for k, v in res.summary.items() if not k.startswith("eval_")}
                metrics.update({k: float(res.continual[k]) for k in ("forgetting", "backward_transfer") if k in res.continual})
                n = int(sum(v for k, v in res.summary.items() if k.startswith("eval_n/")))
                out.append({"run_id": res.run_id, "task": "agent_tasks",
                            "config": {"method": m, "seed": seed, "preset": preset, "coreset": cfg.coreset.strategy,
                                       "budget": cfg.coreset.budget, "continual": cfg.continual.enabled,
                                       "split": cfg.eval.split},
                            "n": n, "metrics": {k: metrics[k] for k in sorted(metrics)}})
    except KeyboardInterrupt:
        store.finish_run(parent, "interrupted", error="interrupted by user")
        raise
    except Exception as exc:
        store.finish_run(parent, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    store.log_metrics(parent, {"wall_seconds": time.perf_counter() - t0})
    store.finish_run(parent, "completed")
    return out
