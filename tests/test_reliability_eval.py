"""Reliability of `sage-tui eval` on one store: four concurrent processes lose no row; an interrupted
(Ctrl-C or kill -9) evaluation resumes where it stopped instead of starting over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.catalog import load_catalog
from core.datasets import load_dataset
from core.evaluation.registry import build_evaluators
from core.evaluation.runner import run_evaluation
from core.store import RunStore

TOOLS = ["get_weather", "search_flights", "send_email", "book_hotel", "get_stock_price"]
MESSAGES = [
    ("What's the weather in Paris right now?", True, "get_weather"),
    ("thanks, that's all", False, None),
    ("Send an email to Bob saying the meeting moved", True, "send_email"),
    ("What is the capital of Italy, from memory?", False, None),
    ("hello there!", False, None),
    ("Find flights from Rome to Oslo tomorrow", True, "search_flights"),
]


QUERIES = {
    "get_weather": "what is the weather forecast in {}",
    "search_flights": "find flights to {}",
    "send_email": "send an email to {} about lunch",
    "book_hotel": "book a hotel room in {}",
    "get_stock_price": "latest stock price of the company {}",
}
CITIES = ["Paris", "Oslo", "Rome", "Lima", "Kyoto", "Cairo", "Quito", "Hanoi"]


def _write_fixture(d: Path, n: int) -> tuple[Path, Path]:
    """A 5-tool catalog and an n-sample timing_judgment dataset (plus a tool_selection one next to it)."""
    cat, ds = d / "tools.jsonl", d / f"timing_{n}.jsonl"
    cat.write_text("".join(
        json.dumps({"tool_id": t, "name": t.replace("_", " "), "category": "test", "description": f"{t.replace('_', ' ')} for a user request",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}, "returns": "result"}) + "\n"
        for t in TOOLS))
    rows = []
    for i in range(n):
        msg, call, tool = MESSAGES[i % len(MESSAGES)]
        rows.append({"id": f"t{i:05d}", "task": "timing_judgment", "message": f"{msg} (#{i})", "context": [],
                     "gold": {"should_call_tool": call, "tool": tool}})
    ds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sel = []
    for i in range(n):
        tool = TOOLS[i % len(TOOLS)]
        sel.append({"id": f"q{i:05d}", "task": "tool_selection", "instruction": QUERIES[tool].format(CITIES[i % len(CITIES)]),
                    "candidate_tools": None, "gold": {"tools": [tool]}})
    (d / f"selection_{n}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sel))
    return cat, ds


TASK_ARGS = {"timing_judgment": ["--timing", "rule"], "tool_selection": ["--selector", "keyword"]}


def _eval_cmd(cat: Path, ds: Path, db: Path, *extra: str, task: str = "timing_judgment") -> list[str]:
    return [sys.executable, "-m", "sage_tui", "eval", "--task", task, *TASK_ARGS[task],
            "--dataset", str(ds), "--catalog", str(cat), "--db", str(db), *extra]


@pytest.mark.parametrize("task", ["tool_selection", "timing_judgment"])
def test_four_concurrent_evals_lose_no_row(task: str, tmp_path: Path) -> None:
    """Keyword selector / rule decider, a --limit, a different tag per process, one store."""
    n = 1500
    cat, timing_ds = _write_fixture(tmp_path, 2000)
    ds = timing_ds if task == "timing_judgment" else tmp_path / "selection_2000.jsonl"
    db = tmp_path / "runs.db"
    RunStore(db).close()
    procs = [subprocess.Popen(_eval_cmd(cat, ds, db, "--tag", f"p{i}", "--limit", str(n), "--json", task=task), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, errs) in zip(procs, outs, strict=True):
        assert p.returncode == 0, errs
    reported = [json.loads(out)["runs"][0] for out, _ in outs]
    store = RunStore(db)
    assert store.integrity_check() == "ok"
    runs = store.list_runs(kind="eval")
    assert len(runs) == 4 and len({r["id"] for r in runs}) == 4
    assert sorted(t for r in runs for t in r["tags"]) == ["p0", "p1", "p2", "p3"]
    for rep in reported:
        run = store.get_run(rep["run_id"])
        assert run["status"] == "completed"
        assert len(store.done_sample_ids(run["id"])) == n == rep["n"]
        stored = store.final_metrics(run["id"])
        assert stored == pytest.approx(rep["metrics"])  # every summary metric row present with its value
    assert store.counts()["samples"] == 4 * n


def test_ctrl_c_mid_eval_resumes_where_it_stopped(tmp_path: Path, store: RunStore) -> None:
    """KeyboardInterrupt after 47 samples: the run is interrupted with those 47 stored; the rerun does the rest."""
    cat_path, ds_path = _write_fixture(tmp_path, 200)
    catalog, ds = load_catalog(cat_path), load_dataset(ds_path)
    (ev,) = build_evaluators("timing_judgment", catalog, {"timing": ["rule"]})
    seen: list[int] = []

    def interrupt_at_47(done: int, total: int) -> None:
        seen.append(done)
        if done == 47:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_evaluation(ev, ds, store, catalog_hash=catalog.hash, progress=interrupt_at_47)
    (run,) = store.list_runs(kind="eval")
    assert run["status"] == "interrupted"
    assert len(store.done_sample_ids(run["id"])) == 47
    evaluated: list[str] = []
    real = ev.evaluate_sample

    def counting(sample):
        evaluated.append(sample["id"])
        return real(sample)

    ev.evaluate_sample = counting
    res = run_evaluation(ev, ds, store, catalog_hash=catalog.hash)
    assert res.run_id == run["id"] and res.resumed_from == 47 and res.n == 200
    assert evaluated == [s["id"] for s in ds.samples[47:]]  # nothing done twice, nothing skipped
    assert store.get_run(run["id"])["status"] == "completed"
    assert len(store.list_runs(kind="eval")) == 1
    # what it ran with is stored at the start and again at the resume (which may be on another machine)
    assert [e["message"] for e in store.events(run["id"])].count("environment") == 2
    # the resumed result equals an uninterrupted evaluation of the same data
    fresh = run_evaluation(ev, ds, store, catalog_hash=catalog.hash, resume=False)
    strip = {k: v for k, v in fresh.metrics.items() if not k.startswith("latency")}
    assert strip == pytest.approx({k: v for k, v in res.metrics.items() if not k.startswith("latency")})


def test_kill_9_mid_eval_then_rerun_resumes(tmp_path: Path) -> None:
    n = 30000
    cat, ds = _write_fixture(tmp_path, n)
    db = tmp_path / "runs.db"
    store = RunStore(db)
    proc = subprocess.Popen(_eval_cmd(cat, ds, db), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    rid = None
    while time.monotonic() < deadline and proc.poll() is None:
        runs = store.list_runs(kind="eval")
        if runs and len(store.done_sample_ids(runs[0]["id"])) >= 100:
            rid = runs[0]["id"]
            break
        time.sleep(0.01)
    assert rid is not None, "eval ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    done = len(store.done_sample_ids(rid))
    assert 100 <= done < n, "the kill must land mid-evaluation"
    assert store.integrity_check() == "ok"
    res = subprocess.run(_eval_cmd(cat, ds, db, "--json"), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)["runs"][0]
    assert out["run_id"] == rid and out["n"] == n
    assert f"resumed {rid}" in res.stderr and "already done" in res.stderr
    resumed_from = int(res.stderr.split(f"resumed {rid}: ")[1].split()[0])
    assert resumed_from >= done  # every sample stored before the kill was kept, not redone
    assert store.get_run(rid)["status"] == "completed" and len(store.list_runs(kind="eval")) == 1
    assert len(store.done_sample_ids(rid)) == n and store.integrity_check() == "ok"
