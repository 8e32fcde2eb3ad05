import pytest
from planning_support import make_catalog

from core.errors import ConfigError, NotFoundError
from core.planning.constraints import (
    PlanConstraints,
    check_plan_constraints,
    enforce_constraints,
    parse_constraints,
)
from core.planning.types import PlanStep
from core.planning.validators import validate_arguments, validate_plan, validate_tool_availability

CAT = make_catalog()


def test_tool_availability_unknown_and_not_candidate():
    steps = [PlanStep(1, "nope"), PlanStep(2, "get_weather"), PlanStep(3, "book_hotel")]
    issues = validate_tool_availability(steps, CAT, candidates=["get_weather"])
    assert [(i.kind, i.step_id) for i in issues] == [("unknown_tool", 1), ("not_candidate", 3)]


def test_arguments_checked_against_schema_naming_field():
    tool = CAT.get("book_hotel")
    assert validate_arguments(PlanStep(1, "book_hotel", {"city": "Rome", "nights": 2}), tool) == []
    issues = validate_arguments(PlanStep(1, "book_hotel", {"nights": "two"}), tool)
    text = " ".join(i.detail for i in issues)
    assert "nights" in text and "'city' is a required property" in text


def test_validate_plan_marks_invalid_steps():
    steps = [PlanStep(1, "get_weather", {"city": "Oslo"}), PlanStep(2, "send_email", {}, [1]),
             PlanStep(3, "get_weather", {"city": "X"}, [9])]
    rep = validate_plan(steps, CAT)
    assert rep.step_valid == {1: True, 2: False, 3: False}
    assert not rep.is_dag and not rep.ok


def test_parse_constraints_json_and_errors(tmp_path):
    c = parse_constraints('{"max_steps": 3, "must_use": "get_weather", "sequential_only": true}')
    assert c == PlanConstraints(max_steps=3, must_use=["get_weather"], sequential_only=True)
    with pytest.raises(ConfigError, match="unknown constraint 'max_step'"):
        parse_constraints('{"max_step": 3}')
    with pytest.raises(ConfigError, match="positive integer"):
        parse_constraints('{"max_steps": 0}')
    f = tmp_path / "c.toml"
    f.write_text('must_not_use = ["delete_all_files"]\nmax_parallel = 1\n')
    assert parse_constraints(str(f)).must_not_use == ["delete_all_files"]
    with pytest.raises(NotFoundError, match="unknown tool 'ghost'"):
        PlanConstraints(must_use=["ghost"]).check_tools(CAT)


def test_check_constraints_typed_violations():
    steps = [PlanStep(1, "get_weather"), PlanStep(2, "book_hotel"), PlanStep(3, "send_email", {}, [1, 2])]
    c = PlanConstraints(max_steps=2, must_use=["translate_text"], must_not_use=["book_hotel"],
                        sequential_only=True, max_parallel=1)
    kinds = sorted(v.constraint for v in check_plan_constraints(steps, c))
    assert kinds == ["max_parallel", "max_steps", "must_not_use", "must_use", "sequential_only"]


def test_enforce_constraints_then_check_passes():
    steps = [PlanStep(1, "get_weather"), PlanStep(2, "book_hotel"), PlanStep(3, "send_email", {}, [1, 2]),
             PlanStep(4, "translate_text")]
    c = PlanConstraints(max_steps=3, must_not_use=["book_hotel"], sequential_only=True)
    fixed, rep = enforce_constraints(steps, c)
    assert [s.tool_id for s in fixed] == ["get_weather", "send_email", "translate_text"]
    assert check_plan_constraints(fixed, c) == []
    assert any("forbidden" in r.detail for r in rep)


def test_enforce_adds_a_missing_required_tool_and_keeps_it_under_max_steps():
    steps = [PlanStep(1, "get_weather"), PlanStep(2, "book_hotel", {}, [1]), PlanStep(3, "send_email", {}, [2])]
    c = PlanConstraints(max_steps=3, must_use=["translate_text"])
    fixed, rep = enforce_constraints(steps, c)
    # the required step is added, and the cut to 3 removes the last model step, not the required one
    assert [s.tool_id for s in fixed] == ["get_weather", "book_hotel", "translate_text"]
    assert fixed[-1].id == 4 and fixed[-1].depends_on == []
    assert any("added step 4: translate_text is required" in r.detail for r in rep)
    assert any("dropped step 3: over max_steps=3" in r.detail for r in rep)
    assert check_plan_constraints(fixed, c) == []


def test_enforce_cannot_fit_more_required_tools_than_max_steps():
    c = PlanConstraints(max_steps=1, must_use=["translate_text", "send_email"])
    fixed, _ = enforce_constraints([PlanStep(1, "get_weather")], c)
    assert sorted(s.tool_id for s in fixed) == ["send_email", "translate_text"]
    assert [v.constraint for v in check_plan_constraints(fixed, c)] == ["max_steps"]


def test_argument_validators_do_not_leak_between_catalogs_sharing_a_tool_id() -> None:
    """Two catalogs may give one tool id different schemas (an imported benchmark, a test catalog)."""
    from core.catalog import validate_tool_dict
    from core.planning.types import PlanStep
    from core.planning.validators import validate_arguments

    def tool(required: list[str]):
        return validate_tool_dict({"tool_id": "shared_id", "name": "Shared", "category": "c", "description": "d",
                                   "parameters": {"type": "object", "properties": {"a": {"type": "string"}},
                                                  "required": required}, "returns": "object"})

    step = PlanStep(1, "shared_id", {})
    assert len(validate_arguments(step, tool(["a"]))) == 1
    assert validate_arguments(step, tool([])) == []  # not the first catalog's cached validator
