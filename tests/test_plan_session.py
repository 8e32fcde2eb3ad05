"""The plan session (core/planning/session.py): one status rule, candidates shown = candidates used, errors
and cancellation stored, and the CLI and the TUI storing the same run for the same goal and constraints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from planning_support import OverlapSelector, ScriptedBackend, make_catalog

from core.errors import ModelError
from core.planning.constraints import PlanConstraints
from core.planning.events import (
    CandidatesEvent,
    DoneEvent,
    FailedEvent,
    FinalPlanEvent,
    StageEvent,
    TokenEvent,
)
from core.planning.session import Cancelled, PlanRequest, plan_goal
from core.store import RunStore

CAT = make_catalog()
GOAL = "search flights to Rome and book a hotel in Rome"
SUBGOALS = {"subgoals": ["search flights to Rome", "book a hotel in Rome"]}
STEPS = {"steps": [{"subgoal": 1, "id": 1, "tool_id": "search_flights", "arguments": {"origin": "Paris", "destination": "Rome"},
                    "depends_on": []},
                   {"subgoal": 2, "id": 2, "tool_id": "book_hotel", "arguments": {"city": "Rome"}, "depends_on": [1]}]}


def _run(tmp_path: Path, constraints: PlanConstraints | None = None, answers: Any = None, answer_directly: bool = False,
         **kw: Any):
    events: list[Any] = []
    store = RunStore(tmp_path / "runs.db")
    req = PlanRequest(GOAL, constraints=constraints or PlanConstraints(), timing="rule", answer_directly=answer_directly)
    backend = ScriptedBackend(answers if answers is not None else [SUBGOALS, STEPS])
    out = plan_goal(req, store, events.append, catalog=CAT, selector=OverlapSelector().fit(CAT), backend=backend, **kw)
    return out, events, store


def test_completed_run_with_events_in_order_and_candidates_used(tmp_path: Path) -> None:
    out, events, store = _run(tmp_path)
    assert out.status == "completed" and [s.tool_id for s in out.plan.steps] == ["search_flights", "book_hotel"]
    kinds = [type(e).__name__ for e in events if not isinstance(e, TokenEvent | StageEvent)]
    assert kinds[0] == "CandidatesEvent" and kinds[-1] == "DoneEvent" and "FinalPlanEvent" in kinds
    shown = [s.tool_id for s in next(e for e in events if isinstance(e, CandidatesEvent)).selections]
    assert set(shown) == set(out.plan.candidates)
    assert any(isinstance(e, TokenEvent) for e in events)  # streamed tokens reach the sink
    run = store.get_run(out.run_id)
    assert run["status"] == "completed" and run["kind"] == "plan"
    assert len(out.timing) == 3 and out.timing[0]["step_id"] is None  # the goal, then each step
    names = [e["message"] for e in store.events(out.run_id)]
    assert names == ["plan", "validation", "timing"]


def test_constraints_shape_the_candidates_shown_and_a_violation_fails_the_run(tmp_path: Path) -> None:
    c = PlanConstraints(must_not_use=["book_hotel"], must_use=["send_email"])
    out, events, store = _run(tmp_path, c)
    shown = [s.tool_id for s in next(e for e in events if isinstance(e, CandidatesEvent)).selections]
    assert "book_hotel" not in shown and shown[0] == "send_email" and set(shown) == set(out.plan.candidates)
    assert all(s.tool_id != "book_hotel" for s in out.plan.steps)
    # a constraint that cannot be met after repair: the run is stored failed, with the violation as error
    out2, _, store2 = _run(tmp_path / "b", PlanConstraints(max_steps=1, must_use=["send_email", "get_weather"]))
    assert out2.violations == [{"constraint": "max_steps", "detail": "2 steps > 1"}]
    run = store2.get_run(out2.run_id)
    assert out2.status == "failed" and run["status"] == "failed" and "violates constraints" in run["error"]


def test_a_backend_error_is_stored_failed_and_re_raised(tmp_path: Path) -> None:
    class Broken(ScriptedBackend):
        def complete(self, *a: Any, **k: Any) -> Any:
            raise ModelError("the inference engine died with SIGSEGV during complete (model x)")

    events: list[Any] = []
    store = RunStore(tmp_path / "runs.db")
    with pytest.raises(ModelError):
        plan_goal(PlanRequest(GOAL, timing="rule"), store, events.append, catalog=CAT,
                  selector=OverlapSelector().fit(CAT), backend=Broken([]))
    failed = events[-1]
    assert isinstance(failed, FailedEvent) and failed.status == "failed" and failed.exit_code == 5
    run = store.get_run(failed.run_id)
    assert run["status"] == "failed" and "SIGSEGV" in run["error"]


def test_cancel_marks_the_run_interrupted(tmp_path: Path) -> None:
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 1  # let the first LLM call through, then cancel

    with pytest.raises(Cancelled):
        _run(tmp_path, is_cancelled=cancelled)
    runs = RunStore(tmp_path / "runs.db").list_runs(kind="plan")
    assert [r["status"] for r in runs] == ["interrupted"]


def test_final_event_carries_problems_and_repairs(tmp_path: Path) -> None:
    bad = {"steps": [{"subgoal": 1, "id": 1, "tool_id": "search_flights", "arguments": {}, "depends_on": [7]}]}
    out, events, _ = _run(tmp_path, answers=[SUBGOALS, bad])
    final = next(e for e in events if isinstance(e, FinalPlanEvent))
    assert final.plan is out.plan and final.repairs  # the dangling dependency was repaired
    assert isinstance(events[-1], DoneEvent)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_cli_and_tui_store_the_same_run_for_the_same_goal(tmp_path: Path) -> None:
    """The real default model (engine child) through `sage-tui plan` and through the plan screen."""
    from textual.widgets import Input
    from typer.testing import CliRunner

    from sage_tui.app import SageApp
    from sage_tui.cli import app as cli
    from sage_tui.config import UIConfig

    goal = "check the weather in Tokyo tomorrow and email my manager that I will work from home"
    db = tmp_path / "runs.db"
    r = CliRunner().invoke(cli, ["plan", goal, "--db", str(db), "--constraints", '{"max_steps": 3}', "--timing",
                                 "rule", "--selector", "keyword", "--json"])
    assert r.exit_code == 0, r.output
    app = SageApp(db=db, config=UIConfig(selector="keyword", timing="rule"), mode="plan")
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        screen.query_one("#goal", Input).value = goal
        screen.query_one("#constraints", Input).value = "max_steps=3"
        await pilot.press("enter")
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
    store = RunStore(db)
    cli_run, tui_run = sorted(store.list_runs(kind="plan"), key=lambda x: x["started"])
    assert cli_run["tags"] == ["cli"] and tui_run["tags"] == ["tui"]
    for key in ("status", "config_hash", "method", "task", "catalog_hash", "error"):
        assert cli_run[key] == tui_run[key], key
    assert cli_run["config"] == tui_run["config"]

    def payload(run_id: str, name: str) -> Any:
        return next(e["payload"] for e in store.events(run_id) if e["message"] == name)

    for name in ("validation", "timing"):
        assert payload(cli_run["id"], name) == payload(tui_run["id"], name), name
    a, b = payload(cli_run["id"], "plan"), payload(tui_run["id"], "plan")
    for k in ("steps", "subgoals", "candidates", "repairs", "warnings"):
        assert a[k] == b[k], k
    names = lambda rid: sorted(m["name"] for m in store.metrics(rid))  # noqa: E731
    assert names(cli_run["id"]) == names(tui_run["id"])


def test_a_goal_answered_directly_gets_no_plan_and_no_llm_call(tmp_path: Path) -> None:
    """With answer_directly, the goal-level timing decision comes first: "answer directly" stores an empty plan that
    says why, without calling the planner's model; must_use, or the default (off), plan anyway."""
    store = RunStore(tmp_path / "runs.db")
    chat = "thanks, that was really helpful"
    events: list[Any] = []
    backend = ScriptedBackend([SUBGOALS, STEPS])
    out = plan_goal(PlanRequest(chat, timing="rule", answer_directly=True), store, events.append, catalog=CAT,
                    selector=OverlapSelector().fit(CAT), backend=backend)
    assert out.status == "completed" and out.plan.steps == [] and out.plan.meta["answered_directly"]
    assert [t["step_id"] for t in out.timing] == [None] and out.timing[0]["should_call_tool"] is False
    assert backend.calls == [] and not any(isinstance(e, StageEvent) and e.stage == "planning" for e in events)
    assert store.get_run(out.run_id)["status"] == "completed"
    assert next(e for e in events if isinstance(e, FinalPlanEvent)).plan.meta["answered_directly"]
    for req in (PlanRequest(chat, timing="rule"),  # the default plans every goal
                PlanRequest(chat, timing="rule", answer_directly=True, constraints=PlanConstraints(must_use=["send_email"]))):
        forced = plan_goal(req, store, None, catalog=CAT, selector=OverlapSelector().fit(CAT),
                           backend=ScriptedBackend([SUBGOALS, STEPS]))
        assert forced.plan.steps and "answered_directly" not in forced.plan.meta
    # a goal that needs a tool is planned, and the goal's decision is not taken twice
    out2, _, _ = _run(tmp_path / "b", answer_directly=True)
    assert out2.plan.steps and [t["step_id"] for t in out2.timing].count(None) == 1


def test_timing_decider_uses_the_selector_it_was_fit_with_not_the_planner_s(tmp_path: Path) -> None:
    """The rule's threshold was fit on the keyword selector's scores; the planner's retrieval (here a test double,
    in the app two_stage with the query map) must not feed it."""
    from core.timing.decider import FIT_SELECTOR

    class Spy(OverlapSelector):
        name = "spy"
        queries: list[str] = []

        def select(self, query: str, top_k: int = 5, candidates=None):
            self.queries.append(query)
            return super().select(query, top_k, candidates)

    store = RunStore(tmp_path / "runs.db")

    def run(timing: str) -> tuple[Any, int]:
        spy = Spy().fit(CAT)
        spy.queries = []
        out = plan_goal(PlanRequest(GOAL, timing=timing), store, None, catalog=CAT, selector=spy,
                        backend=ScriptedBackend([SUBGOALS, STEPS]))
        return out, len(spy.queries)

    without, n_without = run("none")
    out, n_with = run("rule")
    assert len(out.timing) == 3 and not without.timing  # the goal and each step were decided...
    assert n_with == n_without > 0  # ...without one query to the planner's selector
    payload = next(e["payload"] for e in store.events(out.run_id) if e["message"] == "timing")
    assert payload["selector"] == FIT_SELECTOR == "keyword"
