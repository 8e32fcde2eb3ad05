"""Deterministic run-store and catalog fixtures for the TUI tests (fixed ids, times and values)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.store import RunStore

TOOLS = [
    ("flight_search", "travel", "Search flights between two airports on a date", {"origin": "string", "destination": "string", "date": "string"}),
    ("hotel_booking", "travel", "Book a hotel room in a city for given dates", {"city": "string", "check_in": "string"}),
    ("calendar_add_event", "productivity", "Add an event to the user's calendar", {"title": "string", "start": "string"}),
    ("weather_forecast", "weather", "Get the weather forecast for a city and day", {"city": "string", "day": "string"}),
    ("currency_convert", "finance", "Convert an amount between two currencies", {"amount": "number", "to": "string"}),
    ("send_email", "communication", "Send an email message to a recipient", {"to": "string", "body": "string"}),
]


def write_catalog(path: Path) -> Path:
    with path.open("w") as fh:
        for tid, cat, desc, params in TOOLS:
            schema = {"type": "object", "properties": {k: {"type": t, "description": k.replace("_", " ")} for k, t in params.items()},
                      "required": list(params)[:1]}
            fh.write(json.dumps({"tool_id": tid, "name": tid.replace("_", " ").title(), "category": cat, "description": desc,
                                 "parameters": schema, "returns": "json"}) + "\n")
    return path


def _fix_times(store: RunStore, run_id: str, started: str, ended: str | None) -> None:
    store.update_run(run_id, started=started, ended=ended, host="test-host", pid=0)


def seed_store(path: Path) -> RunStore:
    """Four eval runs and two finished training runs with loss curves, fixed times."""
    store = RunStore(path)
    evals = [
        ("eval-keyword", "keyword", {"acc@1": 0.62, "acc@5": 0.88, "mrr": 0.71}, {"selector": "keyword", "top_k": 5, "bm25_k1": 1.5}),
        ("eval-embedding", "embedding", {"acc@1": 0.58, "acc@5": 0.91, "mrr": 0.69}, {"selector": "embedding", "top_k": 5, "model": "minilm"}),
        ("eval-two-stage", "two_stage", {"acc@1": 0.71, "acc@5": 0.94, "mrr": 0.79}, {"selector": "two_stage", "top_k": 5, "coarse": 50}),
    ]
    for i, (rid, name, ms, cfg) in enumerate(evals):
        store.create_run("eval", {**cfg, "name": name, "task": "tool_selection"}, task="tool_selection", name=name, run_id=rid)
        store.log_metrics(rid, ms, split="test")
        store.add_sample_results(rid, [{"sample_id": f"s{j}", "ok": j % 3 != 0, "gold": ["flight_search"], "predicted": ["hotel_booking"]} for j in range(6)])
        store.finish_run(rid, "completed")
        _fix_times(store, rid, f"2025-01-0{i + 1}T10:00:00.000+00:00", f"2025-01-0{i + 1}T10:05:00.000+00:00")
    for i, (method, final) in enumerate([("A", 0.55), ("B3", 0.63)]):
        rid = f"train-{method.lower()}"
        cfg = {"name": f"quick-{method}", "method": method, "coreset": {"strategy": "hybrid" if method == "B3" else "none", "budget": 0.4 if method == "B3" else 0},
               "lora": {"r": 8, "alpha": 16}, "train": {"lr": 0.0002, "max_steps": 10, "seed": 0}}
        store.create_run("train", cfg, method=method, name=cfg["name"], run_id=rid)
        for step in range(1, 11):
            store.log_metrics(rid, {"loss": 3.0 / step + 0.1 * i, "tokens_per_second": 900.0 + step, "peak_memory_mb": 1200.0}, split="train", step=step)
        store.log_event(rid, f"step=10/10 loss={0.3 + 0.1 * i:.4f}")
        store.log_metrics(rid, {"acc@1": final, "train_seconds": 60.0 + 10 * i, "samples_used": 400.0 if method == "A" else 160.0})
        store.finish_run(rid, "completed")
        _fix_times(store, rid, f"2025-01-0{i + 5}T09:00:00.000+00:00", f"2025-01-0{i + 5}T09:30:00.000+00:00")
    store.db.conn.execute("UPDATE events SET time = '2025-01-05T09:20:00.000+00:00'")
    return store


async def submit_goal(app: Any, pilot: Any, goal: str, key: str = "enter") -> Any:
    """Type `goal` on the plan screen, press `key` and wait for the planning worker; returns the screen."""
    from textual.widgets import Input

    screen = app.screen
    screen.query_one("#goal", Input).value = goal
    await pilot.press(key)
    await pilot.pause(0.2)
    await app.workers.wait_for_complete()
    await pilot.pause(0.2)
    return screen
