"""Reliability: >= 1,000 generated malformed model outputs through plan repair and validation.

Each output either becomes a valid DAG (no duplicate ids, self/unknown dependencies or cycles;
an executable topological order; only catalog/candidate tools after the planner finalises it)
or is rejected with a typed PlanError carrying a clear message. Nothing else may escape.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from planning_support import OverlapSelector, ScriptedBackend, make_catalog

from core.errors import PlanError
from core.planning.dag import parallel_levels, repair_dependencies, topological_order, validate_dag
from core.planning.flat import FlatPlanner
from core.planning.repair import ARG_KEYS, DEP_KEYS, ID_KEYS, LIST_KEYS, TOOL_KEYS, extract_and_repair_plan
from core.planning.validators import validate_plan

CATALOG = make_catalog()
CANDIDATES = ["search_flights", "book_hotel", "get_weather", "send_email"]
HUGE = [10**30, -(10**30), 2**63, 2**64 + 1, 10**400]

tool_value = st.one_of(
    st.sampled_from([*CANDIDATES, "convert_currency", "delete_all_files", "rm -rf /", "unknown_tool", "", "  "]),
    st.text(max_size=12),
    st.integers(),
    st.none(),
    st.builds(lambda n: {"name": n, "arguments": "{}"}, st.sampled_from(CANDIDATES + ["nope"])),
)
id_value = st.one_of(st.integers(-3, 12), st.sampled_from(HUGE), st.floats(allow_nan=True), st.text(max_size=6),
                     st.sampled_from(["step 3", "#2", "two"]), st.none(), st.booleans())
dep_value = st.one_of(
    st.lists(st.one_of(st.integers(-2, 12), st.sampled_from(HUGE), st.text(max_size=4), st.none(), st.floats()), max_size=5),
    st.integers(0, 12), st.text(max_size=4), st.none(), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
arg_value = st.one_of(
    st.dictionaries(st.sampled_from(["city", "to", "amount", "nights", "x"]), st.one_of(st.integers(), st.text(max_size=8), st.sampled_from(HUGE)), max_size=3),
    st.text(max_size=10), st.lists(st.integers(), max_size=3), st.integers(), st.none(),
)


@st.composite
def raw_step(draw):
    """A step dict with canonical, alias, misspelled or missing keys and values of any type."""
    step = {}
    for keys, values in ((TOOL_KEYS, tool_value), (ID_KEYS, id_value), (DEP_KEYS, dep_value), (ARG_KEYS, arg_value)):
        choice = draw(st.sampled_from(["canonical", "alias", "wrong", "missing"]))
        if choice == "missing":
            continue
        key = {"canonical": keys[0], "alias": draw(st.sampled_from(keys)), "wrong": draw(st.sampled_from(["tool_idd", "Tool", "x", "dep", "ID"]))}[choice]
        step[key] = draw(values)
    if draw(st.booleans()):
        step["description"] = draw(st.text(max_size=20))
    return step


@st.composite
def structured_plan(draw):
    """Steps with deliberate duplicate ids, self-dependencies and cycles, in several wrappers."""
    n = draw(st.integers(0, 7))
    steps = [draw(raw_step()) for _ in range(n)]
    if n >= 2 and draw(st.booleans()):  # a cycle 1 -> 2 -> ... -> 1 over canonical ids
        for i, s in enumerate(steps):
            s["id"], s["tool_id"] = i + 1, draw(st.sampled_from(CANDIDATES))
            s["depends_on"] = [(i + 1) % n + 1]
    if n >= 1 and draw(st.booleans()):
        steps[0]["depends_on"] = [steps[0].get("id", 1)]  # self-dependency
    if n >= 2 and draw(st.booleans()):
        steps[1]["id"] = steps[0].get("id", 1)  # duplicate id
    wrapper = draw(st.sampled_from(["steps", "alias_list", "bare_list", "wrong_key", "single", "nested"]))
    if wrapper == "steps":
        return {"steps": steps}
    if wrapper == "alias_list":
        return {draw(st.sampled_from(LIST_KEYS)): steps}
    if wrapper == "bare_list":
        return steps
    if wrapper == "wrong_key":
        return {"stpes": steps, "goal": "x"}
    if wrapper == "single":
        return steps[0] if steps else {}
    return {"plan": {"steps": steps}}


@st.composite
def model_output(draw):
    """What a small model might emit around and instead of that JSON."""
    kind = draw(st.sampled_from(["json", "json", "json", "truncated", "prose", "fenced", "single_quotes", "trailing_commas", "garbage", "deep"]))
    if kind == "garbage":
        return draw(st.text(max_size=200))
    if kind == "deep":  # a looping model: nesting beyond the JSON parsers' recursion limits
        d = draw(st.one_of(st.integers(1, 400), st.integers(800, 5000)))
        return "[" * d + '{"tool_id": "get_weather"}' + "]" * draw(st.integers(0, d))
    text = json.dumps(draw(structured_plan()), default=str)
    if kind == "truncated":
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    elif kind == "prose":
        text = f"{draw(st.text(max_size=40))} Sure! Here is the plan: {text} Let me know{draw(st.text(max_size=20))}"
    elif kind == "fenced":
        text = f"```json\n{text}\n```" + draw(st.sampled_from(["", "\nDone.", "```"]))
    elif kind == "single_quotes":
        text = text.replace('"', "'")
    elif kind == "trailing_commas":
        text = text.replace("}", ",}").replace("]", ",]")
    return text


def _assert_valid_dag(steps) -> None:
    assert validate_dag(steps) == []
    order = topological_order(steps)
    assert sorted(order) == sorted(s.id for s in steps)
    pos = {sid: i for i, sid in enumerate(order)}
    for s in steps:
        assert all(pos[d] < pos[s.id] for d in s.depends_on)
    assert sum(len(level) for level in parallel_levels(steps)) == len(steps)


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=model_output())
def test_repair_then_validate_never_crashes(text: str) -> None:
    """The repair layer: text -> steps -> repaired DAG, or a PlanError; validators name every tool problem."""
    try:
        steps, _ = extract_and_repair_plan(text)
    except PlanError as exc:
        assert exc.message.strip() and ("model output" in exc.message or "steps" in exc.message)
        event("rejected with PlanError")
        return
    for s in steps:
        assert isinstance(s.id, int) and isinstance(s.tool_id, str) and s.tool_id.strip()
        assert isinstance(s.arguments, dict) and all(isinstance(d, int) for d in s.depends_on)
    fixed, repairs = repair_dependencies(steps)
    event("became a DAG" + (" after dependency repairs" if repairs else ""))
    for kind in sorted({r.kind for r in repairs}):
        event(f"repaired: {kind}")
    assert [s.tool_id for s in fixed] == [s.tool_id for s in steps]  # repairs never drop or reorder steps
    _assert_valid_dag(fixed)
    report = validate_plan(fixed, CATALOG, CANDIDATES)
    assert report.is_dag
    flagged = {i.step_id for i in report.issues if i.kind in ("unknown_tool", "not_candidate")}
    assert flagged == {s.id for s in fixed if s.tool_id not in CANDIDATES}


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=model_output())
def test_planner_turns_any_output_into_a_valid_candidate_dag(text: str) -> None:
    """The whole planner path (FlatPlanner with a scripted model): always a valid DAG over candidate tools."""
    planner = FlatPlanner(CATALOG, OverlapSelector().fit(CATALOG), ScriptedBackend([text]))
    try:
        plan = planner.plan("book a hotel in Paris and email the weather to Ann", candidates=CANDIDATES)
    except PlanError as exc:
        assert exc.message.strip()
        event("planner: rejected with PlanError")
        return
    event("planner: " + ("fallback step" if any(r.kind == "fallback" for r in plan.repairs) else "model steps kept"))
    if any(r.kind == "tool" for r in plan.repairs):
        event("planner: dropped non-candidate tools")
    assert plan.steps, "a plan needs at least one step (the fallback supplies one)"
    assert {s.tool_id for s in plan.steps} <= set(CANDIDATES)
    _assert_valid_dag(plan.steps)
    assert plan.meta["validation"]["is_dag"] and plan.meta["levels"]
    json.dumps(plan.to_dict())  # storable as a run payload
