"""The grounded planner (core/planning/grounded.py): rule clauses, one retrieved tool per clause, the model
writing arguments for fixed tools; and integer bounds in the decoding regex."""

from __future__ import annotations

import regex
from planning_support import OverlapSelector, ScriptedBackend, make_catalog

from core.llm.json_regex import schema_to_regex
from core.llm.prompts import _param_schema
from core.planning.clauses import intent_clauses
from core.planning.constraints import PlanConstraints
from core.planning.registry import make_planner
from sage_tui.screens.plan import candidate_why

CAT = make_catalog()


def test_intent_clauses_split_sentences_and_fold_fragments() -> None:
    assert intent_clauses("Ugh. Send an email to Ana, then book a hotel in Rome", 4) == \
        ["Ugh Send an email to Ana", "book a hotel in Rome"]
    assert intent_clauses("Is it raining in Oslo? Also convert 20 euros to dollars", 4) == \
        ["Is it raining in Oslo?", "convert 20 euros to dollars"]
    assert len(intent_clauses("a b, then c d, then e f, then g h, then i j", 3)) == 3


def test_integer_bounds_reach_the_decoding_regex() -> None:
    node = _param_schema({"type": "integer", "minimum": 1, "maximum": 14})
    pat = regex.compile(schema_to_regex(node))
    assert pat.fullmatch("14") and pat.fullmatch("1") and not pat.fullmatch("48") and not pat.fullmatch("0")
    wide = regex.compile(schema_to_regex(_param_schema({"type": "integer", "minimum": 0, "maximum": 10000})))
    assert wide.fullmatch("4096")  # a wide range stays a plain integer


def test_tools_come_from_retrieval_and_the_model_writes_arguments() -> None:
    answer = {"steps": [{"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
                        {"subgoal": 2, "id": 2, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1]}]}
    be = ScriptedBackend([answer])
    p = make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=be)
    plan = p.plan("get the weather forecast for a city Rome, then send an email message to Ana about it")
    assert [(s.tool_id, s.arguments, s.depends_on) for s in plan.steps] == \
        [("get_weather", {"city": "Rome"}, []), ("send_email", {"to": "Ana"}, [1])]
    schema = str(be.calls[0]["json_schema"])
    assert "book_hotel" not in schema  # only the retrieved tools are decodable
    assert set(p.picked) == {"get_weather", "send_email"} and "clause" in p.picked["send_email"].explanation


def test_without_a_usable_answer_steps_keep_the_retrieved_tools_and_chain_on_references() -> None:
    p = make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=ScriptedBackend(["not json"]))
    plan = p.plan("get the weather forecast for a city Rome, then send an email message to Ana about it")
    assert [s.tool_id for s in plan.steps] == ["get_weather", "send_email"]
    assert plan.steps[1].depends_on == [1]  # "about it" refers back


def test_a_repeated_best_tool_gives_way_or_is_dropped_and_must_not_use_holds() -> None:
    p = make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=object())  # no LLM at all
    plan = p.plan("get the weather forecast for Rome, then get the weather forecast for Rome again",
                  constraints=PlanConstraints(must_not_use=["send_email"]))
    tools = [s.tool_id for s in plan.steps]
    assert tools.count("get_weather") == 1 and "send_email" not in tools


def test_grounded_decoding_requires_each_fixed_tool_s_required_arguments() -> None:
    from core.llm.prompts import tagged_steps_schema
    from core.planning.grounded import require_arguments

    tools = [CAT.get("search_flights"), CAT.get("send_email")]
    schema = require_arguments(tagged_steps_schema(tools, 2, 2, first_id=1, allowed={1: ["search_flights"],
                                                                                    2: ["send_email"]}), CAT)
    pat = regex.compile(schema_to_regex(schema))
    ok = ('{"steps": [{"subgoal": 1, "id": 1, "tool_id": "search_flights", "arguments": {"origin": "Oslo", '
          '"destination": "Rome", "date": "2025-10-16"}, "depends_on": []}, {"subgoal": 2, "id": 2, "tool_id": '
          '"send_email", "arguments": {"to": "Ana", "body": "done"}, "depends_on": [1]}]}')
    assert pat.fullmatch(ok)
    missing = ok.replace('"to": "Ana", ', "")
    assert not pat.fullmatch(missing)  # send_email requires "to"
    assert not pat.fullmatch(ok.replace('"origin": "Oslo", ', ""))


def _pair_catalog():
    from planning_support import _tool

    return make_catalog([
        _tool("track_product_price", "Watch the price and alert when it drops, for a product in a shop", {"product": "string"}, ["product"]),
        _tool("track_flight_price", "Watch the price and alert when it drops, for flights on a route", {"route": "string"}, ["route"]),
    ])


def test_goal_weight_lets_a_clause_with_an_implicit_object_lean_on_the_goal() -> None:
    from core.planning.base import PlannerConfig

    cat = _pair_catalog()
    goal = "search flights from Oslo to Rome, then watch the price"
    picks = {}
    for w in (0.0, 0.5):
        p = make_planner("grounded", cat, selector=OverlapSelector().fit(cat), backend=object(),
                         config=PlannerConfig(goal_weight=w))
        picks[w] = [s.tool_id for s in p.plan(goal).steps]
    assert picks[0.0] == ["search_flights", "track_product_price"]  # the clause alone: a tie, catalog order
    assert picks[0.5] == ["search_flights", "track_flight_price"]  # the goal is about flights


def test_decoding_writes_exactly_one_step_per_sub_goal_in_order() -> None:
    from core.llm.prompts import tagged_steps_schema
    from core.planning.grounded import one_step_per_subgoal, require_arguments

    ids = ["get_weather", "send_email"]
    tools = [CAT.get(t) for t in ids]
    schema = one_step_per_subgoal(require_arguments(tagged_steps_schema(
        tools, 2, 2, first_id=1, allowed={1: ["get_weather"], 2: ["send_email"]}), CAT), ids)
    pat = regex.compile(schema_to_regex(schema))
    one = '{"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []}'
    two = '{"subgoal": 2, "id": 2, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1]}'
    assert pat.fullmatch(f'{{"steps": [{one}, {two}]}}')
    assert not pat.fullmatch(f'{{"steps": [{one}]}}')  # ending the list early is not decodable
    assert not pat.fullmatch(f'{{"steps": [{one}, {two.replace(chr(34) + "subgoal" + chr(34) + ": 2", chr(34) + "subgoal" + chr(34) + ": 1")}]}}')


def test_dependencies_stay_only_where_data_flows_unless_the_model_is_trusted() -> None:
    from core.planning.base import PlannerConfig

    answer = {"steps": [{"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
                        {"subgoal": 2, "id": 2, "tool_id": "get_stock_price", "arguments": {"ticker": "ACME"},
                         "depends_on": [1]}]}
    goal = "get the weather forecast for a city Rome, then get the latest stock price for ticker ACME"
    deps = {}
    for mode in ("dataflow", "model"):
        p = make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=ScriptedBackend([answer]),
                         config=PlannerConfig(deps=mode))
        deps[mode] = [s.depends_on for s in p.plan(goal).steps]
    assert deps == {"dataflow": [[], []], "model": [[], [1]]}  # nothing refers back: two independent lookups


def test_the_model_can_choose_among_a_clause_s_top_tools_or_none() -> None:
    from core.planning.base import PlannerConfig

    cat = _pair_catalog()
    be = ScriptedBackend([{"picks": ["none", "track_flight_price"]}, "not json"])
    p = make_planner("grounded", cat, selector=OverlapSelector().fit(cat), backend=be,
                     config=PlannerConfig(goal_weight=0.0, choose_k=3))
    plan = p.plan("search flights from Oslo to Rome, then watch the price")
    assert [s.tool_id for s in plan.steps] == ["track_flight_price"]  # clause 1 dropped by "none"
    prompt = be.calls[0]["messages"][-1]["content"]
    assert "Request 1: search flights from Oslo to Rome" in prompt and "track_product_price" in prompt
    bad = make_planner("grounded", cat, selector=OverlapSelector().fit(cat), backend=ScriptedBackend(["nope", "nope"]),
                       config=PlannerConfig(goal_weight=0.0, choose_k=3))
    plan = bad.plan("search flights from Oslo to Rome, then watch the price")
    assert [s.tool_id for s in plan.steps] == ["search_flights", "track_product_price"]  # retrieval rank decides
    assert any(r.kind == "fallback" and "tool choice" in r.detail for r in plan.repairs)


def test_today_reaches_the_arguments_prompt_and_argument_values_are_scored_given_the_tool() -> None:
    from core.metrics.planning import argument_accuracy
    from core.planning.base import PlannerConfig
    from core.planning.types import PlanStep

    be = ScriptedBackend(["not json"])
    make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=be,
                 config=PlannerConfig(today="Wednesday 2025-10-15")).plan("get the weather forecast for a city Rome")
    assert "Today: Wednesday 2025-10-15\nGoal:" in be.calls[0]["messages"][-1]["content"]
    gold = [PlanStep(1, "get_weather", {"city": "Rome"}, []), PlanStep(2, "send_email", {"to": "ana@x.io", "body": "hi"}, [1])]
    pred = [PlanStep(1, "get_weather", {"city": " rome "}, []), PlanStep(2, "send_email", {"to": "Ana"}, [1])]
    assert argument_accuracy(pred, gold) == (1, 3)  # city matches; "to" differs, "body" is missing
    assert argument_accuracy(pred[:1], gold) == (1, 1)  # the missing tool's values are not counted here


def test_action_query_drops_conditions_and_spells_out_a_channel_verb() -> None:
    from core.planning.clauses import action_query

    assert action_query("email ana@example.com if it will rain") == "send an email to ana@example.com"
    assert action_query("if it rains email my manager that I will work from home") == \
        "send an email to my manager that I will work from home"
    assert action_query("If so, book it") == "book it"
    assert action_query("DM it to her") == "send it as a direct message to her"
    assert action_query("Text Tom that I'm late") == "send a text message to Tom that I'm late"
    assert action_query("ping me if it ever falls below 200") == "ping me if it ever falls below 200"  # an alert
    assert action_query("check the weather in Lisbon tomorrow") == "check the weather in Lisbon tomorrow"
    assert action_query("check if the product is available") == "check if the product is available"  # a question
    assert action_query("Email - jo@x.com") == "Email - jo@x.com"


def test_typed_mentions_name_their_type_for_retrieval() -> None:
    from core.planning.clauses import action_query, typed_mentions

    assert action_query("Is BA117 on time today?") == "Is flight BA117 on time today?"
    assert action_query("post a rundown in #frontend") == "post a rundown in the #frontend channel"
    assert typed_mentions("in the #frontend") == "in the #frontend channel"
    assert typed_mentions("the #frontend channel") == "the #frontend channel"  # already typed: unchanged
    assert typed_mentions("Ring the dentist on +44 20 7946 0321") == "Ring the dentist on phone number +44 20 7946 0321"
    assert typed_mentions("call 555-123-4567 now") == "call phone number 555-123-4567 now"
    assert typed_mentions("flight BA117, phone number +1234567890") == "flight BA117, phone number +1234567890"
    # forms that are not these types stay as written: a hex colour, ids, a pull request, paper and road names
    for text in ("paint it #FF0000", "warehouse WH001 and ID 61", "review PR 42", "print on A4 via the M25", "C# and Q3"):
        assert typed_mentions(text) == text


def test_the_goal_prior_reads_typed_mentions_too() -> None:
    """The whole goal, retrieved for the goal-level prior, gets the same type words as its clauses."""
    from core.planning.base import PlannerConfig

    class Recording(OverlapSelector):
        def select(self, query, **kw):  # noqa: ANN001, ANN003, ANN201
            seen.append(query)
            return super().select(query, **kw)

    seen: list[str] = []
    p = make_planner("grounded", CAT, selector=Recording().fit(CAT), backend=object(), config=PlannerConfig(goal_weight=0.5))
    p.plan("Is BA117 on time? Then email ana@x.io the answer")
    assert "Is flight BA117 on time? Then email ana@x.io the answer" in seen


def test_a_conditional_clause_is_retrieved_on_its_action_not_its_condition() -> None:
    from core.planning.base import PlannerConfig

    goal = "get the weather forecast for Rome, then email Ana if the weather forecast says rain"
    tools = {}
    for q in ("raw", "action"):
        p = make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=object(),
                         config=PlannerConfig(goal_weight=0.0, clause_query=q))
        plan = p.plan(goal)
        tools[q] = [s.tool_id for s in plan.steps]
    assert plan.subgoals[-1].description == "email Ana if the weather forecast says rain"  # shown as written
    assert tools == {"raw": ["get_weather"], "action": ["get_weather", "send_email"]}


def test_a_clause_rewrite_can_lift_the_tool_the_clause_s_words_miss() -> None:
    """`clause_rewrite`: one model call per clause; a tool scores the better of the clause's and the rewrite's
    score, so a rewrite that names the action finds the tool, and an empty rewrite changes nothing."""
    from core.planning.base import PlannerConfig

    goal = "Oslo is an oven today"  # shares no word with get_weather
    answers = [{"command": "get the current weather forecast for a city"}, "not json", "not json"]
    be = ScriptedBackend([*answers])
    p = make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=be,
                     config=PlannerConfig(goal_weight=0.0, clause_rewrite=True))
    plan = p.plan(goal)
    assert [s.tool_id for s in plan.steps] == ["get_weather"]
    assert plan.meta["clause_rewrites"] == {goal: "get the current weather forecast for a city"}
    assert plan.meta["subgoal_rewrites"] == {"1": "get the current weather forecast for a city"}
    pick = p.picked["get_weather"]
    assert (pick.clause, pick.rewrite) == (goal, "get the current weather forecast for a city")
    assert pick.to_dict()["rewrite"] == pick.rewrite  # stored with the plan's candidates
    assert pick.explanation.startswith(f"best for the clause {goal!r}; via the rewrite")
    why = candidate_why(p.picked["get_weather"])  # the TUI's candidates table shows the clause and the rewrite
    assert why == f"rewrite 'get the current weather forecast for a city' · clause {goal!r}"
    assert "marked part" in be.calls[0]["messages"][0]["content"]  # the goal is shown by default
    off = make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=ScriptedBackend(["not json"] * 4),
                       config=PlannerConfig(goal_weight=0.0))
    assert [s.tool_id for s in off.plan(goal).steps] != ["get_weather"]
    empty = make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT),
                         backend=ScriptedBackend([{"command": ""}, "not json", "not json"]),
                         config=PlannerConfig(goal_weight=0.0, clause_rewrite=True))
    assert [s.tool_id for s in empty.plan(goal).steps] == [s.tool_id for s in off.plan(goal).steps]


def test_a_rewrite_that_copies_another_clause_never_costs_the_clause_its_own_tool() -> None:
    """A rewrite of "put it in an email to Ana" that repeats the first clause's action ranks the weather tool
    first; that tool is taken, so the clause keeps the best tool of its own words (send_email), not nothing."""
    from core.planning.base import PlannerConfig

    goal = "get the weather forecast for Rome, then put it in an email to Ana"
    answers = [{"command": ""}, {"command": "get the weather forecast for Rome"}, "not json", "not json"]
    p = make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=ScriptedBackend(answers),
                     config=PlannerConfig(goal_weight=0.0, clause_rewrite=True))
    assert [s.tool_id for s in p.plan(goal).steps] == ["get_weather", "send_email"]


def test_rewrite_context_shows_the_whole_goal_with_the_clause_marked() -> None:
    from core.planning.base import PlannerConfig

    goal = "It's freezing in Oslo, check the weather there"
    be = ScriptedBackend([{"command": "get the weather forecast for Oslo"}] * 2 + ["not json"] * 2)
    p = make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=be,
                     config=PlannerConfig(goal_weight=0.0, clause_rewrite=True))
    plan = p.plan(goal)
    first = be.calls[0]["messages"]
    assert "marked part" in first[0]["content"]
    assert first[-1]["content"] == f"Message: {goal}\nPart: {plan.subgoals[0].description}"
    assert all(m["content"].startswith("Message: ") for m in first if m["role"] == "user")
    alone = ScriptedBackend([{"command": ""}] * 2 + ["not json"] * 2)
    make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=alone,
                 config=PlannerConfig(goal_weight=0.0, clause_rewrite=True, rewrite_context=False)).plan(goal)
    assert alone.calls[0]["messages"][-1]["content"] == plan.subgoals[0].description
    assert "Rewrite the user's request" in alone.calls[0]["messages"][0]["content"]


def test_a_title_or_abbreviation_does_not_end_a_clause() -> None:
    from core.planning.base import split_clauses

    assert intent_clauses("Make a playlist called Road Trip and stick Mr. Brightside on it", 4) == \
        ["Make a playlist called Road Trip", "stick Mr. Brightside on it"]
    assert split_clauses("Ask Dr. Hale for a slot. Then email St. Ives council", 4) == \
        ["Ask Dr. Hale for a slot", "Then email St. Ives council"]
    assert split_clauses("Book it. Then pay", 4) == ["Book it", "Then pay"]  # a real full stop still splits


def _booking_catalog():
    from planning_support import _tool

    return make_catalog([
        _tool("hotel_search", "Search hotels in a city for given dates", {"city": "string"}, ["city"]),
        _tool("hotel_book", "Book a hotel room in a city for a guest name", {"city": "string", "guest": "string"},
              ["city", "guest"]),
    ])


def test_a_booking_is_preceded_by_the_search_it_picks_from() -> None:
    from core.planning.base import PlannerConfig

    cat = _booking_catalog()
    goal = "book a hotel room in Lisbon for guest Ana Costa"
    on = make_planner("grounded", cat, selector=OverlapSelector().fit(cat), backend=object()).plan(goal)
    assert [(s.tool_id, s.depends_on) for s in on.steps] == [("hotel_search", []), ("hotel_book", [1])]
    assert on.subgoals[0].description.startswith("find options to book")
    p = make_planner("grounded", cat, selector=OverlapSelector().fit(cat), backend=object())
    p.plan(goal)
    why = p.picked["hotel_search"]  # the candidates table shows the search's own score and stages for the clause
    assert why.stages and why.score > 0 and "booking picks from (hotel_book)" in why.explanation
    off = make_planner("grounded", cat, selector=OverlapSelector().fit(cat), backend=object(),
                       config=PlannerConfig(search_before_book=False)).plan(goal)
    assert [s.tool_id for s in off.steps] == ["hotel_book"]
    # a clause that already searched: no second search, and no search where must_not_use forbids it
    both = make_planner("grounded", cat, selector=OverlapSelector().fit(cat), backend=object()).plan(
        "search hotels in a city Lisbon, then book a hotel room for guest Ana Costa")
    assert [s.tool_id for s in both.steps] == ["hotel_search", "hotel_book"]
    banned = make_planner("grounded", cat, selector=OverlapSelector().fit(cat), backend=object()).plan(
        goal, constraints=PlanConstraints(must_not_use=["hotel_search"]))
    assert [s.tool_id for s in banned.steps] == ["hotel_book"]


def test_the_score_floor_is_the_selector_s_own_and_keeps_a_lone_clause() -> None:
    from core.planning.base import PlannerConfig
    from core.planning.grounded import SCORE_FLOOR

    class Scaled(OverlapSelector):  # the overlap counts on a "two_stage"-like scale
        name = "two_stage"

    goal = "get the weather forecast for a city Rome, then Ana"  # the second clause matches one word at most
    kept = make_planner("grounded", CAT, selector=OverlapSelector().fit(CAT), backend=object(),
                        config=PlannerConfig(goal_weight=0.0)).plan(goal)
    assert len(kept.steps) == 2  # the overlap selector has no floor
    floored = make_planner("grounded", CAT, selector=Scaled().fit(CAT), backend=object(),
                           config=PlannerConfig(goal_weight=0.0)).plan(goal)
    assert SCORE_FLOOR["two_stage"] > 1 and [s.tool_id for s in floored.steps] == ["get_weather"]
    lone = make_planner("grounded", CAT, selector=Scaled().fit(CAT), backend=object(),
                        config=PlannerConfig(goal_weight=0.0)).plan("Ana")
    assert len(lone.steps) == 1  # nothing else would keep a step: the weak match stays
    off = make_planner("grounded", CAT, selector=Scaled().fit(CAT), backend=object(),
                       config=PlannerConfig(goal_weight=0.0, min_score=0.0)).plan(goal)
    assert len(off.steps) == 2
