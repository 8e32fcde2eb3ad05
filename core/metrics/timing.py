"""Timing metrics from the confusion matrix (positive = "call a tool"): accuracy, precision, recall, f1, fpr."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def add(self, pred: bool, gold: bool) -> None:
        if pred and gold:
            self.tp += 1
        elif pred:
            self.fp += 1
        elif gold:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn


def confusion(pairs: Iterable[tuple[bool, bool]]) -> Confusion:
    """From (predicted, gold) pairs."""
    c = Confusion()
    for p, g in pairs:
        c.add(bool(p), bool(g))
    return c


def timing_metrics(c: Confusion) -> dict[str, float]:
    """Ratios with an empty denominator are 0.0 (e.g. precision when nothing was predicted positive)."""
    def div(a: int, b: int) -> float:
        return a / b if b else 0.0

    precision, recall = div(c.tp, c.tp + c.fp), div(c.tp, c.tp + c.fn)
    return {
        "accuracy": div(c.tp + c.tn, c.n),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "fpr": div(c.fp, c.fp + c.tn),
    }
