"""Retrieval per sub-goal (PlannerConfig.subgoal_retrieval): every intent gets its own candidates, a sub-goal's
steps may only use its own tools, and duplicate sub-goals are dropped."""

from __future__ import annotations

from planning_support import OverlapSelector, ScriptedBackend, make_catalog

from core.planning.base import PlannerConfig
from core.planning.constraints import PlanConstraints
from core.planning.hierarchical import dedupe_subgoals
from core.planning.registry import make_planner

CAT = make_catalog()


def test_dedupe_keeps_distinct_actions_and_drops_restatements() -> None:
    assert dedupe_subgoals(["check weather forecast", "get the weather forecast", "email my manager"]) == \
        ["check weather forecast", "email my manager"]
    assert dedupe_subgoals(["book a hotel in Rome", "book a hotel in Paris"]) == ["book a hotel in Rome",
                                                                                 "book a hotel in Paris"]


def _plan(config: PlannerConfig, answers: list, constraints: PlanConstraints | None = None):
    be = ScriptedBackend(answers)
    p = make_planner("hierarchical", CAT, selector=OverlapSelector().fit(CAT), backend=be, config=config)
    return p.plan("get the weather forecast for Rome and tell Ana", constraints=constraints), be


def test_a_second_intent_missing_from_the_goal_candidates_is_retrieved_for_its_sub_goal() -> None:
    sub = {"subgoals": ["get the weather forecast for Rome", "send an email message to Ana"]}
    steps = {"steps": [{"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
                       {"subgoal": 2, "id": 2, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1]}]}
    off, _ = _plan(PlannerConfig(top_k=1), [sub, steps])
    assert "send_email" not in off.candidates and [s.tool_id for s in off.steps] == ["get_weather"]
    on, be = _plan(PlannerConfig(top_k=1, subgoal_retrieval=2), [sub, steps])
    assert "send_email" in on.candidates and [s.tool_id for s in on.steps] == ["get_weather", "send_email"]
    assert on.meta["subgoal_tools"]["2"][0] == "send_email"
    # the decoding schema lets sub-goal 2 use only its own tools: the email tool, not the weather one
    schema = be.calls[-1]["json_schema"]
    assert "send_email" in str(schema) and "subgoal" in str(schema)


def test_constraints_still_hold_with_retrieval_per_sub_goal() -> None:
    sub = {"subgoals": ["get the weather forecast for Rome", "send an email message to Ana"]}
    steps = {"steps": [{"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []}]}
    plan, _ = _plan(PlannerConfig(top_k=2, subgoal_retrieval=2), [sub, steps],
                    PlanConstraints(must_not_use=["send_email"], must_use=["translate_text"]))
    assert "send_email" not in plan.candidates and plan.candidates[0] == "translate_text"
    assert "translate_text" in [s.tool_id for s in plan.steps]
