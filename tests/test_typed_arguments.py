"""Typed arguments (core/planning/typed_arguments.py): a phone / email / flight-number value that is not of its
type takes the one mention of that type in the step's clause or the goal; right-typed values and ambiguous texts
are left alone."""

from __future__ import annotations

import pytest

from core.catalog import load_catalog
from core.planning.typed_arguments import fix_typed_arguments, param_kind
from core.planning.types import PlanStep


@pytest.fixture(scope="module")
def cat():  # noqa: ANN201
    return load_catalog(None)


def test_a_value_of_the_wrong_type_takes_the_clause_s_mention(cat) -> None:  # noqa: ANN001
    goal = "Is BA117 on time today? If it's late, text my wife on +44 7700 900123"
    steps = [PlanStep(1, "flight_get_status", {"flight_number": "today"}, [], 1, "Is BA117 on time today?"),
             PlanStep(2, "sms_send", {"phone_number": "wife", "text": "late"}, [1], 2, "If it's late, text my wife on +44 7700 900123")]
    repairs = fix_typed_arguments(steps, cat, goal)
    assert steps[0].arguments["flight_number"] == "BA117"
    assert steps[1].arguments == {"phone_number": "+44 7700 900123", "text": "late"}  # the text is not typed
    assert [r.kind for r in repairs] == ["argument", "argument"] and repairs[1].step_id == 2 and "'wife'" in repairs[1].detail


def test_the_goal_is_read_when_the_clause_names_none(cat) -> None:  # noqa: ANN001
    steps = [PlanStep(1, "email_send", {"to": "my manager", "subject": "WFH", "body": "x"}, [], 1, "email my manager")]
    fix_typed_arguments(steps, cat, "If it rains in Leeds, email my manager priya@northwind.io that I'll work from home")
    assert steps[0].arguments["to"] == "priya@northwind.io"


def test_values_the_goal_gives_and_ambiguous_texts_are_left_alone(cat) -> None:  # noqa: ANN001
    goal = "text +44 7700 900123 that I'm late, and is LH 432 late too?"
    ok = [PlanStep(1, "sms_send", {"phone_number": "+447700900123", "text": "hi"}, [], 1, "text +44 7700 900123"),
          PlanStep(2, "flight_get_status", {"flight_number": "LH 432"}, [], 2, "is LH 432 late too?")]
    assert fix_typed_arguments(ok, cat, goal) == [] and ok[0].arguments["phone_number"] == "+447700900123"
    two = [PlanStep(1, "email_send", {"to": "Ana", "subject": "s", "body": "b"}, [], 1, "email Ana")]
    assert fix_typed_arguments(two, cat, "email ana@x.io or ana@y.io") == [] and two[0].arguments["to"] == "Ana"
    assert param_kind("cc", {"type": "array"}) is None and param_kind("text", {"type": "string"}) is None


def test_a_right_typed_value_the_goal_never_gave_takes_the_goal_s_one(cat) -> None:  # noqa: ANN001
    """An invented address or number (the right form, found nowhere in the goal) is as wrong as a name."""
    goal = "For the Q3 review chart revenue by month and share the dashboard with elke@brightwater.io"
    steps = [PlanStep(1, "dashboard_share", {"dashboard_id": "q3", "email": "every@brightwater.io"}, [], 1,
                      "share the dashboard with elke@brightwater.io")]
    repairs = fix_typed_arguments(steps, cat, goal)
    assert steps[0].arguments["email"] == "elke@brightwater.io" and "not in the goal" in repairs[0].detail
    intl = [PlanStep(1, "sms_send", {"phone_number": "+447700900123", "text": "hi"}, [], 1, "text +44 (0)7700 900123")]
    assert fix_typed_arguments(intl, cat, "text +44 (0)7700 900123 hi") == []  # the same number, in international form
    flight = [PlanStep(1, "flight_get_status", {"flight_number": "LH 432"}, [], 1, "is BA117 late")]
    fix_typed_arguments(flight, cat, "is BA117 late")
    assert flight[0].arguments["flight_number"] == "BA117"
