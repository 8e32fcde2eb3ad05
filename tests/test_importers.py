"""`data import`: Seal-Tools and MetaTool fixtures (a few lines we wrote) into our formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.catalog import load_catalog
from core.datasets import check_against_catalog, load_dataset
from core.errors import DataError, ExitCode, NotFoundError
from core.importers import run_import, snake_id
from sage_tui.cli import app

FIX = Path(__file__).parent / "fixtures" / "importers"


def _lines(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]


def test_snake_ids() -> None:
    assert snake_id("getWeatherForecast") == "get_weather_forecast"
    assert snake_id("MixerBox_Translate_AI") == "mixer_box_translate_ai"
    assert snake_id("HTTPServer v2") == "http_server_v2"
    assert snake_id("3dModel") == "t_3d_model"


def test_seal_tools_import(tmp_path: Path) -> None:
    summary = run_import("seal-tools", FIX / "seal-tools", tmp_path / "out")
    out = tmp_path / "out"
    cat = load_catalog(out / "catalog.jsonl")
    assert cat.ids == ["get_weather_forecast", "send_email", "convert_currency"]
    weather = cat.get("get_weather_forecast")
    assert weather.parameters["properties"]["days"]["type"] == "integer" and weather.required == ["city"]
    assert weather.category == "Meteorology" and "forecast" in weather.returns
    ds = load_dataset(out / "tool_retrieval_test_in_domain.jsonl", task="tool_retrieval")
    check_against_catalog(ds, cat)
    assert [s["gold"]["tools"] for s in ds.samples] == [["get_weather_forecast"], ["get_weather_forecast", "send_email"]]
    assert any("skipped 1" in n for n in summary["notes"])  # the unknown API line
    plan = {s["id"]: s for s in _lines(out / "task_planning_test_in_domain.jsonl")}
    steps = plan["test_in_domain-difficult-1"]["gold"]["steps"]
    assert steps[1]["tool_id"] == "send_email" and steps[1]["depends_on"] == [0] and steps[0]["depends_on"] == []
    assert summary["files"]["tool_retrieval_test.jsonl"] == 3  # in-domain (2 kept) + out-of-domain (1)
    load_dataset(out / "task_planning_test.jsonl", task="task_planning")


def test_metatool_import(tmp_path: Path) -> None:
    run_import("metatool", FIX / "metatool", tmp_path / "m")
    out = tmp_path / "m"
    cat = load_catalog(out / "catalog.jsonl")
    assert "translator_ai" in cat and cat.get("translator_ai").name == "translator_AI"
    ev = load_dataset(out / "tool_retrieval.jsonl", task="tool_retrieval")
    dev = load_dataset(out / "tool_retrieval_dev.jsonl", task="tool_retrieval")
    # rows 0 and 5 evaluate, row 1 and 6 tune: disjoint
    assert [s["id"] for s in ev.samples] == ["metatool-single-0", "metatool-single-5", "metatool-multi-0"]
    assert [s["id"] for s in dev.samples] == ["metatool-single-1", "metatool-single-6"]
    assert ev.samples[-1]["gold"]["tools"] == ["finance_tool", "news_tool"]
    timing = load_dataset(out / "timing_judgment.jsonl", task="timing_judgment")
    assert [s["gold"] for s in timing.samples] == [{"should_call_tool": True, "tool": "weather_tool"}, {"should_call_tool": False, "tool": None}]


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "seal"
    shutil.copytree(FIX / "seal-tools", src)
    with (src / "test_out_domain.jsonl").open("a") as fh:
        fh.write('{"id": "x", "query": "broken"}\n')  # no calling list
    with pytest.raises(DataError, match="test_out_domain.jsonl:2"):
        run_import("seal-tools", src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (src / "tool.jsonl").write_text('{"api_name": "a", "api_description": ""}\n')
    with pytest.raises(DataError, match="api_description"):
        run_import("seal-tools", src, tmp_path / "out")
    with pytest.raises(NotFoundError):
        run_import("metatool", tmp_path / "nowhere", tmp_path / "out")


def test_cli_import_and_eval_roundtrip(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["data", "import", "metatool", str(FIX / "metatool"), "--out", str(tmp_path / "m"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["files"]["catalog.jsonl"] == 4
    r = runner.invoke(app, ["eval", "--task", "tool_retrieval", "--catalog", str(tmp_path / "m" / "catalog.jsonl"),
                            "--dataset", str(tmp_path / "m" / "tool_retrieval.jsonl"), "--selector", "keyword",
                            "--db", str(tmp_path / "runs.db"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["runs"][0]["n"] == 3
    r = runner.invoke(app, ["data", "import", "toolbench", str(FIX), "--out", str(tmp_path / "x")])
    assert r.exit_code == ExitCode.USAGE
