"""The whole medium CPU tier in one resumable command: the 7-method comparison, then the ablations that fit.

    .venv/bin/python bench/medium_tier.py [--db results/experiments.db] [--stages main,budget,hybrid_ratio,replay]
        [--max-cells N] [--plan]

Each stage is one `train compare` (a parent run in the store). The driver finds a stage's parent by its
methods, seeds and grid (medium preset), resumes it when it is unfinished, starts it when there is none, and
skips it when it is complete, so running it again after a closed session (or `kill`) continues where it
stopped, losing at most the cell in progress. `--plan` prints every stage's cells done / left and the time the
finished cells took, and trains nothing. The external sets (MetaTool, Seal-Tools) are imported from
../shared/benchmarks into $SAGE_TUI_EXT (default /work/ext) when missing, and every cell of the main comparison
is scored on them too (the ablation stages skip them: about 10 minutes a cell on 2 cores).

Stages (one seed each for the ablations; the main comparison has three):
- main: A, B1, B2, B3, C, D, R x seeds 0-2, coreset budget 0.4 (the preset's).
- budget: the sample-efficiency curve, B3 and the random control R at 10 / 20 / 60 % (40 % is in main, A is
  the 100 % point), so the figure has 5 x-values per method.
- hybrid_ratio: B3 with 0.2 / 0.4 / 0.8 of its budget chosen by loss (0.6 is in main).
- replay: C with buffer size 16 / 256 and replay ratio 0.1 / 1.0 / 0.5, in that order (128 and 0.3 are in main).
- replay_steps: C at main's settings with every chunk trained twice (more steps without more replay).
- replay_seeds: seeds 1-2 of replay ratio 1.0 and of replay_steps' control (their seed 0 is in those stages).
- budget_seeds: seeds 1-2 of the budget stage (B3 and R at 10 / 20 / 60 %).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXTERNAL = {"metatool": "metatool", "seal-tools": "seal-tools"}  # importer name -> folder under shared/benchmarks


def ensure_external(ext_root: Path) -> list[str]:
    """The imported external folders (imported from ../shared/benchmarks when missing)."""
    from core.importers import run_import

    out = []
    for name, folder in EXTERNAL.items():
        dest = ext_root / name
        if not (dest / "catalog.jsonl").is_file():
            src = ROOT.parent / "shared" / "benchmarks" / folder
            print(f"importing {name} from {src} into {dest}", flush=True)
            run_import(name, src, dest)
        out.append(str(dest))
    return out


def main() -> None:
    from core.store import RunStore
    from training.compare import run_compare
    from training.medium_plan import PRESET, STAGES, cells_status, find_parent

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=str(ROOT / "results" / "experiments.db"))
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--max-cells", type=int, default=0, help="stop after this many new cells in all (0 = all)")
    ap.add_argument("--plan", action="store_true", help="print each stage's progress and train nothing")
    args = ap.parse_args()
    stages = [s for s in args.stages.split(",") if s]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        sys.exit(f"unknown stage(s) {unknown}; expected {list(STAGES)}")
    store = RunStore(Path(args.db))
    store.reap_stale_runs()  # a piece killed earlier (kill -9, a closed session) no longer counts as running
    for name in stages:
        parent = find_parent(store, STAGES[name])
        done, total, secs = cells_status(store, parent)
        per = f", {secs / done / 60:.0f} min per finished cell" if done else ""
        where = f"{parent['id']} ({parent['status']})" if parent else "not started"
        print(f"{name}: {where}, {done}/{total or '?'} cells{per}", flush=True)
    if args.plan:
        return
    # SIGTERM (kill, a closed session) ends a cell like Ctrl-C: stored as interrupted, resumable
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    externals = ensure_external(Path(os.environ.get("SAGE_TUI_EXT", "/work/ext")))
    left = args.max_cells
    for name in stages:
        stage = STAGES[name]
        parent = find_parent(store, stage)
        if parent is not None and parent["status"] == "completed":
            continue
        if parent is not None and parent["status"] == "running":
            sys.exit(f"{name}: comparison {parent['id']} is running in another process; wait for it")
        before = cells_status(store, parent)[0]
        t0 = time.perf_counter()

        scored_on = list(externals) if stage["external"] else []

        def overrides(cfg: Any, scored_on: list[str] = scored_on) -> None:
            cfg.eval.external = list(scored_on)

        print(f"== stage {name}: {'resuming ' + parent['id'] if parent else 'starting'}", flush=True)
        if parent:
            run_compare(None, store, resume=parent["id"], max_cells=left)
        else:
            run_compare(PRESET, store, methods=stage["methods"], seeds=stage["seeds"], grid=stage["grid"] or None,
                        max_cells=left, overrides=overrides, first_seed=int(stage.get("first_seed") or 0))
        done, total, _ = cells_status(store, find_parent(store, stage))
        print(f"== stage {name}: {done}/{total} cells, {time.perf_counter() - t0:.0f} s this call", flush=True)
        if args.max_cells:
            left -= done - before
            if left <= 0:
                return  # the cell budget is spent; the next call resumes here


if __name__ == "__main__":
    main()
