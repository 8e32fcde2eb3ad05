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


def test_right_typed_values_and_ambiguous_texts_are_left_alone(cat) -> None:  # noqa: ANN001
    ok = [PlanStep(1, "sms_send", {"phone_number": "+1 202 555 0143", "text": "hi"}, [], 1, "text +44 7700 900123"),
          PlanStep(2, "flight_get_status", {"flight_number": "LH 432"}, [], 2, "is BA117 late")]
    assert fix_typed_arguments(ok, cat, "") == [] and ok[0].arguments["phone_number"] == "+1 202 555 0143"
    two = [PlanStep(1, "email_send", {"to": "Ana", "subject": "s", "body": "b"}, [], 1, "email Ana")]
    assert fix_typed_arguments(two, cat, "email ana@x.io or ana@y.io") == [] and two[0].arguments["to"] == "Ana"
    assert param_kind("cc", {"type": "array"}) is None and param_kind("text", {"type": "string"}) is None
