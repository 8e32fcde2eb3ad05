"""Reliability: `kill -9` of a real `sage-tui train run` mid-training, then `sage-tui train resume`.

The run is marked interrupted, resume continues from the last checkpoint (not step 1) and
finishes, `PRAGMA integrity_check` is ok, and no completed run or metric row is lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.store import RunStore
from training.tiny import build_tiny_model_dir, tiny_dialogs

N_DIALOGS, BATCH, EPOCHS = 24, 2, 2
TOTAL_STEPS = N_DIALOGS // BATCH * EPOCHS


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("kill9")
    dialogs = tiny_dialogs(N_DIALOGS)
    (d / "train.jsonl").write_text("".join(json.dumps(x) + "\n" for x in dialogs))
    model = build_tiny_model_dir(d / "model", [m["content"] or "" for x in dialogs for m in x["messages"]])
    return d, model


def _env(db: Path) -> dict[str, str]:
    return {**os.environ, "SAGE_TUI_CACHE": str(db.parent / "cache"), "OMP_NUM_THREADS": "1"}


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sage_tui", *args, "--db", str(db)], capture_output=True, text=True,
                          timeout=300, env=_env(db))


def _rows(store: RunStore, table: str, run_id: str) -> set[tuple]:
    cur = store.db.conn.execute(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY id", (run_id,))
    return {tuple(r) for r in cur.fetchall()}


def test_kill_9_mid_training_then_resume_loses_nothing(tiny, tmp_path: Path) -> None:
    d, model = tiny
    db = tmp_path / "runs.db"
    cfg = tmp_path / "job.toml"
    cfg.write_text(
        f'name = "kill9"\nmethod = "A"\n[model]\nbase = "{model}"\nmax_seq_len = 128\n[data]\ntrain = "{d / "train.jsonl"}"\n'
        f"[train]\nbatch_size = {BATCH}\nepochs = {EPOCHS}\nlr = 0.01\nsave_every = 1\nthreads = 1\n"
        f'[output]\ndir = "{tmp_path / "out"}"\n'
    )
    store = RunStore(db)
    other = store.create_run("eval", {"name": "keyword"}, task="tool_selection", tags=["keep"])
    store.log_metrics(other, {"acc@1": 0.5, "mrr": 0.6})
    store.add_sample_results(other, [{"sample_id": f"s{i}", "ok": i % 2 == 0} for i in range(10)])
    store.finish_run(other)
    other_before = {t: _rows(store, t, other) for t in ("metrics", "samples", "events")}

    proc = subprocess.Popen([sys.executable, "-m", "sage_tui", "train", "run", "--config", str(cfg), "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(db))
    deadline = time.monotonic() + 180
    rid = None
    while time.monotonic() < deadline and proc.poll() is None:
        runs = store.list_runs(kind="train")
        if runs and len(store.metrics(runs[0]["id"], "loss")) >= 3:
            rid = runs[0]["id"]
            break
        time.sleep(0.05)
    assert rid is not None, f"training never logged 3 steps: {proc.stderr.read().decode()[-2000:] if proc.poll() is not None else ''}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert store.integrity_check() == "ok"
    before_kill = {t: _rows(store, t, rid) for t in ("metrics", "events", "artifacts")}
    loss_before = [m["step"] for m in store.metrics(rid, "loss")]
    steps_before = sorted(set(loss_before))
    assert 3 <= len(steps_before) < TOTAL_STEPS, "the kill must land mid-training"

    shown = _cli("runs", "show", rid, "--json", db=db)
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)["run"]
    assert run["status"] == "interrupted" and "killed" in run["error"]

    res = _cli("train", "resume", rid, "--wait", "--json", db=db)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "completed"

    final = store.get_run(rid)
    assert final["status"] == "completed", final["error"]
    loss_steps = [m["step"] for m in store.metrics(rid, "loss")]
    assert sorted(set(loss_steps)) == list(range(1, TOTAL_STEPS + 1))
    assert loss_steps.count(1) == 1  # continued from the checkpoint, never restarted from step 1
    assert loss_steps[: len(loss_before)] == loss_before
    resumed = loss_steps[len(loss_before) :]
    assert resumed and min(resumed) >= steps_before[-1]  # at most the step in flight is redone
    for table, rows in before_kill.items():
        assert rows <= _rows(store, table, rid), f"{table} rows logged before the kill were lost"
    assert {t: _rows(store, t, other) for t in other_before} == other_before
    assert store.get_run(other)["status"] == "completed"
    summary = store.final_metrics(rid)
    assert summary["samples_used"] == N_DIALOGS and summary["train_seconds"] > 0
    assert store.integrity_check() == "ok"
