"""Training jobs as separate processes: run, per-step metrics, kill -9 -> interrupted, resume, stop,
and bad input stored as a failed run before any training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core.store import RunStore
from training import jobs
from training.tiny import build_tiny_model_dir, tiny_dialogs


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("jobs")
    dialogs = tiny_dialogs(24)
    (d / "train.jsonl").write_text("".join(json.dumps(x) + "\n" for x in dialogs))
    md = build_tiny_model_dir(d / "m", [m["content"] or "" for x in dialogs for m in x["messages"]])
    return d, md


def _config(d, md, name, **train):
    t = {"batch_size": 2, "lr": 0.01, "epochs": 1, "save_every": 1, **train}
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in t.items())
    p = d / f"{name}.toml"
    p.write_text(f'name = "{name}"\n[model]\nbase = "{md}"\nmax_seq_len = 128\n[data]\ntrain = "{d / "train.jsonl"}"\n'
                 f'[train]\n{body}\n[output]\ndir = "{d / name}"\n')
    return p


def _cli(*args, db):
    return subprocess.run([sys.executable, "-m", "sage_tui", *args, "--db", str(db)], capture_output=True, text=True,
                          timeout=240, env={**os.environ, "SAGE_TUI_CACHE": str(db.parent / "cache")})


def _wait_metric(store, rid, name, n, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(store.metrics(rid, name)) >= n:
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no {n} {name} metrics for {rid}")


def test_run_completes_in_its_own_process(env, tmp_path):
    d, md = env
    db = tmp_path / "runs.db"
    r = _cli("train", "run", "--config", str(_config(d, md, "ok")), "--json", db=db)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["status"] == "completed"
    lines = [x for x in r.stderr.splitlines() if x.startswith("step=")]
    assert len(lines) == 12  # 24 dialogs / batch 2
    store = RunStore(db)
    run = store.get_run(res["run_id"])
    assert run["status"] == "completed" and run["pid"] != os.getpid()
    assert [m["step"] for m in store.metrics(res["run_id"], "loss")] == list(range(1, 13))
    assert store.final_metrics(res["run_id"])["samples_used"] == 24
    assert store.artifacts(res["run_id"], "adapter")


def test_kill_9_is_detected_and_resume_continues(env, tmp_path):
    d, md = env
    db = tmp_path / "runs.db"
    cfg = _config(d, md, "killed", epochs=20)
    rid, pid = jobs.launch(cfg, db)
    store = RunStore(db)
    _wait_metric(store, rid, "loss", 3)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert rid in store.reap_stale_runs()
    run = store.get_run(rid)
    assert run["status"] == "interrupted" and "killed" in run["error"]
    done = len(store.metrics(rid, "loss"))
    # resume: a new process continues from the last checkpoint instead of step 1
    rid2, pid2 = jobs.resume(store, rid, db)
    assert rid2 == rid and pid2 != pid
    final = jobs.wait(store, rid, timeout_s=200)
    assert final["status"] == "completed", final["error"]
    steps = [m["step"] for m in store.metrics(rid, "loss")]
    assert steps[-1] == 240 and steps.count(1) == 1  # never restarted from step 1
    assert steps[done] <= done + 1  # continued right after the last checkpoint


def test_stop_ends_the_process_tree(env, tmp_path):
    d, md = env
    db = tmp_path / "runs.db"
    rid, pid = jobs.launch(_config(d, md, "stopped", epochs=200), db)
    store = RunStore(db)
    _wait_metric(store, rid, "loss", 2)
    assert jobs.stop(store, rid, grace_s=60) == "interrupted"
    assert not jobs.pid_alive(pid)
    assert "stopped by user" in store.get_run(rid)["error"]


def test_bad_input_fails_before_training(env, tmp_path):
    d, md = env
    db = tmp_path / "runs.db"
    p = d / "typo.toml"
    p.write_text("[train]\nbatchsize = 4\n")
    r = _cli("train", "run", "--config", str(p), db=db)
    assert r.returncode == 3 and "train.batchsize" in r.stderr
    assert not RunStore(db).list_runs()  # nothing stored for a config typo
    p = d / "nobase.toml"
    p.write_text(f'[model]\nbase = "{d / "missing"}"\n[data]\ntrain = "{d / "train.jsonl"}"\n')
    r = _cli("train", "run", "--config", str(p), db=db)
    assert r.returncode == 4, r.stderr
    p = d / "budget.toml"
    p.write_text(f'[model]\nbase = "{md}"\n[data]\ntrain = "{d / "train.jsonl"}"\n'
                 '[coreset]\nstrategy = "random"\nbudget = 100\n')
    r = _cli("train", "run", "--config", str(p), db=db)
    assert r.returncode == 3 and "larger than the dataset" in r.stderr
    (d / "empty.jsonl").write_text("")
    p = d / "empty.toml"
    p.write_text(f'[model]\nbase = "{md}"\n[data]\ntrain = "{d / "empty.jsonl"}"\n')
    r = _cli("train", "run", "--config", str(p), db=db)
    assert r.returncode == 3 and "empty" in r.stderr
    runs = RunStore(db).list_runs()
    assert len(runs) == 3 and all(x["status"] == "failed" and x["error"] for x in runs)
    assert not any(RunStore(db).metrics(x["id"]) for x in runs)


def test_sigterm_interrupts_a_comparison(env, tmp_path):
    """`train compare` on SIGTERM stores the run in progress and its parent as interrupted (exit 130)."""
    d, md = env
    db = tmp_path / "runs.db"
    cfg = _config(d, md, "cmp", epochs=200)
    proc = subprocess.Popen([sys.executable, "-m", "sage_tui", "train", "compare", "--config", str(cfg), "--method", "A",
                             "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SAGE_TUI_CACHE": str(tmp_path / "cache")})
    store = RunStore(db)
    deadline = time.monotonic() + 120
    child = None
    while child is None and time.monotonic() < deadline:
        try:
            child = next((r for r in store.list_runs(kind="train") if r.get("parent_id")), None)
        except Exception:
            pass
        time.sleep(0.2)
    assert child is not None, proc.stderr.read() if proc.poll() is not None else "no child run"
    _wait_metric(store, child["id"], "loss", 2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    runs = {r["id"]: r for r in store.list_runs(kind="train")}
    assert runs[child["id"]]["status"] == "interrupted"
    assert runs[child["parent_id"]]["status"] == "interrupted"
