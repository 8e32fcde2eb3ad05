"""Training jobs: every run is a separate process (`sage-tui train run --config FILE`).

Status lives in the RunStore (running / completed / failed / interrupted). `stop` ends the
process tree (SIGTERM to its process group: the trainer saves a checkpoint and stores the run as
interrupted; SIGKILL after a grace period). `resume` starts a new process on the same run id,
which continues from the last checkpoint. A process killed with -9 leaves a `running` row whose
pid is gone; `RunStore.reap_stale_runs()` marks it interrupted.
On a machine with several GPUs the job is started through `accelerate launch`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from core.errors import NotFoundError, TrainingError, UsageError
from core.paths import cache_dir
from core.store.runstore import new_run_id, pid_alive


def gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:  # pragma: no cover
        return 0


def train_command(config: str | Path, run_id: str, db: str | Path | None, *, resume: bool = False) -> list[str]:
    args = ["train", "run", "--config", str(config), "--run-id", run_id]
    if resume:
        args.append("--resume")
    if db is not None:
        args += ["--db", str(db)]
    n = gpu_count()
    if n > 1:
        return [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(n), "-m", "sage_tui", *args]
    return [sys.executable, "-m", "sage_tui", *args]


def log_path(run_id: str) -> Path:
    p = cache_dir() / "logs"
    p.mkdir(parents=True, exist_ok=True)
    return p / f"{run_id}.log"


def launch(config: str | Path, db: str | Path | None, *, run_id: str | None = None, resume: bool = False) -> tuple[str, int]:
    """Start a detached training process in its own session; returns (run id, pid)."""
    rid = run_id or new_run_id("train")
    env = dict(os.environ)
    if db is not None:
        env["SAGE_TUI_DB"] = str(db)
    with open(log_path(rid), "ab") as fh:
        proc = subprocess.Popen(
            train_command(config, rid, db, resume=resume),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    return rid, proc.pid


def stop(store: Any, run_id: str, *, grace_s: float = 30.0) -> str:
    """End a running job's process tree; returns the run's final status."""
    run = store.get_run(run_id)
    if run["status"] != "running":
        raise UsageError(f"run {run['id']} is {run['status']}, not running")
    pid = run["pid"]
    if not pid_alive(pid):
        store.reap_stale_runs()
        return store.get_run(run["id"])["status"]
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        pgid = None
    _signal(pid, pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and pid_alive(pid):
        _reap_child(pid)
        time.sleep(0.1)
    if pid_alive(pid):
        _signal(pid, pgid, signal.SIGKILL)
        for _ in range(50):
            _reap_child(pid)
            if not pid_alive(pid):
                break
            time.sleep(0.1)
    row = store.get_run(run["id"])
    if row["status"] == "running":
        store.finish_run(row["id"], "interrupted", error="stopped by user")
    return store.get_run(run["id"])["status"]


def _signal(pid: int, pgid: int | None, sig: int) -> None:
    try:
        if pgid is not None and pgid != os.getpgid(0):
            os.killpg(pgid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap_child(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def resume(store: Any, run_id: str, db: str | Path | None) -> tuple[str, int]:
    """Start a process that continues an interrupted/failed run from its last checkpoint."""
    store.reap_stale_runs()
    run = store.get_run(run_id)
    if run["kind"] != "train":
        raise UsageError(f"run {run['id']} is a {run['kind']} run, not a training run")
    if run["status"] == "running":
        raise UsageError(f"run {run['id']} is still running (pid {run['pid']})")
    if run["status"] == "completed":
        raise UsageError(f"run {run['id']} already completed")
    cfg_file = config_file_of(run)
    rid, pid = launch(cfg_file, db, run_id=run["id"], resume=True)
    store.update_run(rid, status="running", pid=pid, ended=None, error=None)  # visible before the child starts
    return rid, pid


def config_file_of(run: dict[str, Any]) -> Path:
    """The config of a stored run, written as TOML next to its checkpoints."""
    from training.config import config_from_dict, dump_toml

    cfg_dict = {k: v for k, v in run["config"].items() if k not in ("out_dir", "data_path")}
    out_dir = run["config"].get("out_dir")
    if not out_dir:
        raise NotFoundError(f"run {run['id']} has no output directory (it failed before training started)")
    cfg = config_from_dict(cfg_dict)
    cfg.output.dir = out_dir
    p = Path(out_dir) / "run_config.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(dump_toml(cfg))
    return p


def wait(store: Any, run_id: str, timeout_s: float = 600.0) -> dict[str, Any]:
    """Block until the run leaves `running` (or its process dies); returns the run row."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = store.get_run(run_id)
        if run["status"] != "running":
            return run
        if not pid_alive(run["pid"]):
            _reap_child(run["pid"])
            store.reap_stale_runs()
        time.sleep(0.2)
    raise TrainingError(f"run {run_id} still running after {timeout_s:.0f}s")
