"""Contact lookups (core/planning/contact_lookup.py): an email / phone argument that names a person and no address
in the goal gets a `contact_search` step before its step, whose result it takes; ids, dependencies and references
move with it. Names where the schema wants a name, right-typed values and goals with an address are left alone."""

from __future__ import annotations

import pytest
from planning_support import OverlapSelector, ScriptedBackend, _tool, make_catalog

from core.catalog import load_catalog
from core.planning.constraints import PlanConstraints
from core.planning.contact_lookup import add_contact_lookups, address_kind, named_recipient
from core.planning.registry import make_planner
from core.planning.types import PlanStep


@pytest.fixture(scope="module")
def cat():  # noqa: ANN201
    return load_catalog(None)


def _goal_steps() -> list[PlanStep]:
    return [PlanStep(1, "weather_get_forecast", {"city": "Tokyo", "days": 2}, [], 1, "Check the weather in Tokyo tomorrow"),
            PlanStep(2, "email_send", {"to": "my manager", "subject": "WFH", "body": "rain {{step_1}}"}, [1], 2,
                     "if it rains email my manager that I will work from home"),
            PlanStep(3, "note_create", {"title": "wfh", "content": "{{step_2}}"}, [2], 3, "note it")]


def test_a_name_where_an_address_goes_becomes_a_contact_search_the_step_reads(cat) -> None:  # noqa: ANN001
    steps, repairs = add_contact_lookups(_goal_steps(), cat, "Check the weather in Tokyo tomorrow and if it rains "
                                                             "email my manager that I will work from home")
    assert [(s.id, s.tool_id, s.subgoal_id) for s in steps] == \
        [(1, "weather_get_forecast", 1), (2, "contact_search", 2), (3, "email_send", 2), (4, "note_create", 3)]
    assert steps[1].arguments == {"query": "manager"} and steps[1].depends_on == []
    assert steps[2].arguments["to"] == "{{step_2}}" and steps[2].depends_on == [1, 2]
    assert steps[2].arguments["body"] == "rain {{step_1}}"  # earlier references keep their step
    assert steps[3].arguments["content"] == "{{step_3}}" and steps[3].depends_on == [3]  # later ones move with it
    assert [(r.kind, r.step_id) for r in repairs] == [("lookup", 3)] and "'my manager'" in repairs[0].detail


def test_addresses_names_the_schema_wants_and_references_are_left_alone(cat) -> None:  # noqa: ANN001
    with_address = _goal_steps()
    assert add_contact_lookups(with_address, cat, "email my manager priya@northwind.io that I'm home")[1] == []
    ok = [PlanStep(1, "email_send", {"to": "ana@x.io", "subject": "s", "body": "b"}, [], 1, "email Ana"),
          PlanStep(2, "payment_send", {"recipient": "mum", "amount": 40}, [], 2, "send mum 40 quid"),
          PlanStep(3, "direct_message_send", {"recipient": "Maya Patel", "message": "hi"}, [], 3, "tell Maya on chat"),
          PlanStep(4, "email_forward", {"to": "{{step_1}}"}, [1], 4, "forward it to them")]
    steps, repairs = add_contact_lookups(ok, cat, "email ana@x.io, send mum 40 quid, tell Maya on chat, forward it")
    assert repairs == [] and [s.tool_id for s in steps] == [s.tool_id for s in ok]
    # the schema decides, not the parameter's name: a payment's recipient is a full name, an email's `to` an address
    props = lambda t: cat.get(t).parameters["properties"]  # noqa: E731
    assert address_kind(props("email_send")["to"]) == "email" and address_kind(props("sms_send")["phone_number"]) == "phone"
    assert address_kind(props("payment_send")["recipient"]) is None


def test_an_invented_address_or_name_becomes_a_search_for_the_person_the_clause_names(cat) -> None:  # noqa: ANN001
    """The model's address found nowhere in the goal is made up; a name the goal never says is too: the search is
    for whom the clause sends to. With nobody named there, nothing is searched (no guess on a guess)."""
    made_up = [PlanStep(1, "sms_send", {"phone_number": "Ana", "text": "late"}, [], 1, "text mum that I'm running late"),
               PlanStep(2, "email_send", {"to": "mum.flowers@gmail.com", "subject": "s", "body": "b"}, [], 2,
                        "email my landlord the receipt")]
    steps, repairs = add_contact_lookups(made_up, cat, "text mum that I'm running late and email my landlord the receipt")
    assert [(s.tool_id, s.arguments.get("query")) for s in steps] == \
        [("contact_search", "mum"), ("sms_send", None), ("contact_search", "landlord"), ("email_send", None)]
    assert "is not an address" in repairs[0].detail and "is not in the goal" in repairs[1].detail
    nobody = [PlanStep(1, "email_send", {"to": "x@y.io", "subject": "s", "body": "b"}, [], 1, "email it over")]
    assert add_contact_lookups(nobody, cat, "email it over")[1] == []
    assert named_recipient("tell my landlord the boiler broke") == "landlord"
    assert named_recipient("send it to Priya Nair tonight") == "Priya Nair" and named_recipient("email her the pdf") == ""


def test_one_search_per_person_and_never_past_the_step_limit(cat) -> None:  # noqa: ANN001
    two = [PlanStep(1, "email_send", {"to": "Tom", "subject": "s", "body": "b"}, [], 1, "email Tom"),
           PlanStep(2, "sms_send", {"phone_number": "tom", "text": "check mail"}, [], 2, "text Tom too")]
    steps, repairs = add_contact_lookups(two, cat, "email Tom and text him too")
    assert [s.tool_id for s in steps] == ["contact_search", "email_send", "contact_search", "sms_send"]
    assert len(repairs) == 2
    capped, rep = add_contact_lookups(_goal_steps(), cat, "email my manager", max_steps=3)
    assert [s.tool_id for s in capped] == ["weather_get_forecast", "email_send", "note_create"] and rep == []
    no_tool = make_catalog()
    assert add_contact_lookups(_goal_steps()[1:2], no_tool, "email my manager") == (_goal_steps()[1:2], [])


def test_the_grounded_planner_adds_the_lookup_as_a_candidate_and_respects_must_not_use() -> None:
    cat = make_catalog([_tool("contact_search", "Search the contacts in the address book", {"query": "string"}, ["query"])])
    cat.get("send_email").parameters["properties"]["to"]["description"] = "Recipient email address."
    answer = {"steps": [{"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
                        {"subgoal": 2, "id": 2, "tool_id": "send_email", "arguments": {"to": "my boss"}, "depends_on": [1]}]}
    goal = "get the weather forecast for a city Rome, then send an email message to my boss about it"
    plan = make_planner("grounded", cat, selector=OverlapSelector().fit(cat), backend=ScriptedBackend([answer])).plan(goal)
    assert [(s.tool_id, s.arguments, s.depends_on) for s in plan.steps] == \
        [("get_weather", {"city": "Rome"}, []), ("contact_search", {"query": "boss"}, []),
         ("send_email", {"to": "{{step_2}}"}, [1, 2])]
    assert plan.meta["validation"]["ok"] and "contact_search" in plan.candidates and [r.kind for r in plan.repairs] == ["lookup"]
    banned = make_planner("grounded", cat, selector=OverlapSelector().fit(cat), backend=ScriptedBackend([answer])).plan(
        goal, constraints=PlanConstraints(must_not_use=["contact_search"]))
    assert [s.tool_id for s in banned.steps] == ["get_weather", "send_email"] and banned.steps[1].arguments == {"to": "my boss"}
