import pytest
from planning_support import OverlapSelector, ScriptedBackend, make_catalog

from core.errors import NotFoundError, UsageError
from core.planning.base import MAX_GOAL_CHARS, PlannerConfig
from core.planning.constraints import PlanConstraints
from core.planning.dag import validate_dag
from core.planning.flat import FlatPlanner
from core.planning.greedy import GreedyPlanner
from core.planning.hierarchical import HierarchicalPlanner
from core.planning.types import Plan

CAT = make_catalog()
SEL = OverlapSelector().fit(CAT)
GOAL = "Check the weather in Rome, then search flights from Oslo to Rome and email the itinerary to Ana"


def hier(answers, **cfg):
    return HierarchicalPlanner(CAT, SEL, ScriptedBackend(answers), PlannerConfig(**cfg))



def test_hierarchical_per_subgoal_mode_builds_cross_subgoal_dag():
    p = hier(level2="per_subgoal", answers=[
        {"subgoals": ["get the weather in Rome", "find flights Oslo to Rome", "email the plan to Ana"]},
        {"steps": [{"id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []}]},
        # the model reuses id 1: renumbered to 2, its dependency on the earlier step 1 is kept
        {"steps": [{"id": 1, "tool_id": "search_flights", "arguments": {"origin": "Oslo", "destination": "Rome"},
                    "depends_on": []}]},
        {"steps": [{"id": 3, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1, 2]}]},
    ])
    plan = p.plan(GOAL)
    assert [(s.id, s.tool_id, s.depends_on, s.subgoal_id) for s in plan.steps] == [
        (1, "get_weather", [], 1), (2, "search_flights", [], 2), (3, "send_email", [1, 2], 3)]
    assert [g.description for g in plan.subgoals][0] == "get the weather in Rome"
    assert plan.meta["validation"]["ok"] is True
    assert plan.meta["levels"] == [[1, 2], [3]]
    assert plan.meta["llm_calls"] == 4
    # every step call was constrained to the candidate tools
    for call in p.backend.calls[1:]:
        shapes = call["json_schema"]["properties"]["steps"]["items"]["anyOf"]
        assert [x for s in shapes for x in s["properties"]["tool_id"]["enum"]] == plan.candidates
        # arguments may only use the chosen tool's parameters
        for s in shapes:
            tool = p.catalog.get(s["properties"]["tool_id"]["enum"][0])
            assert set(s["properties"]["arguments"]["properties"]) == set(tool.param_names)
    # the fixed system prompt is shared by every step call (prefix caching)
    assert len({c["messages"][0]["content"] for c in p.backend.calls[1:]}) == 1


def test_hierarchical_per_subgoal_mode_repairs_and_falls_back_with_report():
    p = hier(level2="per_subgoal", answers=[
        "not json at all",  # sub-goals unusable -> clause split
        '```json\n{"steps": [{"tool": "get_weather", "deps": [5]}]}\n```',
        '{"steps": [{"id": 1, "tool_id": "rm_rf", "arguments": {}, "depends_on": []}]}',  # not a candidate
        "garbage",
    ])
    plan = p.plan(GOAL)
    kinds = {r.kind for r in plan.repairs}
    assert {"fallback", "json", "alias", "dependency"} <= kinds
    assert validate_dag(plan.steps) == []
    assert all(s.tool_id in plan.candidates for s in plan.steps)
    assert "rm_rf" not in plan.tool_sequence


SUBGOALS = {"subgoals": ["get the weather in Rome", "find flights Oslo to Rome", "email the plan to Ana"]}


def test_hierarchical_batched_level2_is_one_call_with_steps_tagged_by_subgoal():
    progress = []
    p = hier([
        SUBGOALS,
        {"steps": [
            {"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
            {"subgoal": 2, "id": 2, "tool_id": "search_flights", "arguments": {"origin": "Oslo", "destination": "Rome"},
             "depends_on": []},
            {"subgoal": 3, "id": 3, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1, 2]}]},
    ])
    plan = p.plan(GOAL, on_progress=progress.append)
    assert plan.meta["llm_calls"] == 2 and len(p.backend.calls) == 2 and plan.meta["level2"] == "batched"
    assert [(s.id, s.tool_id, s.depends_on, s.subgoal_id) for s in plan.steps] == [
        (1, "get_weather", [], 1), (2, "search_flights", [], 2), (3, "send_email", [1, 2], 3)]
    assert plan.meta["validation"]["ok"] is True and plan.meta["levels"] == [[1, 2], [3]]
    assert not [r for r in plan.repairs if r.kind in ("subgoal", "fallback")]
    # the level-2 prompt lists the numbered sub-goals; the schema restricts the tag and the tool
    call = p.backend.calls[1]
    assert "Sub-goals:\n1. get the weather in Rome\n2. find flights Oslo to Rome\n3. email the plan to Ana" in \
        call["messages"][1]["content"]
    shapes = call["json_schema"]["properties"]["steps"]["items"]["anyOf"]
    assert all(list(s["properties"])[0] == "subgoal" and s["properties"]["subgoal"]["enum"] == [1, 2, 3]
               for s in shapes)
    assert [x for s in shapes for x in s["properties"]["tool_id"]["enum"]] == plan.candidates
    # progress: sub-goals decided (no steps yet), then the step batch; snapshots are partial drafts
    assert [q.meta["stage"] for q in progress] == ["subgoals", "steps"]
    assert all(q.meta["partial"] is True and isinstance(q, Plan) for q in progress)
    assert [g.description for g in progress[0].subgoals] == SUBGOALS["subgoals"] and progress[0].steps == []
    assert [(s.tool_id, s.subgoal_id) for s in progress[1].steps] == [
        ("get_weather", 1), ("search_flights", 2), ("send_email", 3)]
    assert "validation" not in progress[1].meta and "partial" not in plan.meta
    progress[1].steps.clear()  # snapshots are copies
    assert len(plan.steps) == 3


def test_hierarchical_batched_repairs_invalid_subgoal_tags_and_ids():
    # a backend that ignored its schema: tag 7 (no such sub-goal), "x", a missing tag, duplicate ids
    p = hier([
        SUBGOALS,
        '{"steps": [{"subgoal": 7, "id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},'
        ' {"subgoal": "x", "id": 1, "tool_id": "search_flights", "arguments": {}, "depends_on": [1]},'
        ' {"id": 3, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [2]},'
        ' {"subgoal": 3, "id": 4, "tool_id": "delete_all_files", "arguments": {}, "depends_on": []}]}',
    ])
    plan = p.plan(GOAL, candidates=["get_weather", "search_flights", "send_email"])
    tagged = [r for r in plan.repairs if r.kind == "subgoal"]
    assert len(tagged) == 3 and "7" in tagged[0].detail
    assert [(s.id, s.tool_id, s.subgoal_id) for s in plan.steps] == [
        (1, "get_weather", 1), (2, "search_flights", 1), (3, "send_email", 1)]
    assert plan.steps[1].depends_on == [1]
    assert any(r.kind == "duplicate_id" for r in plan.repairs)
    assert any(r.kind == "tool" and "delete_all_files" in r.detail for r in plan.repairs)
    assert plan.meta["subgoals_without_steps"] == [2, 3]
    assert validate_dag(plan.steps) == []


def test_hierarchical_batched_falls_back_per_subgoal_and_respects_max_steps():
    p = hier([SUBGOALS, "garbage"])
    plan = p.plan(GOAL)
    assert any(r.kind == "fallback" for r in plan.repairs)
    assert [s.subgoal_id for s in plan.steps] == [1, 2, 3]
    assert plan.tool_sequence == ["get_weather", "search_flights", "send_email"]
    many = {"steps": [{"subgoal": 1, "id": i, "tool_id": "get_weather", "arguments": {}, "depends_on": []}
                      for i in range(1, 6)]}
    plan = hier([SUBGOALS, many]).plan(GOAL, constraints=PlanConstraints(max_steps=2))
    assert len(plan.steps) == 2 and any(r.kind == "truncate" for r in plan.repairs)


def test_on_progress_for_per_subgoal_flat_and_greedy():
    seen = []
    hier(level2="per_subgoal", answers=[
        {"subgoals": ["get the weather in Rome", "email it to Ana"]},
        {"steps": [{"id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []}]},
        {"steps": [{"id": 2, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1]}]},
    ]).plan(GOAL, on_progress=seen.append)
    assert [(q.meta["stage"], len(q.steps)) for q in seen] == [("subgoals", 0), ("steps", 1), ("steps", 2)]
    seen.clear()
    FlatPlanner(CAT, SEL, ScriptedBackend(["garbage"])).plan(GOAL, on_progress=seen.append)
    assert [q.meta["stage"] for q in seen] == ["steps"]
    seen.clear()
    GreedyPlanner(CAT, SEL).plan(GOAL, on_progress=seen.append)
    assert [(q.meta["stage"], len(q.steps)) for q in seen] == [("subgoals", 0), ("steps", 3)]


def test_level2_mode_is_checked():
    with pytest.raises(UsageError, match="level2"):
        PlannerConfig(level2="fast")


def test_flat_planner_and_truncation_report():
    b = ScriptedBackend(['{"steps": [{"id": 1, "tool_id": "get_weather", "arguments": {"city": "Oslo"}, '
                         '"depends_on": []}, {"id": 2, "tool_id": "send_email", "argu'], finish_reason="length")
    plan = FlatPlanner(CAT, SEL, b).plan("weather in Oslo and email it")
    assert plan.tool_sequence[0] == "get_weather"
    assert any(r.kind == "truncate" for r in plan.repairs)
    assert validate_dag(plan.steps) == []


def test_greedy_planner_needs_no_llm_and_is_deterministic():
    a = GreedyPlanner(CAT, SEL).plan(GOAL)
    b = GreedyPlanner(CAT, SEL).plan(GOAL)
    assert a.to_dict()["steps"] == b.to_dict()["steps"]
    assert a.tool_sequence == ["get_weather", "search_flights", "send_email"]
    assert [s.depends_on for s in a.steps] == [[], [1], [2]]


def test_constraints_shape_candidates_and_plan():
    c = PlanConstraints(must_not_use=["get_weather"], must_use=["translate_text"], max_steps=2)
    plan = GreedyPlanner(CAT, SEL).plan(GOAL, constraints=c)
    assert "get_weather" not in plan.candidates and plan.candidates[0] == "translate_text"
    assert len(plan.steps) <= 2
    with pytest.raises(NotFoundError):
        GreedyPlanner(CAT, SEL).plan(GOAL, constraints=PlanConstraints(must_use=["ghost"]))


def test_candidate_restriction_from_dataset():
    plan = GreedyPlanner(CAT, SEL).plan(GOAL, candidates=["send_email", "book_hotel"])
    assert set(plan.candidates) == {"send_email", "book_hotel"}
    assert set(plan.tool_sequence) <= {"send_email", "book_hotel"}


def test_goal_checks():
    with pytest.raises(UsageError, match="empty"):
        GreedyPlanner(CAT, SEL).plan("   ")
    plan = GreedyPlanner(CAT, SEL).plan("get weather " * 400)
    assert plan.warnings and str(MAX_GOAL_CHARS) in plan.warnings[0]
    assert len(plan.goal) == MAX_GOAL_CHARS


def test_plan_json_round_trip():
    plan = GreedyPlanner(CAT, SEL).plan(GOAL)
    assert Plan.from_dict(plan.to_dict()).to_dict() == plan.to_dict()


def test_per_subgoal_planner_is_registered_for_the_ablation():
    from core.planning.registry import PLANNERS, make_planner

    p = make_planner("hierarchical_per_subgoal", CAT, selector=SEL, backend=ScriptedBackend([
        {"subgoals": ["get the weather in Rome", "email it to Ana"]},
        {"steps": [{"id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []}]},
        {"steps": [{"id": 2, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1]}]}]))
    plan = p.plan(GOAL)
    assert plan.planner == "hierarchical_per_subgoal" and plan.meta["llm_calls"] == 3
    assert plan.meta["level2"] == "per_subgoal" and PlannerConfig().level2 == "batched"
    assert PLANNERS["hierarchical"] is HierarchicalPlanner


def test_positional_step_schemas_when_the_backend_decodes_them():
    """With a backend that decodes `prefixItems` exactly, every step schema numbers the steps (ids and the first
    sub-goal tag are constants, dependencies point backwards); the plans are the ones a plain backend gives."""
    steps = {"steps": [
        {"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
        {"subgoal": 2, "id": 2, "tool_id": "search_flights", "arguments": {"origin": "Oslo", "destination": "Rome"},
         "depends_on": []},
        {"subgoal": 3, "id": 3, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1, 2]}]}
    plans = []
    for positional in (False, True):
        p = hier([SUBGOALS, steps])
        p.backend.supports_prefix_items = positional
        plans.append(p.plan(GOAL))
    assert plans[0].to_dict()["steps"] == plans[1].to_dict()["steps"] and plans[1].meta["validation"]["ok"]
    arr = p.backend.calls[1]["json_schema"]["properties"]["steps"]
    assert arr["items"] is False and len(arr["prefixItems"]) == arr["maxItems"] == 8
    first = [pos["anyOf"][0]["properties"] for pos in arr["prefixItems"]]
    assert [f["id"] for f in first] == [{"const": k} for k in range(1, 9)]
    assert first[0]["subgoal"]["enum"] == [1] and first[1]["subgoal"]["enum"] == [1, 2, 3]
    assert first[0]["depends_on"]["maxItems"] == 0 and first[2]["depends_on"]["items"]["enum"] == [1, 2]
    # per-sub-goal calls continue the numbering after the steps planned so far
    p = hier(level2="per_subgoal", answers=[
        SUBGOALS,
        {"steps": [{"id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []}]},
        {"steps": [{"id": 2, "tool_id": "search_flights", "arguments": {}, "depends_on": []}]},
        {"steps": [{"id": 3, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1, 2]}]}])
    p.backend.supports_prefix_items = True
    plan = p.plan(GOAL)
    assert [c["json_schema"]["properties"]["steps"]["prefixItems"][0]["anyOf"][0]["properties"]["id"]
            for c in p.backend.calls[1:]] == [{"const": 1}, {"const": 2}, {"const": 3}]
    assert [(s.id, s.depends_on) for s in plan.steps] == [(1, []), (2, []), (3, [1, 2])]
    flat = FlatPlanner(CAT, SEL, ScriptedBackend([{"steps": steps["steps"][:1]}]), PlannerConfig())
    flat.backend.supports_prefix_items = True
    assert flat.plan(GOAL).steps and "prefixItems" in flat.backend.calls[0]["json_schema"]["properties"]["steps"]


def test_flat_planner_caps_a_schema_ignoring_backend_at_max_steps():
    """A remote server may ignore the step schema's maxItems: the plan is still cut to max_steps, reported."""
    steps = [{"id": i, "tool_id": "get_weather", "arguments": {"city": "Oslo"}, "depends_on": [i - 1] if i > 1 else []}
             for i in range(1, 8)]
    plan = FlatPlanner(CAT, SEL, ScriptedBackend([{"steps": steps}]), PlannerConfig(max_steps=3)).plan("weather in Oslo")
    assert [s.id for s in plan.steps] == [1, 2, 3]
    assert [r.step_id for r in plan.repairs if r.kind == "truncate"] == [4, 5, 6, 7]
    assert validate_dag(plan.steps) == []


def test_subgoal_top_k_couples_each_subgoal_with_its_retrieved_tools():
    """`subgoal_top_k`: a step tagged with sub-goal k may only use the selector's top tools for sub-goal k."""
    answer = {"steps": [
        {"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
        {"subgoal": 3, "id": 2, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1]}]}
    p = hier([SUBGOALS, answer], subgoal_top_k=1)
    plan = p.plan(GOAL, constraints=PlanConstraints(must_use=["translate_text"]))
    allowed = plan.meta["subgoal_tools"]
    assert allowed["1"][0] == "get_weather" and allowed["3"][0] == "send_email"
    assert all("translate_text" in v for v in allowed.values())  # required tools stay allowed everywhere
    shapes = p.backend.calls[1]["json_schema"]["properties"]["steps"]["items"]["anyOf"]
    by_tool = {s["properties"]["tool_id"]["enum"][0]: s["properties"]["subgoal"]["enum"] for s in shapes}
    assert by_tool["get_weather"] == [1] and by_tool["send_email"] == [3]
    assert by_tool["translate_text"] == [1, 2, 3]
    assert set(by_tool) == {t for v in allowed.values() for t in v}  # tools no sub-goal allows are gone
    # the prompt is the same as without the restriction (the adapter sees what it was trained on)
    q = hier([SUBGOALS, answer])
    q.plan(GOAL, constraints=PlanConstraints(must_use=["translate_text"]))
    assert q.backend.calls[1]["messages"] == p.backend.calls[1]["messages"]
    with pytest.raises(UsageError):
        PlannerConfig(subgoal_top_k=0)


def test_tagged_schema_positional_first_step_only_allows_subgoal_1_tools():
    from core.llm.prompts import tagged_steps_schema

    tools = [CAT.get(t) for t in ("get_weather", "send_email", "search_flights")]
    sch = tagged_steps_schema(tools, 3, 2, first_id=1, allowed={1: ["get_weather"], 2: ["send_email"]})
    first, second = sch["properties"]["steps"]["prefixItems"][:2]
    assert [s["properties"]["tool_id"]["enum"] for s in first["anyOf"]] == [["get_weather"]]
    assert {s["properties"]["tool_id"]["enum"][0]: s["properties"]["subgoal"]["enum"] for s in second["anyOf"]} == {
        "get_weather": [1], "send_email": [2]}
    with pytest.raises(ValueError, match="no tool is allowed"):
        tagged_steps_schema(tools, 2, 1, first_id=1, allowed={1: []})
