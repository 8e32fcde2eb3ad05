"""The hybrid decider's in-band combiner: a three-weight logistic model of the rule's and the LLM's evidence.

Inside the hybrid's uncertainty band the decision is `z = rule * (logit P_rule - logit threshold) + margin * m +
bias >= 0`, where `m` is the LLM's raw true-vs-false log-likelihood margin (core/timing/llm_vote.py). The older
log-odds sum (`logit P_rule - logit t + w * logit sigmoid(a*m + b)`) is the special case `rule = 1, margin = w*a,
bias = w*b`; fitting the three weights jointly on the in-band rows lets the tuner learn how far to trust each
signal exactly where the hybrid asks the LLM.

`fit_combiner` is a weighted, L2-regularised logistic regression (Newton steps, numpy): every data set (group)
gets the same total weight and, inside it, both classes do, so a large tuning set (MetaTool's 1,040 rows) does
not drown a small one (our 200 validation rows).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from core.errors import DataError

FIELDS = ("rule", "margin", "bias")


@dataclass(frozen=True)
class Combiner:
    """z = rule * rule_logodds + margin * llm_margin + bias; call a tool when z >= 0."""

    rule: float
    margin: float
    bias: float

    def z(self, rule_logodds: float, llm_margin: float) -> float:
        return self.rule * rule_logodds + self.margin * llm_margin + self.bias

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 6) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: Any, *, where: str = "combiner") -> Combiner:
        """Parse a stored combiner; a missing or non-numeric weight is a DataError naming the field."""
        if not isinstance(raw, Mapping):
            raise DataError(f"{where} must be an object with {', '.join(FIELDS)}", field=where)
        vals = {}
        for k in FIELDS:
            v = raw.get(k)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise DataError(f"{where}.{k} must be a finite number, got {v!r}", field=f"{where}.{k}")
            vals[k] = float(v)
        return cls(**vals)


def group_weights(labels: Sequence[bool], groups: Sequence[str] | None = None) -> list[float]:
    """Per-row weights: each group the same total weight, both classes equal inside a group; mean weight 1."""
    groups = list(groups) if groups is not None else [""] * len(labels)
    if len(groups) != len(labels):
        raise ValueError("labels and groups differ in length")
    counts: dict[tuple[str, bool], int] = {}
    for g, y in zip(groups, labels, strict=True):
        counts[(g, bool(y))] = counts.get((g, bool(y)), 0) + 1
    n_groups = len({g for g, _ in counts})
    out = []
    for g, y in zip(groups, labels, strict=True):
        classes = sum(1 for (gg, _) in counts if gg == g)
        out.append(len(labels) / (n_groups * classes * counts[(g, bool(y))]))
    return out


def fit_logistic(x: Sequence[Sequence[float]], labels: Sequence[bool], weights: Sequence[float], *,
                 l2: float = 1.0, iters: int = 60) -> list[float]:
    """Weighted L2 logistic regression; returns the coefficients followed by the (unpenalised) intercept."""
    import numpy as np

    xm = np.asarray(x, dtype=float)
    y = np.asarray(labels, dtype=float)
    sw = np.asarray(weights, dtype=float)
    if xm.ndim != 2 or len(xm) != len(y) or len(y) != len(sw):
        raise ValueError("x, labels and weights must have the same number of rows")
    xb = np.c_[xm, np.ones(len(xm))]
    d = xb.shape[1]
    if len(y) == 0:
        return [0.0] * d
    pen = l2 * np.diag(np.r_[np.ones(d - 1), 0.0])
    w = np.zeros(d)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (sw * (p - y)) + pen @ w
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + pen + 1e-9 * np.eye(d)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        w = w - step
        if float(np.abs(step).max()) < 1e-9:
            break
    return [float(v) for v in w]


def fit_combiner(rule_logodds: Sequence[float], margins: Sequence[float], labels: Sequence[bool],
                 groups: Sequence[str] | None = None, *, l2: float = 1.0) -> Combiner:
    """Fit the three weights on (in-band) tuning rows, groups and classes balanced (see `group_weights`)."""
    if not labels or len(set(bool(y) for y in labels)) < 2:
        return Combiner(1.0, 0.0, 0.0)  # nothing to learn from: the rule's own log-odds decide
    w = fit_logistic(list(zip(rule_logodds, margins, strict=True)), labels, group_weights(labels, groups), l2=l2)
    return Combiner(w[0], w[1], w[2])
