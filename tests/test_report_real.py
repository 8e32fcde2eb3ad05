"""`sage-tui report` on runs made by the real commands (`sage-tui eval`, `sage-tui plan`), not seeded rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_reliability_eval import _write_fixture


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "sage_tui", *args, "--db", str(db)], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    return res


def test_report_from_real_eval_and_plan_runs(tmp_path: Path) -> None:
    cat, ds = _write_fixture(tmp_path, 60)
    db = tmp_path / "runs.db"
    evals = []
    for seed in (0, 1):
        res = _cli("eval", "--task", "timing_judgment", "--timing", "rule", "--dataset", str(ds), "--catalog", str(cat),
                   "--limit", "40", "--seed", str(seed), "--tag", "real", "--json", db=db)
        evals += json.loads(res.stdout)["runs"]
    sel = json.loads(_cli("eval", "--task", "tool_selection", "--selector", "keyword", "--dataset",
                          str(tmp_path / "selection_60.jsonl"), "--catalog", str(cat), "--limit", "30", "--tag", "real",
                          "--json", db=db).stdout)["runs"][0]
    plan = json.loads(_cli("plan", "Find flights from Rome to Oslo and then email Bob about the weather", "--planner",
                           "greedy", "--catalog", str(cat), "--json", db=db).stdout)
    # default selection: latest run per experiment cell (rule ignores --seed, so both runs are the same cell)
    latest = json.loads(_cli("report", "--out", str(tmp_path / "latest"), "--json", db=db).stdout)
    assert evals[1]["run_id"] in latest["runs"] and evals[0]["run_id"] not in latest["runs"]
    out = tmp_path / "report"
    rep = json.loads(_cli("report", "--out", str(out), "--tag", "real", "--run", plan["run_id"], "--json", db=db).stdout)
    assert {e["run_id"] for e in evals} | {plan["run_id"], sel["run_id"]} == set(rep["runs"])
    for fig in ("plan_dag", "selector_tradeoff"):
        assert fig not in rep["skipped_figures"] and (out / "figures" / f"{fig}.png").stat().st_size > 5000
    man = json.loads((out / "runs.json").read_text())
    sel_section, section = man["ablation"]
    assert sel_section["task"] == "tool_selection" and sel_section["n_samples"] == 30
    (point,) = man["figures"]["selector_tradeoff"]["data"]["points"]
    assert point["variant"] == "keyword" and point["run_ids"] == [sel["run_id"]]
    assert point["accuracy"] == sel["metrics"]["acc@1"] and point["latency_ms"] == sel["metrics"]["latency_p50_ms"]
    assert section["task"] == "timing_judgment" and section["n_samples"] == 40 and section["limit"] == "40"
    cell = section["rows"]["rule"]["cells"]["accuracy"]
    assert cell["run_ids"] == sorted(e["run_id"] for e in evals)
    assert cell["values"] == [e["metrics"]["accuracy"] for e in sorted(evals, key=lambda e: e["run_id"])]
    for rid in cell["run_ids"]:
        assert man["runs"][rid]["dataset_hash"] and man["runs"][rid]["catalog_hash"] and man["runs"][rid]["package_version"]
    md = (out / "ablation.md").read_text()
    assert f"| rule | 2 | {evals[0]['metrics']['accuracy']:.3f} ± 0.000 |" in md
    drawn = man["figures"]["plan_dag"]["data"]
    assert drawn["run_id"] == plan["run_id"]
    assert [(s["id"], s["tool_id"], s["depends_on"]) for s in drawn["plan"]["steps"]] == [
        (s["id"], s["tool_id"], s["depends_on"]) for s in plan["steps"]]
    again = tmp_path / "again"
    _cli("report", "--out", str(again), "--tag", "real", "--run", plan["run_id"], db=db)
    for f in rep["files"]:
        assert (out / f).read_bytes() == (again / f).read_bytes(), f
