"""core/store/jsonl_io.py and `sage-tui runs export-jsonl|import`: a deterministic, diffable dump of the run store
that round-trips, imports idempotently and refuses a bad line without touching stored data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import DataError
from core.store import RunStore
from core.store.jsonl_io import COLUMNS, export_jsonl, import_jsonl, read_jsonl
from sage_tui.cli import app

ROOT = Path(__file__).resolve().parent.parent


def _fill(store: RunStore, order: str = "ab") -> tuple[str, str]:
    """Two runs with every kind of row; `order` interleaves their writes differently."""
    a = store.create_run("eval", {"selector": "keyword", "k": 5, "nested": {"z": 1, "a": [1, 2]}},
                         task="tool_selection", method="keyword", tags=["paper", "b-tag"], run_id="eval-a")
    b = store.create_run("train", {"lr": 3e-4}, method="B1", parent_id="train-p", run_id="train-b")
    writes = {
        "a": lambda: (store.log_metrics(a, {"acc@1": 0.5, "mrr": 1 / 3}, split="test"),
                      store.log_metrics(a, {"acc@1": 0.5, "mrr": 1 / 3}, split="test"),  # identical rows twice
                      store.log_event(a, "hello", payload={"x": 1, "ü": "Zürich"}),
                      store.log_event(a, "no payload"),
                      store.add_artifact(a, "plan", "/tmp/plan.json", {"steps": 3}),
                      store.add_sample_results(a, [{"sample_id": "s1", "ok": True, "pred": ["t1"], "score": 0.1},
                                                   {"sample_id": "s2", "ok": False, "error": "bad \"quote\""}]),
                      store.finish_run(a)),
        "b": lambda: (store.log_metrics(b, {"loss": 2.5, "lr": 1.25e-4}, split="train", step=1),
                      store.log_metrics(b, {"loss": float("nan")}, split="train", step=2),
                      store.finish_run(b, "failed", error="boom")),
    }
    for k in order:
        writes[k]()
    return a, b


def _rows(path: Path) -> dict[str, list[tuple]]:
    """Every stored row (children without their internal integer id), sorted."""
    conn = sqlite3.connect(path)
    try:
        return {t: sorted(repr(r) for r in conn.execute(f"SELECT {', '.join(cols)} FROM {t}"))
                for t, cols in COLUMNS.items()}
    finally:
        conn.close()


def _dump(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_round_trip_into_an_empty_store_gives_the_same_rows_and_bytes(tmp_path):
    src = RunStore(tmp_path / "src.db")
    _fill(src)
    counts = export_jsonl(src, tmp_path / "a.jsonl")
    assert counts == {"runs": 2, "metrics": 7, "events": 2, "artifacts": 1, "samples": 2}
    lines = (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"table": "_meta", "format": "sage-tui-runs", "version": 1, "counts": counts}
    assert [json.loads(x)["table"] for x in lines[1:]] == (
        ["runs"] + ["metrics"] * 4 + ["events"] * 2 + ["artifacts"] + ["samples"] * 2  # eval-a first (id order)
        + ["runs"] + ["metrics"] * 3)
    run = json.loads(lines[1])
    assert list(run)[:3] == ["table", "id", "kind"] and run["config"]["nested"] == {"z": 1, "a": [1, 2]}
    assert "Zürich" in lines[6]  # readable UTF-8, one row per line

    dst = RunStore(tmp_path / "dst.db")
    res = import_jsonl(dst, tmp_path / "a.jsonl")
    assert res["added"] == counts and res["conflicts"] == []
    assert _rows(tmp_path / "dst.db") == _rows(tmp_path / "src.db")
    assert dst.get_run("eval-a") == src.get_run("eval-a")
    assert dst.sample_results("eval-a") == src.sample_results("eval-a")
    export_jsonl(dst, tmp_path / "b.jsonl")
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()


def test_export_is_deterministic_whatever_the_write_interleaving(tmp_path):
    src = RunStore(tmp_path / "src.db")
    _fill(src)
    export_jsonl(src, tmp_path / "1.jsonl")
    export_jsonl(src, tmp_path / "1b.jsonl")
    assert (tmp_path / "1.jsonl").read_bytes() == (tmp_path / "1b.jsonl").read_bytes()
    # the same rows written in another interleaving: runs in reverse, children of the two runs alternating
    header, *rest = (tmp_path / "1.jsonl").read_text(encoding="utf-8").splitlines()
    runs = [x for x in rest if json.loads(x)["table"] == "runs"]
    kids = {json.loads(r)["id"]: [x for x in rest if json.loads(x).get("run_id") == json.loads(r)["id"]] for r in runs}
    mixed = [x for pair in zip(*kids.values(), strict=False) for x in pair]
    mixed += [x for ks in kids.values() for x in ks[len(mixed) // 2:]]
    assert sorted(mixed) == sorted(x for ks in kids.values() for x in ks)
    (tmp_path / "mixed.jsonl").write_text("\n".join([header, *reversed(runs), *mixed]) + "\n", encoding="utf-8")
    other = RunStore(tmp_path / "other.db")
    import_jsonl(other, tmp_path / "mixed.jsonl")
    export_jsonl(other, tmp_path / "2.jsonl")
    assert (tmp_path / "2.jsonl").read_bytes() == (tmp_path / "1.jsonl").read_bytes()


def test_importing_twice_adds_nothing_and_a_partial_store_gets_only_what_it_lacks(tmp_path):
    src = RunStore(tmp_path / "src.db")
    a, _ = _fill(src)
    export_jsonl(src, tmp_path / "all.jsonl")
    dst = RunStore(tmp_path / "dst.db")
    import_jsonl(dst, tmp_path / "all.jsonl")
    again = import_jsonl(dst, tmp_path / "all.jsonl")
    assert sum(again["added"].values()) == 0 and again["skipped"]["metrics"] == 7
    assert dst.counts() == src.counts()

    # a store holding run a with one of its two identical metric rows and nothing else of it
    part = RunStore(tmp_path / "part.db")
    part.create_run("eval", {"selector": "keyword", "k": 5, "nested": {"z": 1, "a": [1, 2]}}, task="tool_selection",
                    method="keyword", tags=["paper", "b-tag"], run_id=a)
    got = src.get_run(a)
    part.update_run(a, status=got["status"], ended=got["ended"], started=got["started"], pid=got["pid"],
                    host=got["host"], package_version=got["package_version"])
    m = src.metrics(a)[0]
    part.db.conn.execute("INSERT INTO metrics (run_id, name, value, split, step, time) VALUES (?, ?, ?, ?, ?, ?)",
                         (a, m["name"], m["value"], m["split"], m["step"], m["time"]))
    res = import_jsonl(part, tmp_path / "all.jsonl")
    assert res["skipped"] == {"runs": 1, "metrics": 1, "events": 0, "artifacts": 0, "samples": 0}
    assert res["added"]["metrics"] == 6 and res["conflicts"] == []
    assert _rows(tmp_path / "part.db") == _rows(tmp_path / "src.db")


def test_stored_rows_win_over_a_differing_file(tmp_path):
    src = RunStore(tmp_path / "src.db")
    a, b = _fill(src)
    export_jsonl(src, tmp_path / "all.jsonl")
    dst = RunStore(tmp_path / "dst.db")
    import_jsonl(dst, tmp_path / "all.jsonl")
    dst.update_run(b, status="completed", error=None)
    dst.add_sample_results(a, [{"sample_id": "s1", "ok": False, "pred": ["other"]}])
    before = _dump(tmp_path / "dst.db")
    res = import_jsonl(dst, tmp_path / "all.jsonl")
    assert sorted(res["conflicts"]) == [f"{a}/s1", b] and sum(res["added"].values()) == 0
    assert _dump(tmp_path / "dst.db") == before
    assert dst.get_run(b)["status"] == "completed"


def _bad_files(good: list[str]) -> dict[str, tuple[list[str], int, str]]:
    """name -> (lines, bad line number, field)."""
    header, run, *rest = good
    metric = next(x for x in rest if json.loads(x)["table"] == "metrics")
    i = good.index(metric)

    def edit(line: str, **kv) -> str:
        obj = json.loads(line)
        obj.update(kv)
        return json.dumps(obj)

    def swap(new: str) -> list[str]:
        return [*good[:i], new, *good[i + 1:]]

    return {
        "invalid json": (swap('{"table": "metrics", "run_id": '), i + 1, None),
        "value not a number": (swap(edit(metric, value="0.5")), i + 1, "value"),
        "step not an integer": (swap(edit(metric, step=1.5)), i + 1, "step"),
        "missing name": (swap(edit(metric, name=None)), i + 1, "name"),
        "empty run id": (swap(edit(metric, run_id="")), i + 1, "run_id"),
        "unknown column": (swap(edit(metric, colour="red")), i + 1, "colour"),
        "unknown table": (swap(edit(metric, table="metricz")), i + 1, "table"),
        "unknown run": (swap(edit(metric, run_id="eval-nowhere")), i + 1, "run_id"),
        "duplicate run": ([header, run, run, *rest], 3, "id"),
        "config not an object": ([header, edit(run, config=[1]), *rest], 2, "config"),
        "no header": (good[1:], 1, "table"),
        "newer version": ([edit(header, version=99), *good[1:]], 1, "version"),
        "truncated": (good[:-1], 1, "counts"),
    }


@pytest.mark.parametrize("case", ["invalid json", "value not a number", "step not an integer", "missing name",
                                  "empty run id", "unknown column", "unknown table", "unknown run", "duplicate run",
                                  "config not an object", "no header", "newer version", "truncated"])
def test_a_bad_line_names_file_line_and_field_and_writes_nothing(tmp_path, case):
    src = RunStore(tmp_path / "src.db")
    _fill(src)
    export_jsonl(src, tmp_path / "good.jsonl")
    good = (tmp_path / "good.jsonl").read_text(encoding="utf-8").splitlines()
    lines, lineno, field = _bad_files(good)[case]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")

    dst = RunStore(tmp_path / "dst.db")  # holds data of its own, which must survive untouched
    own = dst.create_run("plan", {"goal": "x"}, run_id="plan-own")
    dst.log_metrics(own, {"steps": 3.0})
    before = _dump(tmp_path / "dst.db")
    with pytest.raises(DataError) as exc:
        import_jsonl(dst, bad)
    assert exc.value.path == str(bad) and exc.value.line == lineno and exc.value.field == field
    assert f"{bad}:{lineno}" in str(exc.value)
    assert _dump(tmp_path / "dst.db") == before


def test_cli_export_import_and_a_bad_line_exit_code(tmp_path):
    src = RunStore(tmp_path / "src.db")
    _fill(src)
    src.close()
    runner = CliRunner()
    res = runner.invoke(app, ["runs", "export-jsonl", "--db", str(tmp_path / "src.db"), "--out",
                              str(tmp_path / "d.jsonl"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["counts"]["samples"] == 2
    res = runner.invoke(app, ["runs", "import", str(tmp_path / "d.jsonl"), "--db", str(tmp_path / "new.db"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["added"]["runs"] == 2
    res = runner.invoke(app, ["runs", "import", str(tmp_path / "d.jsonl"), "--db", str(tmp_path / "new.db"), "--json"])
    assert json.loads(res.stdout)["added"]["runs"] == 0
    lines = (tmp_path / "d.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace('"table":"metrics"', '"table":"nope"')
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["runs", "import", str(tmp_path / "bad.jsonl"), "--db", str(tmp_path / "new.db")])
    assert res.exit_code == 3
    assert "bad.jsonl:3" in res.output and "table" in res.output


def test_the_committed_experiments_dump_is_valid_and_builds_a_store(tmp_path):
    """results/experiments.jsonl (the paper's runs; results/experiments.db is built from it, not committed)."""
    dump = ROOT / "results" / "experiments.jsonl"
    header = json.loads(dump.open(encoding="utf-8").readline())
    rows = read_jsonl(dump)
    assert len(rows) == sum(header["counts"].values()) and header["counts"]["runs"] > 0
    store = RunStore(tmp_path / "experiments.db")
    res = import_jsonl(store, dump)
    assert res["added"] == header["counts"] and store.counts() == header["counts"]
