"""A diffable, deterministic JSONL dump of the run store, and its import (`sage-tui runs export-jsonl|import`).

One JSON object per line. Line 1 is the header `{"table": "_meta", "format": "sage-tui-runs", "version": 1,
"counts": {...}}`; then, for every run in id order, the run's line and its metrics, events, artifacts and samples
lines (each in the order the store wrote them):

    {"table": "runs", "id": ..., "kind": ..., ..., "config": {...}, "tags": [...], "parent_id": ...}
    {"table": "metrics", "run_id": ..., "name": ..., "value": ..., "split": ..., "step": ..., "time": ...}

Columns come in schema order; the JSON-text columns (`runs.config`, `runs.tags`, `events.payload`,
`artifacts.meta`, `samples.payload`) are written as JSON values and re-encoded on import exactly as the store
encodes them; the children's integer row ids are left out (they are internal), so exporting the same rows gives
the same bytes.

Import (`import_jsonl`) first reads and checks the whole file (a bad line raises a DataError naming the file, the
line and the field, and nothing is written), then adds in one transaction what the store does not hold yet: a run
whose id is stored is kept as stored (a differing one is reported as a conflict, never overwritten); child rows
are matched as a multiset per run, so importing the same file twice adds nothing and a file with more rows of a
run adds only the missing ones; a sample whose (run, sample id) is stored with other content is kept as stored.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import DataError
from core.jsonl import iter_jsonl
from core.store.runstore import RunStore, _begin_immediate, _rollback_if_open

FORMAT = "sage-tui-runs"
VERSION = 1
CHILD_TABLES = ("metrics", "events", "artifacts", "samples")
TABLES = ("runs", *CHILD_TABLES)
# columns per table in schema order (children without their internal integer id)
COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("id", "kind", "status", "name", "task", "method", "config", "config_hash", "dataset_hash",
             "catalog_hash", "package_version", "started", "ended", "pid", "host", "error", "tags", "parent_id"),
    "metrics": ("run_id", "name", "value", "split", "step", "time"),
    "events": ("run_id", "time", "level", "message", "payload"),
    "artifacts": ("run_id", "kind", "path", "meta", "time"),
    "samples": ("run_id", "sample_id", "ok", "payload"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "runs": ("id", "kind", "status"),
    "metrics": ("run_id", "name"),  # value: SQLite stores NaN as NULL
    "events": ("run_id",),
    "artifacts": ("run_id", "kind", "path"),
    "samples": ("run_id", "sample_id", "ok"),
}
# JSON-text columns: (table, column) -> how the store encodes them
JSON_COLUMNS = {("runs", "config"), ("runs", "tags"), ("events", "payload"), ("artifacts", "meta"),
                ("samples", "payload")}
INT_COLUMNS = {("runs", "pid"), ("metrics", "step")}


def _encode_json(table: str, col: str, value: Any) -> str | None:
    """The store's own encoding of a JSON-text column (runstore.py: config sorted, the rest as given)."""
    if value is None:
        return None
    if (table, col) == ("runs", "config"):
        return json.dumps(value, sort_keys=True, default=str)
    return json.dumps(value, default=str)


# ---- export -------------------------------------------------------------------------------------------------------
def _rows(store: RunStore, table: str, run_id: str | None = None) -> list[dict[str, Any]]:
    cols = ", ".join(COLUMNS[table])
    if table == "runs":
        return store._read(f"SELECT {cols} FROM runs ORDER BY id")
    return store._read(f"SELECT {cols} FROM {table} WHERE run_id = ? ORDER BY id", (run_id,))


def _export_row(table: str, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"table": table}
    for col in COLUMNS[table]:
        v = row[col]
        if (table, col) in JSON_COLUMNS and v is not None:
            v = json.loads(v)
        elif (table, col) == ("samples", "ok"):
            v = bool(v)
        out[col] = v
    return out


def _line(obj: dict[str, Any]) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: keep it as an escape
        text = json.dumps(obj, separators=(",", ":"))
    return text + "\n"


def iter_export(store: RunStore) -> Iterator[str]:
    """The dump's lines (header first), deterministic for the same stored rows."""
    runs = _rows(store, "runs")
    blocks = []
    counts = dict.fromkeys(TABLES, 0)
    counts["runs"] = len(runs)
    for r in runs:
        kids = {t: _rows(store, t, r["id"]) for t in CHILD_TABLES}
        for t, rows in kids.items():
            counts[t] += len(rows)
        blocks.append((r, kids))
    yield _line({"table": "_meta", "format": FORMAT, "version": VERSION, "counts": counts})
    for r, kids in blocks:
        yield _line(_export_row("runs", r))
        for t in CHILD_TABLES:
            for row in kids[t]:
                yield _line(_export_row(t, row))


def export_jsonl(store: RunStore, out: str | Path) -> dict[str, int]:
    """Write the dump to `out` (atomically: a temporary file renamed into place); returns the row counts."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = list(iter_export(store))
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            fh.writelines(lines)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return json.loads(lines[0])["counts"]


# ---- import -------------------------------------------------------------------------------------------------------
def _check_value(table: str, col: str, v: Any, path: str, line: int) -> Any:
    """The SQL value of one column, or a DataError naming the file, line and field."""
    def bad(what: str) -> DataError:
        return DataError(f"{table}.{col} must be {what}, got {type(v).__name__}", path=path, line=line, field=col)

    if v is None:
        if col in REQUIRED[table]:
            raise DataError(f"{table}.{col} is required", path=path, line=line, field=col)
        return None
    if (table, col) in JSON_COLUMNS:
        if (table, col) == ("runs", "config") and not isinstance(v, dict):
            raise bad("an object")
        if (table, col) == ("runs", "tags") and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            raise bad("a list of strings")
        if (table, col) == ("samples", "payload") and not isinstance(v, dict):
            raise bad("an object")
        return _encode_json(table, col, v)
    if (table, col) == ("samples", "ok"):
        if not isinstance(v, bool):
            raise bad("true or false")
        return int(v)
    if (table, col) == ("metrics", "value"):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise bad("a number")
        return float(v)
    if (table, col) in INT_COLUMNS:
        if isinstance(v, bool) or not isinstance(v, int):
            raise bad("an integer")
        return v
    if not isinstance(v, str):
        raise bad("a string")
    if col in REQUIRED[table] and not v:
        raise DataError(f"{table}.{col} must not be empty", path=path, line=line, field=col)
    return v


def read_jsonl(path: str | Path) -> list[tuple[int, str, tuple[Any, ...]]]:
    """Check the whole dump; returns (line, table, SQL values in COLUMNS order) per row line. Raises DataError
    (file, line, field) on the first bad line: a missing or foreign header, an unknown table or column, a wrong
    type, a duplicate run / sample, or counts that differ from the header's (a truncated file)."""
    p = str(path)
    rows: list[tuple[int, str, tuple[Any, ...]]] = []
    header: dict[str, Any] | None = None
    run_lines: dict[str, int] = {}
    sample_keys: set[tuple[str, str]] = set()
    for lineno, obj in iter_jsonl(path):
        table = obj.get("table")
        if header is None:
            if table != "_meta" or obj.get("format") != FORMAT:
                raise DataError(f"not a {FORMAT} dump: the first line must be its header "
                                f'{{"table": "_meta", "format": "{FORMAT}", ...}}', path=p, line=lineno, field="table")
            if not isinstance(obj.get("version"), int) or obj["version"] > VERSION:
                raise DataError(f"dump version {obj.get('version')!r} is newer than this sage-tui reads ({VERSION})",
                                path=p, line=lineno, field="version")
            counts = obj.get("counts")
            if not isinstance(counts, dict) or not all(isinstance(counts.get(t), int) for t in TABLES):
                raise DataError(f"header counts must give an integer per table {list(TABLES)}", path=p,
                                line=lineno, field="counts")
            header = obj
            continue
        if table not in TABLES:
            raise DataError(f"unknown table {table!r}; expected one of {list(TABLES)}", path=p, line=lineno,
                            field="table")
        extra = [k for k in obj if k != "table" and k not in COLUMNS[table]]
        if extra:
            raise DataError(f"unknown column {extra[0]!r} for table {table}", path=p, line=lineno, field=extra[0])
        values = tuple(_check_value(table, c, obj.get(c), p, lineno) for c in COLUMNS[table])
        if table == "runs":
            if values[0] in run_lines:
                raise DataError(f"run {values[0]!r} appears twice (first on line {run_lines[values[0]]})", path=p,
                                line=lineno, field="id")
            run_lines[values[0]] = lineno
        elif table == "samples":
            key = (values[0], values[1])
            if key in sample_keys:
                raise DataError(f"sample {values[1]!r} of run {values[0]!r} appears twice", path=p, line=lineno,
                                field="sample_id")
            sample_keys.add(key)
        rows.append((lineno, table, values))
    if header is None:
        raise DataError("file holds no header line", path=p, line=1, field="table")
    got = Counter(t for _, t, _ in rows)
    for t in TABLES:
        if got[t] != header["counts"][t]:
            raise DataError(f"the header counts {header['counts'][t]} {t} rows, the file holds {got[t]} "
                            f"(truncated or edited?)", path=p, line=1, field="counts")
    return rows


def import_jsonl(store: RunStore, path: str | Path) -> dict[str, Any]:
    """Add the dump's rows the store lacks (see the module docstring), in one transaction. Returns per table the
    rows added and skipped (already stored), and the ids of runs / samples kept as stored although the file
    differs (`conflicts`). A bad file raises DataError before anything is written."""
    rows = read_jsonl(path)
    p = str(path)
    file_runs = {v[0] for _, t, v in rows if t == "runs"}
    added = dict.fromkeys(TABLES, 0)
    skipped = dict.fromkeys(TABLES, 0)
    conflicts: list[str] = []

    def run() -> None:
        for d in (added, skipped):  # `_retry` may run this again after a busy store
            d.update(dict.fromkeys(TABLES, 0))
        conflicts.clear()
        with store._lock:
            conn = store.db.conn
            _begin_immediate(conn)
            try:
                stored_runs = {r[0] for r in conn.execute("SELECT id FROM runs")}
                for lineno, t, v in rows:
                    if t != "runs" and v[0] not in file_runs and v[0] not in stored_runs:
                        raise DataError(f"run {v[0]!r} is neither in the file nor in {store.path}", path=p,
                                        line=lineno, field="run_id")
                existing: dict[tuple[str, str], Counter[tuple[Any, ...]]] = {}

                def stored_of(t: str, run_id: str) -> Counter[tuple[Any, ...]]:
                    key = (t, run_id)
                    if key not in existing:
                        cols = ", ".join(COLUMNS[t])
                        existing[key] = Counter(tuple(r) for r in conn.execute(
                            f"SELECT {cols} FROM {t} WHERE run_id = ?", (run_id,)))
                    return existing[key]

                for _lineno, t, v in rows:
                    cols = COLUMNS[t]
                    insert = f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
                    if t == "runs":
                        old = conn.execute(f"SELECT {', '.join(cols)} FROM runs WHERE id = ?", (v[0],)).fetchone()
                        if old is None:
                            conn.execute(insert, v)
                            added[t] += 1
                        else:
                            skipped[t] += 1
                            if tuple(old) != v:
                                conflicts.append(v[0])
                        continue
                    have = stored_of(t, v[0])
                    if have[v] > 0:
                        have[v] -= 1
                        skipped[t] += 1
                        continue
                    if t == "samples":
                        same_id = conn.execute("SELECT 1 FROM samples WHERE run_id = ? AND sample_id = ?",
                                               (v[0], v[1])).fetchone()
                        if same_id is not None:
                            skipped[t] += 1
                            conflicts.append(f"{v[0]}/{v[1]}")
                            continue
                    conn.execute(insert, v)
                    added[t] += 1
                conn.execute("COMMIT")
            except BaseException:
                _rollback_if_open(conn)
                raise

    store._retry(run)
    return {"added": added, "skipped": skipped, "conflicts": conflicts}
