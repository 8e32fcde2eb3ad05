"""RunStore: runs, metrics, events, artifacts and per-sample results in SQLite.

WAL mode, a busy timeout and `BEGIN IMMEDIATE` write transactions, so several processes
(four `eval`s, a training job and the TUI) can write at once without losing rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from core import __version__
from core.errors import NotFoundError, StoreError
from core.paths import default_db_path
from core.store.migrations import KNOWN, SCHEMA_VERSION, migrations

T = TypeVar("T")
RUN_KINDS = ("eval", "plan", "train", "bench", "report", "decide", "select")
RUN_STATUSES = ("running", "completed", "failed", "interrupted")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def new_run_id(kind: str) -> str:
    return f"{kind}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed child not yet reaped) is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, first rolling back a transaction an interrupted write left open.

    Callers hold the store's lock for a whole transaction, so an open one here can only be the
    remains of a write that a signal (Ctrl-C, SIGTERM turned into KeyboardInterrupt) cut between
    its BEGIN and its COMMIT/ROLLBACK."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.execute("BEGIN IMMEDIATE")


def _rollback_if_open(conn: sqlite3.Connection) -> None:
    """Roll back after a failed write, unless the failure came after COMMIT (e.g. a signal)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class RunStore:
    """One connection per instance; safe to share between threads (a lock serialises access)."""

    def __init__(self, path: str | Path | None = None, *, timeout_s: float = 60.0) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._timeout_s = timeout_s
        try:
            conn = sqlite3.connect(str(self.path), timeout=timeout_s, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
            self.db = Database(conn)
            self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open run store: {exc}") from None
        self._migrate()

    # ---- schema -------------------------------------------------------------------------
    def _migrate(self) -> None:
        try:
            applied = self._retry(lambda: [m.name for m in migrations.applied(self.db)])
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a sage-tui run store ({exc})") from None
        unknown = [a for a in applied if a not in KNOWN]
        if unknown:
            raise StoreError(
                f"{self.path}: written by a newer sage-tui (unknown schema migrations {unknown}); "
                f"this version understands schema {SCHEMA_VERSION}",
                hint="upgrade sage-tui or use another --db",
            )
        if len(applied) < len(KNOWN):
            if not applied and self.db.table_names() and "runs" not in self.db.table_names():
                raise StoreError(f"{self.path}: not a sage-tui run store (tables {self.db.table_names()})")

            def run() -> None:
                # IMMEDIATE lock so two processes never migrate at once
                with self._lock:
                    _begin_immediate(self.db.conn)
                    try:
                        migrations.ensure_migrations_table(self.db)
                        pending = migrations.pending(self.db)
                        for m in pending:
                            m.fn(self.db)
                            migrations._record_applied(self.db, m.name)
                        self.db.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                        self.db.conn.execute("COMMIT")
                    except BaseException:
                        _rollback_if_open(self.db.conn)
                        raise

            self._retry(run)

    @property
    def schema_version(self) -> int:
        return len(migrations.applied(self.db))

    # ---- low-level write helper ----------------------------------------------------------
    def _retry(self, fn: Callable[[], T]) -> T:
        deadline = time.monotonic() + self._timeout_s
        delay = 0.01
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                msg = str(exc).lower()
                if ("locked" not in msg and "busy" not in msg) or time.monotonic() > deadline:
                    raise StoreError(f"{self.path}: {exc}") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    def _write(self, sql_rows: Iterable[tuple[str, tuple]]) -> list[int]:
        """Run statements in one IMMEDIATE transaction; returns lastrowids."""
        stmts = list(sql_rows)

        def run() -> list[int]:
            with self._lock:
                conn = self.db.conn
                _begin_immediate(conn)
                try:
                    ids = [conn.execute(sql, params).lastrowid or 0 for sql, params in stmts]
                    conn.execute("COMMIT")
                    return ids
                except BaseException:
                    _rollback_if_open(conn)
                    raise

        return self._retry(run)

    def _read(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            with self._lock:
                cur = self.db.conn.execute(sql, params)
                cols = [c[0] for c in cur.description]
                return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

        return self._retry(run)

    # ---- runs -----------------------------------------------------------------------------
    def create_run(
        self,
        kind: str,
        config: dict[str, Any],
        *,
        task: str | None = None,
        method: str | None = None,
        name: str | None = None,
        tags: Iterable[str] = (),
        dataset_hash: str | None = None,
        catalog_hash: str | None = None,
        parent_id: str | None = None,
        pid: int | None = None,
        run_id: str | None = None,
    ) -> str:
        rid = run_id or new_run_id(kind)
        row = {
            "id": rid,
            "kind": kind,
            "status": "running",
            "name": name,
            "task": task,
            "method": method,
            "config": json.dumps(config, sort_keys=True, default=str),
            "config_hash": config_hash(config),
            "dataset_hash": dataset_hash,
            "catalog_hash": catalog_hash,
            "package_version": __version__,
            "started": now_iso(),
            "ended": None,
            "pid": pid if pid is not None else os.getpid(),
            "host": socket.gethostname(),
            "error": None,
            "tags": json.dumps(sorted(set(tags))),
            "parent_id": parent_id,
        }
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self._write([(f"INSERT INTO runs ({cols}) VALUES ({marks})", tuple(row.values()))])
        return rid

    def update_run(self, run_id: str, **fields: Any) -> None:
        if not fields:
            return
        for k in ("config", "tags"):
            if k in fields and not isinstance(fields[k], str):
                fields[k] = json.dumps(fields[k], sort_keys=True, default=str)
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._write([(f"UPDATE runs SET {sets} WHERE id = ?", (*fields.values(), run_id))])

    @contextmanager
    def finishing(self, run_id: str, *, before: Callable[[], None] | None = None,
                  interrupts: tuple[type[BaseException], ...] = (KeyboardInterrupt,),
                  log_errors: bool = False) -> Iterator[None]:
        """Run the block; on an exception mark the run `interrupted` (types in `interrupts`, e.g. Ctrl-C) or
        `failed` with the error, then re-raise. `before` runs first (flush buffered results); `log_errors`
        also stores the error as an event. The block's success leaves the status to the caller."""
        try:
            yield
        except BaseException as exc:
            if before is not None:
                before()
            from core.errors import SageError

            if isinstance(exc, interrupts):
                status, error = "interrupted", (str(exc) or "interrupted by user")
                if isinstance(exc, KeyboardInterrupt):
                    error = "interrupted by user"
            else:
                status, error = "failed", str(exc) if isinstance(exc, SageError) else f"{type(exc).__name__}: {exc}"
            if log_errors:
                self.log_event(run_id, error, level="error", payload={"error": error, "type": type(exc).__name__})
            self.finish_run(run_id, status, error=error)
            raise

    def finish_run(self, run_id: str, status: str = "completed", error: str | None = None) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"bad status {status!r}")
        self.update_run(run_id, status=status, ended=now_iso(), error=error)

    def get_run(self, run_id: str) -> dict[str, Any]:
        rows = self._read("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            # allow unique prefixes, as git does
            rows = self._read("SELECT * FROM runs WHERE id LIKE ?", (run_id + "%",))
            if len(rows) != 1:
                raise NotFoundError(f"no run {run_id!r} in {self.path}" + (" (ambiguous prefix)" if rows else ""))
        return self._decode(rows[0])

    @staticmethod
    def _decode(row: dict[str, Any]) -> dict[str, Any]:
        row = dict(row)
        row["config"] = json.loads(row["config"] or "{}")
        row["tags"] = json.loads(row.get("tags") or "[]")
        return row

    def list_runs(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        method: str | None = None,
        task: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        where, params = [], []
        for col, val in (("kind", kind), ("status", status), ("method", method), ("task", task)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        if tag is not None:
            where.append("tags LIKE ?")
            params.append(f'%"{tag}"%')
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY started DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [self._decode(r) for r in self._read(sql, tuple(params))]

    def find_run(self, *, kind: str, config_hash_: str, statuses: Iterable[str]) -> dict[str, Any] | None:
        """Most recent run of this kind and config in one of `statuses` (for resuming)."""
        st = list(statuses)
        marks = ",".join("?" for _ in st)
        rows = self._read(
            f"SELECT * FROM runs WHERE kind = ? AND config_hash = ? AND status IN ({marks}) ORDER BY started DESC LIMIT 1",
            (kind, config_hash_, *st),
        )
        return self._decode(rows[0]) if rows else None

    def reap_stale_runs(self) -> list[str]:
        """Mark `running` runs of this host whose process is gone as `interrupted`."""
        host = socket.gethostname()
        stale = [
            r["id"]
            for r in self._read("SELECT id, pid, host FROM runs WHERE status = 'running'")
            if r["host"] == host and not pid_alive(r["pid"])
        ]
        for rid in stale:
            self._write(
                [
                    (
                        "UPDATE runs SET status='interrupted', ended=?, error=? WHERE id=? AND status='running'",
                        (now_iso(), "process ended without finishing the run (killed?)", rid),
                    )
                ]
            )
        return stale

    # ---- metrics / events / artifacts / samples ---------------------------------------------
    def log_metric(self, run_id: str, name: str, value: float, *, split: str | None = None, step: int | None = None) -> None:
        self.log_metrics(run_id, {name: value}, split=split, step=step)

    def log_metrics(self, run_id: str, values: dict[str, float], *, split: str | None = None, step: int | None = None) -> None:
        t = now_iso()
        self._write(
            (
                "INSERT INTO metrics (run_id, name, value, split, step, time) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, k, float(v), split, step, t),
            )
            for k, v in values.items()
            if v is not None
        )

    def metrics(self, run_id: str, name: str | None = None, *, split: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM metrics WHERE run_id = ?", [run_id]
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        if split is not None:
            sql += " AND split = ?"
            params.append(split)
        return self._read(sql + " ORDER BY id", tuple(params))

    def final_metrics(self, run_id: str, *, split: str | None = None) -> dict[str, float]:
        """Summary metrics: rows logged without a step (the last one wins per name)."""
        out: dict[str, float] = {}
        for r in self.metrics(run_id, split=split):
            if r["step"] is None:
                out[r["name"]] = r["value"]
        return out

    def log_event(self, run_id: str, message: str, *, level: str = "info", payload: dict[str, Any] | None = None) -> int:
        return self._write(
            [
                (
                    "INSERT INTO events (run_id, time, level, message, payload) VALUES (?, ?, ?, ?, ?)",
                    (run_id, now_iso(), level, message, json.dumps(payload, default=str) if payload is not None else None),
                )
            ]
        )[0]

    def events(self, run_id: str, *, after_id: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM events WHERE run_id = ? AND id > ? ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self._read(sql, (run_id, after_id))
        for r in rows:
            r["payload"] = json.loads(r["payload"]) if r["payload"] else None
        return rows

    def add_artifact(self, run_id: str, kind: str, path: str | Path, meta: dict[str, Any] | None = None) -> None:
        self._write(
            [
                (
                    "INSERT INTO artifacts (run_id, kind, path, meta, time) VALUES (?, ?, ?, ?, ?)",
                    (run_id, kind, str(path), json.dumps(meta or {}, default=str), now_iso()),
                )
            ]
        )

    def artifacts(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM artifacts WHERE run_id = ?", [run_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        rows = self._read(sql + " ORDER BY id", tuple(params))
        for r in rows:
            r["meta"] = json.loads(r["meta"] or "{}")
        return rows

    def add_sample_results(self, run_id: str, rows: Iterable[dict[str, Any]]) -> None:
        """rows: {"sample_id": str, "ok": bool, **payload}. Re-adding a sample replaces it."""
        stmts = []
        for r in rows:
            payload = {k: v for k, v in r.items() if k not in ("sample_id", "ok")}
            stmts.append(
                (
                    "INSERT OR REPLACE INTO samples (run_id, sample_id, ok, payload) VALUES (?, ?, ?, ?)",
                    (run_id, str(r["sample_id"]), int(bool(r.get("ok"))), json.dumps(payload, default=str)),
                )
            )
        if stmts:
            self._write(stmts)

    def sample_results(self, run_id: str, *, failures_only: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT sample_id, ok, payload FROM samples WHERE run_id = ?" + (" AND ok = 0" if failures_only else "")
        rows = self._read(sql + " ORDER BY id", (run_id,))
        return [{"sample_id": r["sample_id"], "ok": bool(r["ok"]), **json.loads(r["payload"] or "{}")} for r in rows]

    def done_sample_ids(self, run_id: str) -> set[str]:
        return {r["sample_id"] for r in self._read("SELECT sample_id FROM samples WHERE run_id = ?", (run_id,))}

    # ---- maintenance ------------------------------------------------------------------------
    def integrity_check(self) -> str:
        return self._read("PRAGMA integrity_check")[0]["integrity_check"]

    def counts(self) -> dict[str, int]:
        return {t: self.db[t].count for t in ("runs", "metrics", "events", "artifacts", "samples")}

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(path: str | Path | None = None) -> RunStore:
    return RunStore(path)
