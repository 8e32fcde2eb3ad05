"""Run store: schema, round trips, stale-run reaping and concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import NotFoundError, StoreError
from core.store import RunStore


def test_round_trip_and_wal(store: RunStore) -> None:
    rid = store.create_run("eval", {"selector": "keyword", "k": 5}, task="tool_selection", tags=["smoke"])
    store.log_metrics(rid, {"acc@1": 0.5, "mrr": 0.75}, split="test")
    store.log_metrics(rid, {"loss": 2.0}, step=1)
    store.log_event(rid, "hello", payload={"x": 1})
    store.add_artifact(rid, "plan", "/tmp/plan.json", {"steps": 3})
    store.add_sample_results(rid, [{"sample_id": "a", "ok": True, "pred": ["t1"]}, {"sample_id": "b", "ok": False}])
    store.finish_run(rid, "completed")
    run = store.get_run(rid)
    assert run["status"] == "completed" and run["config"] == {"selector": "keyword", "k": 5}
    assert run["tags"] == ["smoke"] and run["ended"]
    assert store.final_metrics(rid) == {"acc@1": 0.5, "mrr": 0.75}  # stepped metrics are not summaries
    assert [m["value"] for m in store.metrics(rid, "loss")] == [2.0]
    assert store.events(rid)[0]["payload"] == {"x": 1}
    assert store.artifacts(rid)[0]["meta"] == {"steps": 3}
    assert [r["sample_id"] for r in store.sample_results(rid, failures_only=True)] == ["b"]
    assert store.done_sample_ids(rid) == {"a", "b"}
    assert store.db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.integrity_check() == "ok"
    assert store.get_run(rid[:-2])["id"] == rid  # unique prefix
    assert store.list_runs(tag="smoke")[0]["id"] == rid
    assert store.list_runs(tag="other") == []


def test_unknown_run_is_not_found(store: RunStore) -> None:
    with pytest.raises(NotFoundError):
        store.get_run("nope")


def test_killed_process_is_reaped_as_interrupted(store: RunStore) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    rid = store.create_run("train", {}, pid=proc.pid)
    assert store.reap_stale_runs() == []  # alive: untouched
    proc.kill()
    proc.wait()
    assert store.reap_stale_runs() == [rid]
    run = store.get_run(rid)
    assert run["status"] == "interrupted" and "killed" in run["error"]


def test_not_a_store_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "other.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE foo (x)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a sage-tui run store"):
        RunStore(p)


def _writer(db: str, worker: int, n_runs: int, n_metrics: int) -> None:
    s = RunStore(db)
    for i in range(n_runs):
        rid = s.create_run("eval", {"worker": worker, "i": i}, tags=[f"w{worker}"])
        for j in range(n_metrics):
            s.log_metrics(rid, {"m": float(j)}, step=j)
        s.add_sample_results(rid, [{"sample_id": str(j), "ok": j % 2 == 0} for j in range(5)])
        s.finish_run(rid)
    s.close()


def test_concurrent_writers_lose_nothing(db_path: Path) -> None:
    RunStore(db_path).close()  # create schema first, like any real launch
    workers, n_runs, n_metrics = 4, 15, 20
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(db_path), w, n_runs, n_metrics)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    s = RunStore(db_path)
    assert s.counts()["runs"] == workers * n_runs
    assert s.counts()["metrics"] == workers * n_runs * n_metrics
    assert s.counts()["samples"] == workers * n_runs * 5
    assert all(r["status"] == "completed" for r in s.list_runs())
    assert s.integrity_check() == "ok"


def test_concurrent_first_open_migrates_once(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(db), w, 2, 2)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    s = RunStore(db)
    assert s.counts()["runs"] == 6
    applied = s.db.conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
    assert applied == s.schema_version == 2


def test_env_var_selects_default_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "env.db"
    monkeypatch.setenv("SAGE_TUI_DB", str(target))
    s = RunStore()
    assert s.path == target and target.exists()
    assert os.path.getsize(target) > 0


class _InterruptAfter:
    """A connection proxy that raises KeyboardInterrupt (what SIGTERM becomes in `train compare`)
    right after `sql` has run once: the window where a signal lands between two statements."""

    def __init__(self, conn: sqlite3.Connection, sql: str) -> None:
        self._conn, self._sql, self.fired = conn, sql, False

    def execute(self, sql: str, *args):  # noqa: ANN201 - mirrors sqlite3.Connection.execute
        cur = self._conn.execute(sql, *args)
        if sql == self._sql and not self.fired:
            self.fired = True
            raise KeyboardInterrupt
        return cur

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._conn, name)


@pytest.mark.parametrize("after", ["COMMIT", "BEGIN IMMEDIATE"])
def test_signal_inside_a_write_leaves_the_store_usable(db_path: Path, after: str) -> None:
    """A KeyboardInterrupt between two statements of a write propagates as itself (not as a
    StoreError, which made `train compare` exit 6 instead of 130 in CI), and the next write works."""
    store = RunStore(db_path)
    rid = store.create_run("train", {"x": 1})
    real = store.db.conn
    store.db.conn = proxy = _InterruptAfter(real, after)
    with pytest.raises(KeyboardInterrupt):
        store.log_metrics(rid, {"loss": 1.0}, step=1)
    assert proxy.fired
    store.finish_run(rid, "interrupted", error="interrupted by user")  # what the handler does next
    store.db.conn = real
    assert not real.in_transaction
    run = RunStore(db_path).get_run(rid)  # a second connection sees the committed state
    assert run["status"] == "interrupted"
    losses = [m["value"] for m in RunStore(db_path).metrics(rid) if m["name"] == "loss"]
    assert losses == ([1.0] if after == "COMMIT" else [])
