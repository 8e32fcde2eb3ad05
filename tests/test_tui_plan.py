"""Plan screen flow with a scripted LLM backend (a test double defined here, never shipped)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Log
from tui_seed import submit_goal, write_catalog

from core.llm.base import Completion
from core.store import RunStore
from sage_tui.app import SageApp
from sage_tui.config import UIConfig
from sage_tui.messages import PlanTokens
from sage_tui.screens.plan import PlanScreen
from sage_tui.screens.plan_worker import TokenCoalescer
from sage_tui.widgets.dag import DagView, layout_steps

GOAL = "find flights to Lisbon and check the weather there, then add the trip to my calendar"


class ScriptedBackend:
    """Answers by the JSON schema it is asked for; streams its answer token by token."""

    name = "scripted"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def info(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def complete(self, messages: Sequence[dict[str, str]], *, json_schema: dict[str, Any] | None = None,
                 on_token: Any = None, **_: Any) -> Completion:
        props = (json_schema or {}).get("properties", {})
        user = messages[-1]["content"]
        if "command" in props:  # grounded clause_rewrite
            kind, out = "rewrite", {"command": "look up flights to Lisbon"}
        elif "subgoals" in props:
            kind, out = "subgoals", {"subgoals": ["find flights to Lisbon", "check the weather", "add the trip to my calendar"]}
        elif "steps" in props and "Sub-goals:" in user:  # batched level 2: every sub-goal's steps in one call
            kind, out = "steps", {"steps": [
                {"subgoal": 1, "id": 1, "tool_id": "flight_search", "arguments": {"origin": "OPO"}, "depends_on": []},
                {"subgoal": 2, "id": 2, "tool_id": "weather_forecast", "arguments": {}, "depends_on": []},
                {"subgoal": 3, "id": 3, "tool_id": "calendar_add_event", "arguments": {}, "depends_on": [1, 2]}]}
        elif "steps" in props:
            kind = "steps"
            sub = re.search(r"Sub-goal: (.*)", user).group(1)  # type: ignore[union-attr]
            tool = {"find flights to Lisbon": "flight_search", "check the weather": "weather_forecast"}.get(sub, "calendar_add_event")
            deps = [] if tool != "calendar_add_event" else [1, 2]
            out = {"steps": [{"id": 1 if tool == "flight_search" else 2 if tool == "weather_forecast" else 3,
                              "tool_id": tool, "arguments": {"origin": "OPO"} if tool == "flight_search" else {}, "depends_on": deps, "description": sub}]}
        else:
            kind, out = "timing", {"should_call_tool": True, "tool": None, "reason": "needs live data"}
        self.calls.append(kind)
        text = json.dumps(out)
        for i in range(0, len(text), 4):
            if on_token:
                on_token(text[i:i + 4])
        return Completion(text=text, finish_reason="stop", completion_tokens=len(text) // 4, seconds=0.01)


@pytest.mark.asyncio
async def test_goal_gives_candidates_dag_and_timing(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    app = SageApp(db=tmp_path / "runs.db", config=UIConfig(selector="keyword", timing="hybrid", planner="hierarchical"),
                  catalog_path=write_catalog(tmp_path / "tools.jsonl"), llm_backend=backend, mode="plan")
    async with app.run_test(size=(140, 45)) as pilot:
        assert isinstance(app.screen, PlanScreen)
        screen = await submit_goal(app, pilot, GOAL)
        cands = screen.query_one("#cand-table", DataTable)
        tools = [cands.get_row_at(i)[1] for i in range(cands.row_count)]
        assert "flight_search" in tools and cands.get_row_at(0)[0] == "1"
        dag = screen.query_one(DagView)
        assert [s["tool_id"] for s in dag.steps] == ["flight_search", "weather_forecast", "calendar_add_event"]
        assert dag.layout_.levels == [[1, 2], [3]]  # flights and weather in parallel, then the calendar
        # core's on_progress: the sub-goals first (no step yet), then each step batch, then the final plan
        sizes = screen.graph_sizes
        assert sizes[0] == 0 and sizes[-1] == 3 and sizes == sorted(sizes) and len(sizes) >= 3, sizes
        assert [g["description"] for g in dag.subgoals][0] == "find flights to Lisbon"
        timing = screen.query_one("#timing-table", DataTable)
        assert timing.row_count == 4 and timing.get_row_at(0)[0] == "goal"
        assert backend.calls[0] == "subgoals" and backend.calls.count("steps") >= 1
        assert "subgoals" in "".join(screen.query_one("#stream", Log).lines)
        assert screen.plan is not None and "stored plan-" in screen.sub_title
        # selecting a node shows its tool schema
        dag.focus()
        await pilot.press("right", "enter")
        await pilot.pause()
        info = screen.query_one("#node-info")
        assert "weather_forecast" in str(info.content.text)  # type: ignore[attr-defined]
    runs = RunStore(tmp_path / "runs.db").list_runs(kind="plan")
    assert len(runs) == 1 and runs[0]["status"] == "completed" and runs[0]["method"] == "hierarchical"


@pytest.mark.asyncio
async def test_bad_constraint_is_reported_not_crashing(tmp_path: Path) -> None:
    app = SageApp(db=tmp_path / "runs.db", config=UIConfig(selector="keyword", timing="rule"),
                  catalog_path=write_catalog(tmp_path / "tools.jsonl"), llm_backend=ScriptedBackend(), mode="plan")
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        screen.query_one("#goal", Input).value = GOAL
        screen.query_one("#constraints", Input).value = "must_use=no_such_tool"
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.sub_title == "failed"
        assert any("no_such_tool" in n.message for n in app._notifications)


def test_token_coalescer_batches_floods() -> None:
    posted: list[PlanTokens] = []
    c = TokenCoalescer(posted.append, interval_s=10.0)
    for _ in range(1000):
        c("x")
    c.flush()
    assert len(posted) == 2 and sum(len(p.text) for p in posted) == 1000


def test_planner_picker_matches_core_registry() -> None:
    from core.planning.registry import PLANNERS as CORE
    from sage_tui.screens.plan import PLANNERS as UI

    assert set(UI) == set(CORE), "update sage_tui/screens/plan.py PLANNERS"


def test_layout_levels_and_cycles() -> None:
    from core.planning.types import PlanStep

    steps = [PlanStep(1, "a"), PlanStep(2, "b", depends_on=[1]), PlanStep(3, "c", depends_on=[1])]
    assert layout_steps(steps).levels == [[1], [2, 3]]
    cyc = [PlanStep(1, "a", depends_on=[2]), PlanStep(2, "b", depends_on=[1])]
    lay = layout_steps(cyc)
    assert any("cycle" in i for i in lay.issues) and sum(len(level) for level in lay.levels) == 2


@pytest.mark.asyncio
async def test_wide_level_wraps_and_pending_draft_renders() -> None:
    """Six parallel steps in a 70-column DAG wrap onto rows of two; a pending draft (muted theme colour with
    alpha) renders instead of crashing Rich."""
    from textual.app import App, ComposeResult

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield DagView(id="dag")

    app = One()
    async with app.run_test(size=(70, 40)) as pilot:
        dag = app.query_one(DagView)
        steps = [{"id": i, "tool_id": f"tool_number_{i}", "depends_on": [], "subgoal_id": 1} for i in range(1, 7)]
        dag.set_steps(steps, {i: "pending" for i in range(1, 7)}, subgoals=[{"id": 1, "description": "do six things"}])
        await pilot.pause()
        lines = [strip.text for strip in dag.render_lines(dag.region.reset_offset.intersection(dag.region))]
        text = "\n".join(lines)
        assert "SG1 do six things" in text and "tool_number_6" in text
        assert sum("#" in line and "tool_number_" in line for line in lines) == 3  # 3 rows of node boxes
        assert sum(line.startswith("L0") for line in lines) == 1


def keyword_rule_app(tmp_path: Path, backend: ScriptedBackend, **config: Any) -> SageApp:
    """The plan screen on the test catalog with the keyword selector, rule timing and `config` on top."""
    return SageApp(db=tmp_path / "runs.db", config=UIConfig(selector="keyword", timing="rule", **config),
                   catalog_path=write_catalog(tmp_path / "tools.jsonl"), llm_backend=backend, mode="plan")


@pytest.mark.asyncio
async def test_a_goal_answered_directly_says_so_where_the_plan_would_be(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    app = keyword_rule_app(tmp_path, backend, answer_directly=True)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await submit_goal(app, pilot, "thanks, that was really helpful")
        dag = screen.query_one(DagView)
        assert dag.steps == [] and "No tool needed" in str(dag.notice)
        assert "no tool needed" in screen.sub_title and backend.calls == []
        timing = screen.query_one("#timing-table", DataTable)
        assert timing.row_count == 1 and str(timing.get_row_at(0)[1]) == "answer"
        assert "ctrl+t plans it anyway" in str(dag.notice)
        await submit_goal(app, pilot, "thanks, that was really helpful", key="ctrl+t")  # plan it anyway
        assert dag.steps and dag.notice is None and backend.calls
    runs = RunStore(tmp_path / "runs.db").list_runs(kind="plan")
    assert len(runs) == 2 and {r["status"] for r in runs} == {"completed"}


def test_answer_directly_is_a_boolean_config_key() -> None:
    from core.errors import ConfigError
    from sage_tui.config import parse_config

    assert parse_config({"general": {"answer_directly": True}}).answer_directly is True
    assert parse_config({}).answer_directly is False
    with pytest.raises(ConfigError, match="general.answer_directly") as e:
        parse_config({"general": {"answer_directly": "yes"}})
    assert "boolean" in str(e.value)


@pytest.mark.asyncio
async def test_rewrite_clauses_from_the_config_reaches_the_grounded_planner(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    app = keyword_rule_app(tmp_path, backend, rewrite_clauses=True)
    async with app.run_test(size=(140, 45)) as pilot:
        await submit_goal(app, pilot, GOAL)
    assert backend.calls[:3] == ["rewrite"] * 3  # one call per clause, before the arguments call
    (run,) = RunStore(tmp_path / "runs.db").list_runs(kind="plan")
    assert run["config"]["clause_rewrite"] is True  # stored with the run
    from sage_tui.config import parse_config

    assert parse_config({"general": {"rewrite_clauses": True}}).rewrite_clauses is True
    assert parse_config({}).rewrite_clauses is False
