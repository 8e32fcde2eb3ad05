import pytest

from core.evaluation.runner import SampleResult
from core.evaluation.timing import TimingEvaluator
from core.metrics.timing import Confusion, confusion, timing_metrics


def test_hand_computed_confusion():
    pairs = [(True, True)] * 3 + [(True, False)] + [(False, False)] * 4 + [(False, True)] * 2
    c = confusion(pairs)
    assert (c.tp, c.fp, c.tn, c.fn) == (3, 1, 4, 2)
    m = timing_metrics(c)
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["precision"] == pytest.approx(0.75)
    assert m["recall"] == pytest.approx(0.6)
    assert m["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert m["fpr"] == pytest.approx(0.2)


def test_empty_denominators_are_zero():
    m = timing_metrics(Confusion(tn=5))
    assert m == {"accuracy": 1.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "fpr": 0.0}


def test_evaluator_aggregates_from_pooled_confusion_not_means():
    ev = TimingEvaluator.__new__(TimingEvaluator)
    rs = [SampleResult(str(i), p == g, {"correct": float(p == g)}, {"pred": p, "gold": g})
          for i, (p, g) in enumerate([(True, True), (False, True), (False, False), (True, False), (True, True)])]
    m = ev.aggregate(rs)
    # tp=2 fp=1 tn=1 fn=1 -> precision 2/3 (a mean of per-sample precisions would differ)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["fpr"] == pytest.approx(0.5) and m["accuracy"] == pytest.approx(0.6)
