"""Read a training run's state from the run store (called from the poll worker) and derive progress."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sage_tui.messages import JobSnapshot
from sage_tui.screens._runs import loss_series

if TYPE_CHECKING:
    from core.store import RunStore

STEP_RE = re.compile(r"step=(\d+)/(\d+)")
LATEST = ("loss", "lr", "tokens_per_second", "peak_memory_mb")


def coreset_counts(events: list[dict[str, Any]], artifacts: list[dict[str, Any]]) -> dict[str, int]:
    """Samples the coreset picked, per task type, from the job's events/artifacts (last report wins)."""
    counts: dict[str, int] = {}
    for meta in [a.get("meta") or {} for a in artifacts if a.get("kind") == "coreset"] + [e.get("payload") or {} for e in events]:
        if not isinstance(meta, dict):
            continue
        per_task = meta.get("per_task") or meta.get("task_counts")
        if isinstance(per_task, dict):
            counts = {str(k): int(v) for k, v in per_task.items()}
        elif isinstance(meta.get("selected_tasks"), list):
            counts = dict(Counter(str(t) for t in meta["selected_tasks"]))
    return counts


def total_steps(run: dict[str, Any], events: list[dict[str, Any]]) -> int | None:
    for e in reversed(events):
        p = e.get("payload") or {}
        if isinstance(p, dict) and isinstance(p.get("total_steps"), int):
            return p["total_steps"]
        m = STEP_RE.search(e.get("message") or "")
        if m:
            return int(m.group(2))
    ms = (run.get("config") or {}).get("train", {}).get("max_steps")
    return int(ms) if ms else None  # the screen keeps the last total it saw when this is None


def read_job(store: RunStore, run_id: str, after_event: int) -> JobSnapshot:
    run = store.get_run(run_id)
    new_events = store.events(run_id, after_id=after_event)
    loss = loss_series(store, run_id)
    latest: dict[str, float] = {}
    for row in store.metrics(run_id):
        if row["name"] in LATEST and row["step"] is not None:
            latest[row["name"]] = row["value"]
    # only the events since the last poll: picks / total steps found there update what the screen keeps
    return JobSnapshot(
        run=run,
        loss=loss,
        latest=latest,
        events=new_events[-200:],
        picks=coreset_counts(new_events, store.artifacts(run_id) if after_event == 0 else []),
        total_steps=total_steps(run, new_events),
    )


def job_progress(snap: JobSnapshot, now: datetime) -> tuple[int, int | None, float | None]:
    """(current step, total steps, ETA seconds) from the stored loss points and the run's start time."""
    step = snap.loss[-1][0] if snap.loss else 0
    total = snap.total_steps
    eta = None
    if total and step and snap.run["status"] == "running":
        started = datetime.fromisoformat(snap.run["started"])
        elapsed = (now - started).total_seconds()
        eta = max(0.0, elapsed / step * (total - step))
    if snap.run["status"] == "completed" and total:
        step = max(step, total)
    return step, total, eta


def fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
