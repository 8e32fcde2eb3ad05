import pytest
from planning_support import make_catalog

from core.metrics.planning import (
    EXTRA_METRIC_NAMES,
    METRIC_NAMES,
    dependency_correctness,
    edge_prf,
    exact_match,
    node_f1,
    plan_metrics,
)
from core.planning.types import PlanStep

GOLD = [PlanStep(1, "get_weather", {"city": "Oslo"}), PlanStep(2, "search_flights", {"origin": "A", "destination": "B"}),
        PlanStep(3, "send_email", {"to": "x"}, [1, 2])]


def test_perfect_prediction():
    m = plan_metrics(GOLD, GOLD, make_catalog())
    assert m == {"step_validity": 1.0, "dependency_correctness": 1.0, "executability": 1.0,
                 "structural_executability": 1.0, "node_f1": 1.0, "edge_precision": 1.0, "edge_recall": 1.0,
                 "edge_f1": 1.0, "exact_match": 1.0}
    assert set(m) == set(METRIC_NAMES) | set(EXTRA_METRIC_NAMES) and not set(METRIC_NAMES) & set(EXTRA_METRIC_NAMES)


def test_metric_names_are_the_one_list_the_evaluators_use():
    from core.evaluation import planning as ev
    from sage_tui.commands.eval import MAIN_METRICS
    from training import evaluate

    assert evaluate.PLAN_METRICS is METRIC_NAMES and ev.METRIC_NAMES is METRIC_NAMES
    assert MAIN_METRICS["task_planning"][:-1] == list(METRIC_NAMES)


def test_hand_computed_partial_prediction():
    # predicted: weather, email (depends on weather only), translate (extra); flights missing
    pred = [PlanStep(1, "get_weather", {"city": "Oslo"}), PlanStep(2, "send_email", {}, [1]),
            PlanStep(3, "translate_text", {"text": "hi"}, [2])]
    # nodes: pred {w,e,t}, gold {w,f,e}: tp=2 -> P=R=2/3 -> F1=2/3
    assert node_f1(pred, GOLD) == pytest.approx(2 / 3)
    # edges: pred {w->e, e->t}, gold {w->e, f->e}: tp=1 -> P=1/2, R=1/2
    assert edge_prf(pred, GOLD) == pytest.approx((0.5, 0.5, 0.5))
    # dependency sets: gold w:{} ok, f: unmatched, e:{w,f} vs {w} wrong -> 1/3
    assert dependency_correctness(pred, GOLD) == pytest.approx(1 / 3)
    assert exact_match(pred, GOLD) == 0.0
    m = plan_metrics(pred, GOLD, make_catalog())
    # send_email misses required "to": 2 of 3 steps valid; DAG fine but not executable
    assert m["step_validity"] == pytest.approx(2 / 3)
    assert m["structural_executability"] == 1.0 and m["executability"] == 0.0


def test_repeated_tools_match_by_occurrence():
    gold = [PlanStep(1, "get_weather"), PlanStep(2, "get_weather", {}, [1])]
    pred = [PlanStep(5, "get_weather"), PlanStep(6, "get_weather", {}, [5])]
    assert edge_prf(pred, gold)[2] == 1.0 and exact_match(pred, gold) == 1.0


def test_empty_and_cyclic_predictions():
    assert plan_metrics([], GOLD, make_catalog())["executability"] == 0.0
    cyc = [PlanStep(1, "get_weather", {"city": "a"}, [2]), PlanStep(2, "get_weather", {"city": "b"}, [1])]
    m = plan_metrics(cyc, GOLD, make_catalog())
    assert m["structural_executability"] == 0.0 and m["step_validity"] < 1.0
