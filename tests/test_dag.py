import pytest

from core.errors import PlanError
from core.planning.dag import (
    critical_path,
    parallel_levels,
    repair_dependencies,
    topological_order,
    validate_dag,
)
from core.planning.types import PlanStep


def S(i, deps=(), tool="t"):
    return PlanStep(i, tool, {}, list(deps))


def test_valid_diamond_order_levels_and_critical_path():
    steps = [S(1), S(2, [1]), S(3, [1]), S(4, [2, 3]), S(5)]
    assert validate_dag(steps) == []
    assert topological_order(steps) == [1, 2, 3, 4, 5]
    assert parallel_levels(steps) == [[1, 5], [2, 3], [4]]
    assert critical_path(steps) in ([1, 2, 4], [1, 3, 4])
    assert critical_path(steps, cost={3: 5.0}) == [1, 3, 4]


def test_issues_are_named():
    steps = [S(1, [1]), S(2, [9]), S(2), S(3, [4]), S(4, [3])]
    kinds = sorted(i.kind for i in validate_dag(steps))
    assert kinds == ["cycle", "duplicate_id", "missing_dependency", "self_dependency"]
    cyc = next(i for i in validate_dag(steps) if i.kind == "cycle")
    assert "3" in cyc.detail and "4" in cyc.detail and "->" in cyc.detail


def test_order_raises_plan_error_naming_cycle():
    with pytest.raises(PlanError, match=r"cycle 1 -> 2 -> 1|cycle 2 -> 1 -> 2"):
        topological_order([S(1, [2]), S(2, [1])])


def test_repair_fixes_everything_and_reports_each_change():
    steps = [S(1, [1, 7]), S(2, [1, 1]), S(2, [3]), S(3, [2])]
    fixed, rep = repair_dependencies(steps)
    assert validate_dag(fixed) == []
    assert [s.id for s in fixed] == [1, 2, 4, 3]
    kinds = [r.kind for r in rep]
    assert kinds.count("dependency") == 3  # self, unknown 7, repeated 1
    assert "duplicate_id" in kinds
    # the original input is left untouched
    assert steps[0].depends_on == [1, 7]


def test_repair_breaks_cycle_by_dropping_back_edge():
    fixed, rep = repair_dependencies([S(1, [3]), S(2, [1]), S(3, [2])])
    assert validate_dag(fixed) == []
    assert [r.kind for r in rep] == ["cycle"]
    assert fixed[0].depends_on == []  # step 1 depending on the later step 3 is the back edge
    assert fixed[1].depends_on == [1] and fixed[2].depends_on == [2]
