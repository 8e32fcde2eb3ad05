"""Confidence intervals and paired tests: the one home of the 95 % interval helpers every report uses."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

Z95 = 1.96


def mean_ci(vals: Sequence[float], z: float = Z95) -> tuple[float, float]:
    """(mean, half-width of the normal-approximation CI: z * sample std / sqrt(n)); (nan, nan) when empty,
    half-width 0 for a single value."""
    n = len(vals)
    if n == 0:
        return float("nan"), float("nan")
    m = math.fsum(vals) / n
    if n < 2:
        return m, 0.0
    var = math.fsum((v - m) ** 2 for v in vals) / (n - 1)
    return m, z * math.sqrt(var / n)


def wilson(ok: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (low, high) of a proportion ok/n; (nan, nan) when n = 0."""
    if n == 0:
        return float("nan"), float("nan")
    p = ok / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def paired_diff(a: Sequence[float], b: Sequence[float], z: float = Z95) -> dict[str, float | int]:
    """Mean of a - b over the same items with its normal CI (`low`, `high`), and how many items are better /
    worse. Raises ValueError when the lengths differ."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    d = [x - y for x, y in zip(a, b, strict=True)]
    m, h = mean_ci(d, z)
    return {"diff": m, "low": m - h, "high": m + h, "better": sum(x > 0 for x in d), "worse": sum(x < 0 for x in d),
            "n": len(d)}


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p from the discordant counts (binomial, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def bootstrap_ci(vals: Sequence[float], *, iters: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI (low, high) of the mean; (nan, nan) when empty. Seeded: the same input gives
    the same interval."""
    n = len(vals)
    if n == 0:
        return float("nan"), float("nan")
    rng = random.Random(seed)
    means = sorted(math.fsum(vals[rng.randrange(n)] for _ in range(n)) / n for _ in range(iters))
    lo = means[int((1 - level) / 2 * (iters - 1))]
    hi = means[int((1 + level) / 2 * (iters - 1))]
    return lo, hi


def percentile(xs: Sequence[float], q: float) -> float:
    """The nearest-rank `q` quantile (0..1) of `xs` (latency p50/p95 in the benchmarks); nan when empty."""
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")
