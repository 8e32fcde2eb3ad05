import json

from planning_support import TOOLS
from typer.testing import CliRunner

from core.jsonl import dump_jsonl
from core.store import RunStore
from sage_tui.cli import app

runner = CliRunner()


def _catalog(tmp_path):
    p = tmp_path / "tools.jsonl"
    p.write_text(dump_jsonl(TOOLS))
    return str(p)


def test_plan_greedy_json_stores_a_run(tmp_path, db_path):
    res = runner.invoke(app, ["plan", "Check the weather in Rome, then email it to Ana", "--planner", "greedy",
                              "--catalog", _catalog(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["planner"] == "greedy"
    assert [s["tool_id"] for s in data["steps"]] == ["get_weather", "send_email"]
    with RunStore(db_path) as store:
        run = store.get_run(data["run_id"])
        assert run["kind"] == "plan" and run["status"] == "completed"
        events = {e["message"]: e for e in store.events(data["run_id"])}
        assert {"plan", "validation"} <= set(events)


def test_plan_tree_output(tmp_path):
    res = runner.invoke(app, ["plan", "Book a hotel in Rome", "--planner", "greedy", "--catalog", _catalog(tmp_path)])
    assert res.exit_code == 0 and "book_hotel" in res.stdout and "levels:" in res.stdout


def test_plan_bad_input_exit_codes(tmp_path):
    cat = _catalog(tmp_path)
    assert runner.invoke(app, ["plan", "  ", "--planner", "greedy", "--catalog", cat]).exit_code == 2
    r = runner.invoke(app, ["plan", "x y", "--planner", "greedy", "--catalog", cat,
                            "--constraints", '{"must_use": ["ghost_tool"]}'])
    assert r.exit_code == 4 and "ghost_tool" in r.output
    assert runner.invoke(app, ["plan", "x y", "--planner", "greedy", "--catalog", cat,
                               "--constraints", "{bad"]).exit_code == 3
    fake = tmp_path / "m.gguf"
    fake.write_bytes(b"not a model")
    r = runner.invoke(app, ["plan", "x y", "--planner", "flat", "--model", str(fake), "--catalog", cat])
    assert r.exit_code == 5 and "not a GGUF" in r.output
    assert runner.invoke(app, ["plan", "x y", "--planner", "nope", "--catalog", cat]).exit_code == 2


def test_decide_rule_json_and_context(tmp_path):
    cat = _catalog(tmp_path)
    r = runner.invoke(app, ["decide", "What's the weather in Rome today?", "--strategy", "rule", "--catalog", cat, "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["should_call_tool"] is True and d["tool"] == "get_weather" and d["strategy"] == "rule"
    ctx = tmp_path / "ctx.json"
    ctx.write_text(json.dumps([{"role": "user", "content": "weather in Rome today?"},
                               {"role": "tool", "content": "Rome: 21C sunny"}]))
    r = runner.invoke(app, ["decide", "so is it sunny in Rome today?", "--strategy", "rule", "--catalog", cat,
                            "--context", str(ctx)])
    assert r.exit_code == 0 and "answer directly" in r.stdout and "confidence" in r.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"messages": 3}')
    assert runner.invoke(app, ["decide", "x", "--strategy", "rule", "--catalog", cat, "--context", str(bad)]).exit_code == 3


def test_plan_enforces_must_use_and_exits_7_when_constraints_cannot_hold(tmp_path, db_path):
    cat = _catalog(tmp_path)
    r = runner.invoke(app, ["plan", "Book a hotel in Rome", "--planner", "greedy", "--catalog", cat, "--json",
                            "--constraints", '{"must_use": ["translate_text"]}'])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert "translate_text" in [s["tool_id"] for s in data["steps"]]
    assert any("translate_text is required" in x["detail"] for x in data["repairs"])
    # two required tools cannot fit into one step: the plan is printed and stored, the command fails with 7
    r = runner.invoke(app, ["plan", "Book a hotel in Rome", "--planner", "greedy", "--catalog", cat, "--json",
                            "--constraints", '{"must_use": ["translate_text", "send_email"], "max_steps": 1}'])
    assert r.exit_code == 7, r.output
    assert "max_steps" in r.stderr
    data = json.loads(r.stdout)
    with RunStore(db_path) as store:
        run = store.get_run(data["run_id"])
        assert run["status"] == "failed" and "max_steps" in run["error"]
    r = runner.invoke(app, ["plan", "Book a hotel in Rome", "--planner", "greedy", "--catalog", cat,
                            "--constraints", '{"must_use": ["translate_text", "send_email"], "max_steps": 1}'])
    assert r.exit_code == 7 and "violation" in r.stdout and "max_steps" in r.stdout


def test_unreachable_server_and_huge_goal_through_the_cli(tmp_path):
    import socket

    cat = _catalog(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    r = runner.invoke(app, ["plan", "weather in Rome", "--planner", "flat", "--server", url, "--catalog", cat])
    assert r.exit_code == 5 and "unreachable" in r.output
    r = runner.invoke(app, ["decide", "weather in Rome?", "--strategy", "llm", "--server", url, "--catalog", cat])
    assert r.exit_code == 5 and "unreachable" in r.output
    r = runner.invoke(app, ["plan", "book a hotel in Rome " * 150, "--planner", "greedy", "--catalog", cat])
    assert r.exit_code == 0 and "warning" in r.stdout and "goal truncated from 3149 to 2000" in r.stdout


def test_eval_task_planning_stores_one_run_with_per_sample_rows(db_path):
    r = runner.invoke(app, ["eval", "--task", "task_planning", "--planner", "greedy", "--split", "test",
                            "--limit", "5", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    runs = out["runs"]
    assert len(runs) == 1
    rid = runs[0]["run_id"]
    with RunStore(db_path) as store:
        run = store.get_run(rid)
        assert run["kind"] == "eval" and run["task"] == "task_planning" and run["status"] == "completed"
        rows = store.sample_results(rid)
        assert len(rows) == 5
        names = {m["name"] for m in store.metrics(rid)}
        assert {"node_f1", "step_validity", "executability"} <= names


def test_eval_lora_takes_adapter_names(db_path):
    r = runner.invoke(app, ["eval", "--task", "timing_judgment", "--timing", "rule", "--lora", "no-such-adapter"])
    assert r.exit_code == 4 and "gemma3-270m-sage-timing" in r.output  # the error lists the known names
    r = runner.invoke(app, ["eval", "--task", "timing_judgment", "--timing", "rule", "--lora", "gemma3-270m-sage-timing",
                            "--split", "test", "--limit", "3", "--json"])
    assert r.exit_code == 0, r.output
