"""Selection metrics against hand-computed values (single and multi-tool gold, ties, duplicates)."""

from __future__ import annotations

import math

import pytest

from core.metrics.selection import (
    METRIC_NAMES,
    all_gold_at_k,
    ndcg_at_k,
    pessimistic_order,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    selection_metrics,
    top_k_accuracy,
)

RANKED = ["a", "b", "c", "d", "e", "f"]


def test_single_gold_at_rank_three() -> None:
    m = selection_metrics(RANKED, ["c"])
    assert m["acc@1"] == 0.0 and m["acc@3"] == 1.0 and m["acc@5"] == 1.0
    assert m["mrr"] == pytest.approx(1 / 3)
    assert m["recall@5"] == 1.0
    assert m["precision@5"] == pytest.approx(0.2)
    assert m["ndcg@5"] == pytest.approx(1 / math.log2(4))  # ideal DCG is 1
    assert m["all_gold@5"] == 1.0
    assert set(m) == set(METRIC_NAMES)


def test_multi_gold_partial_hit() -> None:
    gold = ["b", "e", "z"]  # z is never ranked
    assert top_k_accuracy(RANKED, gold, 1) == 0.0
    assert reciprocal_rank(RANKED, gold) == pytest.approx(0.5)
    assert recall_at_k(RANKED, gold, 5) == pytest.approx(2 / 3)
    assert precision_at_k(RANKED, gold, 5) == pytest.approx(2 / 5)
    dcg = 1 / math.log2(3) + 1 / math.log2(6)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, gold, 5) == pytest.approx(dcg / idcg)
    assert all_gold_at_k(RANKED, gold, 5) == 0.0
    assert all_gold_at_k(RANKED, ["b", "e"], 5) == 1.0


def test_miss_and_short_ranking() -> None:
    m = selection_metrics(["a", "b"], ["q"])
    assert all(v == 0.0 for v in m.values())
    # precision divides by k even when fewer tools were returned
    assert precision_at_k(["q"], ["q"], 5) == pytest.approx(0.2)


def test_duplicates_count_once() -> None:
    assert recall_at_k(["a", "a", "a", "a", "b"], ["a", "b"], 3) == 1.0  # dedup: top-3 is a, b
    assert precision_at_k(["a", "a", "b"], ["a"], 5) == pytest.approx(0.2)


def test_ties_are_ordered_pessimistically() -> None:
    ranked, scores = ["a", "g", "b"], [1.0, 1.0, 0.5]
    assert pessimistic_order(ranked, scores, ["g"]) == ["a", "g", "b"]
    assert pessimistic_order(["g", "a", "b"], [1.0, 1.0, 0.5], ["g"]) == ["a", "g", "b"]
    m = selection_metrics(["g", "a", "b"], ["g"], scores=[1.0, 1.0, 0.5])
    assert m["acc@1"] == 0.0 and m["mrr"] == pytest.approx(0.5)
    # without a tie the order is kept
    assert selection_metrics(["g", "a"], ["g"], scores=[2.0, 1.0])["acc@1"] == 1.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        recall_at_k(RANKED, [], 5)
    with pytest.raises(ValueError):
        top_k_accuracy(RANKED, ["a"], 0)
    with pytest.raises(ValueError):
        pessimistic_order(["a"], [1.0, 2.0], ["a"])
