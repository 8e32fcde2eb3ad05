"""Ranking metrics for tool selection / retrieval (names are a public contract).

Every function takes a ranked list of tool ids (best first) and the gold tool ids.
Duplicates in the ranking count once (at their first position). When `scores` aligned with
the ranking are given, tools with equal scores are ordered pessimistically (gold last inside a
tie group), so an arbitrary tie-break can never earn credit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

METRIC_NAMES = ("acc@1", "acc@3", "acc@5", "mrr", "recall@5", "precision@5", "ndcg@5", "all_gold@5")


def _dedup(ranked: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ranked))


def pessimistic_order(ranked: Sequence[str], scores: Sequence[float], gold: Sequence[str]) -> list[str]:
    """Reorder each group of equal scores so that non-gold tools come first."""
    if len(scores) != len(ranked):
        raise ValueError("scores must align with the ranking")
    gold_set = set(gold)
    idx = sorted(range(len(ranked)), key=lambda i: (-scores[i], ranked[i] in gold_set, i))
    return [ranked[i] for i in idx]


def _check(k: int, gold: Sequence[str]) -> None:
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if not gold:
        raise ValueError("gold must name at least one tool")


def top_k_accuracy(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """1.0 when any gold tool is among the first k."""
    _check(k, gold)
    return float(bool(set(_dedup(ranked)[:k]) & set(gold)))


def reciprocal_rank(ranked: Sequence[str], gold: Sequence[str]) -> float:
    """1 / rank of the first gold tool (0.0 when none is ranked)."""
    _check(1, gold)
    g = set(gold)
    for i, t in enumerate(_dedup(ranked), start=1):
        if t in g:
            return 1.0 / i
    return 0.0


def recall_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """|top-k ∩ gold| / |gold|."""
    _check(k, gold)
    g = set(gold)
    return len(set(_dedup(ranked)[:k]) & g) / len(g)


def precision_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """|top-k ∩ gold| / k (k, not the number returned)."""
    _check(k, gold)
    return len(set(_dedup(ranked)[:k]) & set(gold)) / k


def ndcg_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Binary-relevance NDCG: sum 1/log2(rank+1) over gold hits in the top k, over the ideal."""
    _check(k, gold)
    g = set(gold)
    dcg = sum(1.0 / math.log2(i + 2) for i, t in enumerate(_dedup(ranked)[:k]) if t in g)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(g), k)))
    return dcg / ideal


def all_gold_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """1.0 when every gold tool is among the first k."""
    _check(k, gold)
    return float(set(gold) <= set(_dedup(ranked)[:k]))


def selection_metrics(ranked: Sequence[str], gold: Sequence[str], scores: Sequence[float] | None = None) -> dict[str, float]:
    """All public selection metrics for one query."""
    order = pessimistic_order(ranked, scores, gold) if scores is not None else list(ranked)
    return {
        "acc@1": top_k_accuracy(order, gold, 1),
        "acc@3": top_k_accuracy(order, gold, 3),
        "acc@5": top_k_accuracy(order, gold, 5),
        "mrr": reciprocal_rank(order, gold),
        "recall@5": recall_at_k(order, gold, 5),
        "precision@5": precision_at_k(order, gold, 5),
        "ndcg@5": ndcg_at_k(order, gold, 5),
        "all_gold@5": all_gold_at_k(order, gold, 5),
    }
