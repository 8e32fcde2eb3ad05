"""Reliability: a store from an older schema is migrated in place; one from a newer sage-tui is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database
from typer.testing import CliRunner

from core.errors import ExitCode, StoreError
from core.store import RunStore
from core.store.migrations import KNOWN, SCHEMA_VERSION, migrations


def _old_store(path: Path) -> None:
    """A database as the first released schema wrote it, with one finished run and its metrics."""
    db = Database(path)
    migrations.apply(db, stop_before=KNOWN[1:])
    assert [m.name for m in migrations.applied(db)] == KNOWN[:1]
    db["runs"].insert({"id": "eval-old-1", "kind": "eval", "status": "completed", "task": "tool_selection", "config": '{"name": "keyword"}', "started": "2024-01-01T00:00:00.000+00:00"})
    db["metrics"].insert_all([{"run_id": "eval-old-1", "name": "acc@1", "value": 0.5, "step": None}, {"run_id": "eval-old-1", "name": "loss", "value": 2.0, "step": 1}])
    db.conn.commit()
    db.conn.close()


def test_older_schema_is_migrated_not_rejected(tmp_path: Path) -> None:
    assert SCHEMA_VERSION >= 2, "needs at least two migrations to test an upgrade"
    path = tmp_path / "old.db"
    _old_store(path)
    store = RunStore(path)
    assert store.schema_version == SCHEMA_VERSION
    assert "samples" in store.db.table_names() and "tags" in store.db["runs"].columns_dict
    old = store.get_run("eval-old-1")
    assert old["config"] == {"name": "keyword"} and old["tags"] == []
    assert store.final_metrics("eval-old-1") == {"acc@1": 0.5}
    assert [m["value"] for m in store.metrics("eval-old-1", "loss")] == [2.0]
    rid = store.create_run("eval", {"name": "embedding"}, task="tool_selection", tags=["new"])
    store.add_sample_results(rid, [{"sample_id": "s1", "ok": True}])
    store.finish_run(rid)
    assert store.list_runs(tag="new")[0]["id"] == rid
    assert store.integrity_check() == "ok"
    store.close()
    again = RunStore(path)  # idempotent: a second open migrates nothing and loses nothing
    assert again.schema_version == SCHEMA_VERSION and again.counts()["runs"] == 2


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with RunStore(path) as s:
        rid = s.create_run("eval", {"name": "keyword"})
        s.finish_run(rid)
    con = sqlite3.connect(path)
    con.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
        ("sage_tui_store", "m999_from_the_future", "2030-01-01 00:00:00.000000+00:00"),
    )
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer sage-tui") as info:
        RunStore(path)
    assert "m999_from_the_future" in str(info.value) and str(path) in str(info.value)
    assert info.value.exit_code == ExitCode.STORE
    con = sqlite3.connect(path)  # refused, not modified: the future migration and the run are still there
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM _sqlite_migrations WHERE name = 'm999_from_the_future'").fetchone()[0] == 1
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()

    from sage_tui.cli import app

    res = CliRunner().invoke(app, ["runs", "list", "--db", str(path)])
    assert res.exit_code == ExitCode.STORE and "newer sage-tui" in res.output
