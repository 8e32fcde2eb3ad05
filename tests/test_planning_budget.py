"""Prompt budgets (core/planning/budget.py): long catalogs and big candidate lists never fail on length."""

from __future__ import annotations

from typing import Any

import pytest
from planning_support import OverlapSelector, ScriptedBackend, _tool, make_catalog

from core.catalog import Catalog, validate_tool_dict
from core.errors import ContextLengthError
from core.llm.prompts import steps_all_prompt
from core.planning.base import PlannerConfig
from core.planning.budget import count_prompt, fit_prompt
from core.planning.registry import make_planner

LONG = " ".join(["This tool accepts a very long description with many clauses about what it does"] * 8)


def long_catalog(n: int = 40) -> Catalog:
    extra = [_tool(f"tool_{i:02d}_lookup", f"Lookup number {i}. {LONG}", {f"p{j}": "string" for j in range(12)}, ["p0"])
             for i in range(n)]
    return Catalog([validate_tool_dict(t) for t in extra], source="test")


class Window(ScriptedBackend):
    """A scripted backend with a context window; counts tokens like the character estimate."""

    def __init__(self, answers: Any, n_ctx: int) -> None:
        super().__init__(answers)
        self.n_ctx = n_ctx

    def count_tokens(self, messages: Any) -> int:
        return sum(len(m["content"]) for m in messages) // 3 + 8


def test_descriptions_shrink_first_then_candidates_go_lowest_ranked_first() -> None:
    cat = long_catalog()
    tools = list(cat)
    be = Window([], n_ctx=2600)

    def build(ts: Any, d: int) -> Any:
        return steps_all_prompt("look things up", ts, ["one", "two"], d)
    full = count_prompt(be, build(tools, 90))
    assert full + 320 > be.n_ctx
    msgs, shown, budget, repairs = fit_prompt(be, build, tools, 320)
    assert count_prompt(be, msgs) + budget <= be.n_ctx and budget == 320 and len(shown) == len(tools)
    assert len(repairs) == 1 and "descriptions cut" in repairs[0].detail
    be.n_ctx = 1000  # descriptions alone are not enough: the tail of the ranking goes, required tools stay
    msgs, shown, budget, repairs = fit_prompt(be, build, tools, 320, keep=["tool_39_lookup"])
    assert count_prompt(be, msgs) + budget <= be.n_ctx and budget == 320
    assert shown[0].tool_id == "tool_00_lookup" and any("dropped" in r.detail for r in repairs)
    assert "tool_39_lookup" in [t.tool_id for t in shown] and len(shown) < len(tools)
    kept_order = [t.tool_id for t in shown]
    assert kept_order == sorted(kept_order)  # the ranking order survives; the tail was dropped


def test_a_window_that_fits_changes_nothing() -> None:
    cat = make_catalog()
    be = Window([], n_ctx=8192)

    def build(ts: Any, d: int) -> Any:
        return steps_all_prompt("book a hotel", ts, ["book"], d)
    msgs, shown, budget, repairs = fit_prompt(be, build, list(cat), 160)
    assert repairs == [] and len(shown) == len(cat) and msgs == build(list(cat), 90) and budget == 160


def test_a_hopeless_window_raises_context_length_error() -> None:
    be = Window([], n_ctx=50)
    with pytest.raises(ContextLengthError):
        fit_prompt(be, lambda ts, d: steps_all_prompt("x " * 400, ts, ["a"], d), list(make_catalog()), 160)


@pytest.mark.parametrize("planner", ["hierarchical", "hierarchical_per_subgoal", "flat"])
def test_planners_plan_over_a_long_catalog_in_a_small_window(planner: str) -> None:
    cat = long_catalog()
    sub = {"subgoals": ["look up number 3", "look up number 5"]}
    tagged = {"steps": [{"subgoal": 1, "id": 1, "tool_id": "tool_03_lookup", "arguments": {"p0": "x"}, "depends_on": []}]}
    plain = {"steps": [{"id": 1, "tool_id": "tool_03_lookup", "arguments": {"p0": "x"}, "depends_on": []}]}
    answers = {"hierarchical": [sub, tagged], "hierarchical_per_subgoal": [sub, plain, plain], "flat": [plain]}[planner]
    be = Window(answers, n_ctx=1500)
    p = make_planner(planner, cat, selector=OverlapSelector().fit(cat), backend=be, config=PlannerConfig(top_k=30))
    plan = p.plan("look up number 3 and number 5")
    assert plan.steps and any(r.kind == "budget" for r in plan.repairs)
    for call in be.calls:
        assert count_prompt(be, call["messages"]) + call["max_tokens"] <= be.n_ctx


def test_no_room_at_all_falls_back_to_a_plan_with_a_context_repair() -> None:
    cat = long_catalog()
    be = Window([{"subgoals": ["look up number 3"]}], n_ctx=120)
    p = make_planner("hierarchical", cat, selector=OverlapSelector().fit(cat), backend=be, config=PlannerConfig(top_k=30))
    plan = p.plan("look up number 3")
    kinds = [r.kind for r in plan.repairs]
    assert plan.steps and "context" in kinds and "fallback" in kinds


@pytest.mark.slow
def test_real_model_plans_a_long_candidate_list_in_2048_tokens() -> None:
    """The third-party failure mode: ~30 long-schema candidates at n_ctx=2048 gave no plan; now a plan."""
    from core.llm.llamacpp import LlamaCppBackend

    cat = long_catalog(30)
    be = LlamaCppBackend(n_ctx=2048, slots=1, context_tag="budget-test")
    p = make_planner("hierarchical", cat, selector=OverlapSelector().fit(cat), backend=be, config=PlannerConfig(top_k=30))
    plan = p.plan("look up number 3 and then look up number 5")
    assert plan.steps and any(r.kind == "budget" for r in plan.repairs)
    assert not any(r.kind == "context" for r in plan.repairs)
