"""`sage-tui eval`: headless, resumable evaluation; one stored run per configuration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from core.metrics.planning import METRIC_NAMES as PLAN_METRICS
from sage_tui.commands._common import (
    CatalogOption,
    DbOption,
    JsonOption,
    err,
    handle_errors,
    open_store_opt,
    out,
    print_json,
    progress_bar,
)

TASKS = ["tool_selection", "tool_retrieval", "task_planning", "timing_judgment"]
MAIN_METRICS = {
    "tool_selection": ["acc@1", "acc@3", "acc@5", "mrr", "recall@5", "ndcg@5", "all_gold@5", "latency_p50_ms"],
    "tool_retrieval": ["acc@1", "acc@5", "mrr", "recall@5", "precision@5", "ndcg@5", "all_gold@5", "latency_p50_ms"],
    "task_planning": [*PLAN_METRICS, "latency_p50_ms"],
    "timing_judgment": ["accuracy", "precision", "recall", "f1", "fpr", "latency_p50_ms"],
}


def json_progress(label: str, also: Callable[[int, int], None], interval_s: float = 0.1) -> Callable[[int, int], None]:
    """A progress callback writing `{"event": "progress", "done", "total", "label"}` lines to stderr, at most
    every `interval_s` (plus the first and the last), for the dashboard's eval worker."""
    import json
    import sys
    import time

    last = [0.0]

    def update(done: int, total: int) -> None:
        also(done, total)
        now = time.monotonic()
        if done in (0, total) or now - last[0] >= interval_s:
            last[0] = now
            sys.stderr.write(json.dumps({"event": "progress", "done": done, "total": total, "label": label}) + "\n")
            sys.stderr.flush()

    return update


@handle_errors
def eval_cmd(
    task: Annotated[str, typer.Option(help="all | tool_selection | tool_retrieval | task_planning | timing_judgment")] = "tool_selection",
    dataset: Annotated[Path | None, typer.Option(help="Dataset JSONL (default: the bundled extended test split).")] = None,
    split: Annotated[str, typer.Option(help="Bundled split when --dataset is not given: test, test_extended, validation, "
                                                     "handwritten, handwritten-dev, handwritten-test, handwritten-confirm "
                                                     "(the report-only second hand-written set).")] = "test_extended",
    catalog: CatalogOption = None,
    selector: Annotated[list[str] | None, typer.Option(
        "--selector", help="Selector name; repeat to compare (task_planning: the first one feeds every planner).")] = None,
    planner: Annotated[list[str] | None, typer.Option(
        "--planner", help="grounded | hierarchical | flat | greedy; repeatable (default: all four).")] = None,
    timing: Annotated[list[str] | None, typer.Option("--timing", help="rule | llm | hybrid; repeatable.")] = None,
    model: Annotated[str | None, typer.Option(help="GGUF path or model preset name.")] = None,
    lora: Annotated[str | None, typer.Option(help="GGUF LoRA adapter: a path, or an adapter name (a folder under "
                                                  "assets/adapters/ or a training run id).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="Ranking depth for selection metrics.")] = 5,
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N samples.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for anything stochastic.")] = 0,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag stored runs (repeatable).")] = None,
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Continue an interrupted identical run.")] = True,
    db: DbOption = None,
    json_out: JsonOption = False,
    jsonl_out: Annotated[bool, typer.Option("--jsonl", help="One JSON line per run on stdout.")] = False,
    progress_jsonl: Annotated[bool, typer.Option("--progress-jsonl", hidden=True,
                                                 help="Progress as JSON lines on stderr (the dashboard reads them).")] = False,
) -> None:
    """Evaluate selectors / planners / timing deciders on a dataset and store one run per configuration."""
    from core.catalog import load_catalog
    from core.datasets import load_dataset, load_split
    from core.errors import UsageError
    from core.evaluation.registry import build_evaluators
    from core.evaluation.runner import run_evaluation

    tasks = TASKS if task == "all" else [task]
    if any(t not in TASKS for t in tasks):
        raise UsageError(f"unknown task {task!r}; expected all or one of {TASKS}")
    if dataset is not None and len(tasks) > 1:
        raise UsageError("--dataset needs a single --task")
    from core.llm.models import resolve_adapter

    cat = load_catalog(catalog)
    store = open_store_opt(db)
    store.reap_stale_runs()
    options = {
        "selectors": selector or None,
        "planners": planner or None,
        "timing": timing or None,
        "model": model,
        "lora": str(resolve_adapter(lora)) if lora else None,
        "top_k": top_k,
        "seed": seed,
        "catalog_path": str(catalog) if catalog else None,
    }
    results = []
    for t in tasks:
        ds = load_dataset(dataset, task=t) if dataset else load_split(t, split)
        evaluators = build_evaluators(t, cat, options)
        for ev in evaluators:
            label = ev.config.get("name") or t
            with progress_bar(f"{t} · {label}", len(ds), enabled=False if progress_jsonl else None) as update:
                report = json_progress(f"{t} · {label}", update) if progress_jsonl else update
                res = run_evaluation(ev, ds, store, catalog_hash=cat.hash, tags=tag or (), progress=report, limit=limit)
            if res.resumed_from:
                err.print(f"resumed {res.run_id}: {res.resumed_from} samples were already done")
            results.append(res)
            if jsonl_out:
                print_json(res.to_json())
    if json_out:
        print_json({"runs": [r.to_json() for r in results]})
        return
    if jsonl_out:
        return
    from rich.table import Table

    for t in tasks:
        rows = [r for r in results if r.task == t]
        if not rows:
            continue
        names = [m for m in MAIN_METRICS[t] if any(m in r.metrics for r in rows)]
        tab = Table(title=f"{t}  ({rows[0].n} samples)")
        tab.add_column("configuration")
        tab.add_column("run")
        for m in names:
            tab.add_column(m, justify="right")
        for r in rows:
            best = {m: max(x.metrics.get(m, float("-inf")) for x in rows) for m in names}
            cells = []
            for m in names:
                v = r.metrics.get(m)
                s = "" if v is None else (f"{v:.1f}" if m.endswith("_ms") else f"{v:.3f}")
                if v is not None and len(rows) > 1 and v == best[m] and not m.endswith("_ms") and m != "fpr":
                    s = f"[bold]{s}[/]"
                cells.append(s)
            tab.add_row(str(r.config.get("name", "")), r.run_id, *cells)
        out.print(tab)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
