"""The paper's planning ablations as stored eval runs, on the hand-written report set (one resumable command).

    .venv/bin/python bench/planner_ablation.py [--db results/experiments.db] [--split handwritten-confirm]
        [--cells planners,selectors] [--limit N] [--tag planner-ablation] [--plan]

Two groups of `sage-tui eval --task task_planning` runs, tagged `--tag` (default `planner-ablation`) so `sage-tui
report --tag TAG` (or the default latest-per-cell report) puts them in the ablation table:
- planners: grounded (the default), hierarchical, flat and greedy, each with its own default selector (grounded:
  two_stage; the others: keyword), plus greedy on two_stage (the no-LLM baseline that shares grounded's
  retrieval);
- selectors: the keyword, embedding and two_stage selectors feeding grounded and greedy.

Each cell is one eval run; `eval` resumes an interrupted identical run (same config, dataset and catalog hash),
so running this again after a closed session continues where it stopped. A cell counts as stored when a
completed run of that planner and selector with this split, limit and tag exists, whatever planner code made it:
after a change to the planners, use a new `--tag` (session 16: `planner-ablation-s16` on `handwritten-confirm`, the
report set since session 13; the session-9 runs on `handwritten-test` carry `planner-ablation`). `--plan` lists
the cells and which are stored, and runs nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TAG = "planner-ablation"  # the default --tag
GROUPS: dict[str, list[tuple[str, str | None]]] = {
    "planners": [("greedy", None), ("greedy", "two_stage"), ("grounded", None), ("hierarchical", None),
                 ("flat", None)],
    "selectors": [("greedy", "embedding"), ("grounded", "keyword"), ("grounded", "embedding")],
}


def cells(groups: list[str]) -> list[tuple[str, str | None]]:
    """The (planner, selector) cells of the groups, each once, in order (None: the planner's default)."""
    out: list[tuple[str, str | None]] = []
    for g in groups:
        for c in GROUPS[g]:
            if c not in out:
                out.append(c)
    return out


def stored(db: Path, split: str, limit: int | None = None, tag: str = TAG) -> dict[tuple[str, str], str]:
    """(planner, selector name) -> completed run id, for this split's tagged planning runs over `limit` goals."""
    from core.store import RunStore

    if not db.exists():
        return {}
    out: dict[tuple[str, str], str] = {}
    for run in RunStore(db).list_runs(kind="eval"):
        cfg = run.get("config") or {}
        if run.get("status") != "completed" or run.get("task") != "task_planning" or cfg.get("split") != split:
            continue
        if tag not in (run.get("tags") or []) or cfg.get("limit") != limit:
            continue
        out[(str(cfg.get("planner")), str((cfg.get("selector") or {}).get("name")))] = run["id"]
    return out


def default_selector(planner: str) -> str:
    from core.planning.registry import DEFAULT_SELECTOR, PLANNERS

    return getattr(PLANNERS[planner], "default_selector", None) or DEFAULT_SELECTOR


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, default=ROOT / "results" / "experiments.db")
    ap.add_argument("--split", default="handwritten-confirm")
    ap.add_argument("--cells", default="planners,selectors")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--tag", default=TAG, help="tag of the stored runs (a new one after a planner change)")
    ap.add_argument("--plan", action="store_true")
    args = ap.parse_args()
    groups = [g for g in args.cells.split(",") if g]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        ap.error(f"unknown cell group(s) {unknown}; expected {sorted(GROUPS)}")
    todo = cells(groups)
    have = stored(args.db, args.split, args.limit, args.tag)
    for planner, sel in todo:
        name = sel or default_selector(planner)
        rid = have.get((planner, name))
        print(f"{planner:12s} {name:10s} {'stored ' + rid if rid else 'to run'}", flush=True)
    if args.plan:
        return 0
    for planner, sel in todo:
        if (planner, sel or default_selector(planner)) in have:
            continue
        cmd = [sys.executable, "-m", "sage_tui", "eval", "--task", "task_planning", "--split", args.split,
               "--planner", planner, "--tag", args.tag, "--db", str(args.db)]
        cmd += ["--selector", sel] if sel else []
        cmd += ["--limit", str(args.limit)] if args.limit else []
        print("==", " ".join(cmd[2:]), flush=True)
        rc = subprocess.call(cmd, cwd=ROOT)
        if rc != 0:
            print(f"== {planner} / {sel}: exit {rc}; stopping (rerun to resume)", flush=True)
            return rc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
