"""Reliability: malformed catalog and dataset files are refused with file, line and field, and never touch the store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import ExitCode
from core.store import RunStore

TOOLS = [
    {
        "tool_id": tid,
        "name": tid.replace("_", " ").title(),
        "category": "travel",
        "description": f"{tid.replace('_', ' ')} for a trip.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "returns": "result",
    }
    for tid in ("search_flights", "book_hotel", "weather_forecast")
]
SAMPLES = [
    {"id": f"q{i}", "task": "tool_selection", "instruction": f"find flights {i}", "candidate_tools": None, "gold": {"tools": ["search_flights"]}}
    for i in range(3)
]


def _lines(rows: list) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


def _drop(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


# (case, file content, expected line, expected field or None); the bad line is always line 2
CATALOG_CASES = [
    ("bad_json", _lines([TOOLS[0], b'{"tool_id": "x", "name": ', TOOLS[2]]), 2, None, "invalid JSON"),
    ("missing_field", _lines([TOOLS[0], _drop(TOOLS[1], "description"), TOOLS[2]]), 2, "description", "missing"),
    ("duplicate_id", _lines([TOOLS[0], TOOLS[0]]), 2, "tool_id", "duplicate"),
    ("wrong_type", _lines([TOOLS[0], {**TOOLS[1], "parameters": "city"}]), 2, "parameters", "expected dict"),
    ("non_utf8", _lines([TOOLS[0], b'{"tool_id": "caf\xe9"}']), 2, None, "UTF-8"),
    ("empty", b"", None, None, "empty"),
]
DATASET_CASES = [
    ("bad_json", _lines([SAMPLES[0], b'{"id": "q9", "task": ', SAMPLES[2]]), 2, None, "invalid JSON"),
    ("missing_field", _lines([SAMPLES[0], _drop(SAMPLES[1], "instruction")]), 2, "instruction", "missing"),
    ("duplicate_id", _lines([SAMPLES[0], SAMPLES[0]]), 2, "id", "duplicate"),
    ("wrong_type", _lines([SAMPLES[0], {**SAMPLES[1], "gold": {"tools": "search_flights"}}]), 2, "gold.tools", "list of strings"),
    ("non_utf8", _lines([SAMPLES[0], b'{"id": "q\xff"}']), 2, None, "UTF-8"),
    ("empty", b"\n\n", None, None, "empty"),
]


def _snapshot(db: Path) -> tuple[dict[str, int], list[str], str]:
    with RunStore(db) as s:
        counts, integrity = s.counts(), s.integrity_check()
    con = sqlite3.connect(db)
    dump = list(con.iterdump())
    con.close()
    return counts, dump, integrity


@pytest.fixture
def populated(db_path: Path) -> Path:
    with RunStore(db_path) as s:
        rid = s.create_run("eval", {"name": "keyword"}, task="tool_selection", tags=["before"])
        s.log_metrics(rid, {"acc@1": 0.5})
        s.add_sample_results(rid, [{"sample_id": "q0", "ok": True}])
        s.finish_run(rid)
    return db_path


def _check_message(text: str, path: Path, line: int | None, field: str | None, words: str) -> None:
    text = " ".join(text.split())  # undo terminal wrapping
    assert str(path) in text
    if line is not None:
        assert f"{path}:{line}" in text
    if field is not None:
        assert f"field '{field}'" in text
    assert words in text


@pytest.mark.parametrize("kind", ["catalog", "dataset"])
def test_data_validate_names_file_line_field(kind: str, tmp_path: Path) -> None:
    from sage_tui.cli import app

    good_cat = tmp_path / "tools.jsonl"
    good_cat.write_bytes(_lines(TOOLS))
    runner = CliRunner()
    cases = CATALOG_CASES if kind == "catalog" else DATASET_CASES
    for name, content, line, field, words in cases:
        bad = tmp_path / f"{kind}_{name}.jsonl"
        bad.write_bytes(content)
        res = runner.invoke(app, ["data", "validate", str(bad), "--catalog", str(good_cat)])
        assert res.exit_code == ExitCode.DATA, (name, res.output)
        _check_message(res.output, bad, line, field, words)


def test_dataset_with_unknown_tool_names_field(tmp_path: Path) -> None:
    from sage_tui.cli import app

    cat = tmp_path / "tools.jsonl"
    cat.write_bytes(_lines(TOOLS))
    ds = tmp_path / "ds.jsonl"
    ds.write_bytes(_lines([SAMPLES[0], {**SAMPLES[1], "gold": {"tools": ["delete_all_files"]}}]))
    res = CliRunner().invoke(app, ["data", "validate", str(ds), "--catalog", str(cat)])
    assert res.exit_code == ExitCode.DATA
    _check_message(res.output, ds, 2, "gold.tools", "unknown tool id 'delete_all_files'")


def test_eval_on_malformed_files_leaves_store_unchanged(populated: Path, tmp_path: Path) -> None:
    from sage_tui.cli import app

    good_cat, good_ds = tmp_path / "tools.jsonl", tmp_path / "ds.jsonl"
    good_cat.write_bytes(_lines(TOOLS))
    good_ds.write_bytes(_lines(SAMPLES))
    before = _snapshot(populated)
    assert before[2] == "ok" and before[0]["runs"] == 1
    runner = CliRunner()
    tried = 0
    for name, content, line, field, words in CATALOG_CASES:
        bad = tmp_path / f"cat_{name}.jsonl"
        bad.write_bytes(content)
        res = runner.invoke(app, ["eval", "--task", "tool_selection", "--catalog", str(bad), "--dataset", str(good_ds), "--selector", "keyword", "--db", str(populated)])
        assert res.exit_code == ExitCode.DATA, (name, res.output)
        _check_message(res.output, bad, line, field, words)
        tried += 1
    for name, content, line, field, words in DATASET_CASES:
        bad = tmp_path / f"ds_{name}.jsonl"
        bad.write_bytes(content)
        res = runner.invoke(app, ["eval", "--task", "tool_selection", "--catalog", str(good_cat), "--dataset", str(bad), "--selector", "keyword", "--db", str(populated)])
        assert res.exit_code == ExitCode.DATA, (name, res.output)
        _check_message(res.output, bad, line, field, words)
        tried += 1
    assert tried == 12
    assert _snapshot(populated) == before


def test_exit_code_of_the_real_process(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(_lines([TOOLS[0], _drop(TOOLS[1], "parameters")]))
    res = subprocess.run([sys.executable, "-m", "sage_tui", "data", "validate", str(bad)], capture_output=True, text=True, timeout=120)
    assert res.returncode == ExitCode.DATA and res.stdout == ""
    _check_message(res.stderr, bad, 2, "parameters", "missing")
