"""`sage-tui select` and `sage-tui eval` for selection: output, stored runs, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selection_support import TOOLS, tool_row, write_catalog
from typer.testing import CliRunner

from core.errors import ExitCode
from sage_tui.cli import app

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    cat = write_catalog(tmp_path / "tools.jsonl")
    rows = [
        {"id": "s1", "task": "tool_selection", "instruction": "weather forecast for Oslo", "candidate_tools": None, "gold": {"tools": ["get_weather_forecast"]}},
        {"id": "s2", "task": "tool_selection", "instruction": "convert currency then email it", "candidate_tools": None, "gold": {"tools": ["convert_currency", "send_email"]}},
        {"id": "s3", "task": "tool_selection", "instruction": "book a hotel room", "candidate_tools": ["send_email", "book_hotel"], "gold": {"tools": ["book_hotel"]}},
    ]
    ds = tmp_path / "sel.jsonl"
    ds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {"catalog": cat, "dataset": ds, "db": tmp_path / "runs.db"}


def test_select_json(files) -> None:
    r = runner.invoke(app, ["select", "weather forecast in Rome", "--selector", "keyword", "--catalog", str(files["catalog"]), "--top-k", "2", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    top = data["results"]["keyword"]
    assert len(top) == 2 and top[0]["tool_id"] == "get_weather_forecast"
    assert top[0]["matched_terms"] == ["weather", "forecast"] and top[0]["stages"][0]["stage"] == "keyword"


def test_select_table_and_list(files) -> None:
    r = runner.invoke(app, ["select", "send an email", "--selector", "keyword", "--catalog", str(files["catalog"])])
    assert r.exit_code == 0 and "send_email" in r.stdout and "matched" in r.stdout
    r = runner.invoke(app, ["select", "--list", "--json"])
    names = [s["name"] for s in json.loads(r.stdout)["selectors"]]
    assert {"keyword", "embedding", "two_stage"} <= set(names)


def test_select_bad_input_exit_codes(files, tmp_path: Path) -> None:
    cat = str(files["catalog"])
    assert runner.invoke(app, ["select", "  ", "--catalog", cat]).exit_code == ExitCode.USAGE
    assert runner.invoke(app, ["select", "x", "--top-k", "0", "--selector", "keyword", "--catalog", cat]).exit_code == ExitCode.USAGE
    r = runner.invoke(app, ["select", "x", "--selector", "bm42", "--catalog", cat])
    assert r.exit_code == ExitCode.NOT_FOUND and "two_stage" in r.stderr
    dup = write_catalog(tmp_path / "dup.jsonl", [tool_row(*TOOLS[0]), tool_row(*TOOLS[0])])
    r = runner.invoke(app, ["select", "x", "--selector", "keyword", "--catalog", str(dup)])
    assert r.exit_code == ExitCode.DATA and "dup.jsonl:2" in r.stderr
    missing = tmp_path / "missing.jsonl"
    row = tool_row(*TOOLS[1])
    del row["description"]
    missing.write_text(json.dumps(row) + "\n")
    r = runner.invoke(app, ["select", "x", "--selector", "keyword", "--catalog", str(missing)])
    assert r.exit_code == ExitCode.DATA and "description" in r.stderr


def test_eval_stores_one_run_per_selector(files) -> None:
    from core.store import RunStore

    args = ["eval", "--task", "tool_selection", "--dataset", str(files["dataset"]), "--catalog", str(files["catalog"]),
            "--selector", "keyword", "--db", str(files["db"]), "--json"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)["runs"][0]
    assert run["config"]["name"] == "keyword" and run["n"] == 3
    m = run["metrics"]
    assert m["acc@1"] == pytest.approx(1.0)  # each query's first tool is gold
    assert m["recall@5"] == pytest.approx(1.0) and m["precision@5"] == pytest.approx((1 + 2 + 1) / 15)
    store = RunStore(files["db"])
    samples = {s["sample_id"]: s for s in store.sample_results(run["run_id"])}
    assert samples["s3"]["ranking"] == ["book_hotel", "send_email"]  # candidate_tools respected
    assert samples["s2"]["gold"] == ["convert_currency", "send_email"] and samples["s2"]["metrics"]["all_gold@5"] == 1.0


def test_eval_unknown_selector_stores_nothing(files) -> None:
    from core.store import RunStore

    r = runner.invoke(app, ["eval", "--task", "tool_selection", "--dataset", str(files["dataset"]), "--catalog", str(files["catalog"]),
                            "--selector", "keyword", "--selector", "nope", "--db", str(files["db"])])
    assert r.exit_code == ExitCode.NOT_FOUND
    assert RunStore(files["db"]).list_runs() == []
