import json

from planning_support import TOOLS
from typer.testing import CliRunner

from core.jsonl import dump_jsonl
from sage_tui.cli import app

runner = CliRunner()


def test_eval_planning_and_timing_store_runs(tmp_path):
    cat = tmp_path / "tools.jsonl"
    cat.write_text(dump_jsonl(TOOLS))
    plan_ds = tmp_path / "plan.jsonl"
    plan_ds.write_text(dump_jsonl([
        {"id": "p1", "task": "task_planning", "instruction": "Check the weather in Rome, then email it to Ana",
         "candidate_tools": None, "gold": {"steps": [{"id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
                                                    {"id": 2, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1]}]}},
        {"id": "p2", "task": "task_planning", "instruction": "Book a hotel in Paris",
         "candidate_tools": ["book_hotel", "get_weather"],
         "gold": {"steps": [{"id": 1, "tool_id": "book_hotel", "arguments": {"city": "Paris"}, "depends_on": []}]}},
    ]))
    r = runner.invoke(app, ["eval", "--task", "task_planning", "--planner", "greedy", "--dataset", str(plan_ds),
                            "--catalog", str(cat), "--json"])
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)["runs"][0]
    assert run["n"] == 2 and run["metrics"]["node_f1"] == 1.0 and run["metrics"]["structural_executability"] == 1.0
    assert run["metrics"]["edge_f1"] == 1.0  # p1: the chained edge matches gold; p2: no edges on either side
    assert run["metrics"]["executability"] == 0.0  # greedy fills no arguments, so required ones are missing
    t_ds = tmp_path / "timing.jsonl"
    t_ds.write_text(dump_jsonl([
        {"id": "t1", "task": "timing_judgment", "message": "What's the weather in Rome today?", "context": [],
         "gold": {"should_call_tool": True, "tool": "get_weather"}},
        {"id": "t2", "task": "timing_judgment", "message": "thanks!", "context": [],
         "gold": {"should_call_tool": False, "tool": None}},
        {"id": "t3", "task": "timing_judgment", "message": "Why is the sky blue?", "context": [],
         "gold": {"should_call_tool": True, "tool": "get_weather"}},
    ]))
    r = runner.invoke(app, ["eval", "--task", "timing_judgment", "--timing", "rule", "--dataset", str(t_ds),
                            "--catalog", str(cat), "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)["runs"][0]["metrics"]
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (1.0, 0.0, 1.0, 1.0)
    assert m["recall"] == 0.5 and m["precision"] == 1.0 and m["fpr"] == 0.0
