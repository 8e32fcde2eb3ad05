"""core/metrics/stats.py: the one home of the 95 % interval helpers (known values, edge cases, determinism)."""

from __future__ import annotations

import math
import statistics

import pytest

from core.metrics.stats import Z95, bootstrap_ci, mcnemar_p, mean_ci, paired_diff, wilson


def test_mean_ci_of_a_known_list():
    m, h = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert m == 3.0
    # sample sd sqrt(2.5), n = 5: 1.96 * sqrt(2.5 / 5)
    assert h == pytest.approx(1.96 * math.sqrt(0.5)) and h == pytest.approx(1.385929, abs=1e-6)
    vals = [0.2, 0.9, 0.4, 0.4, 0.7, 0.1]
    assert mean_ci(vals)[1] == pytest.approx(Z95 * statistics.stdev(vals) / math.sqrt(len(vals)))
    assert mean_ci(vals, z=2.576)[1] > mean_ci(vals)[1]


def test_mean_ci_edge_cases():
    m, h = mean_ci([])
    assert math.isnan(m) and math.isnan(h)
    assert mean_ci([0.7]) == (0.7, 0.0)
    assert mean_ci([2.0, 2.0, 2.0]) == (2.0, 0.0)


def test_wilson_known_values():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    lo, hi = wilson(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson(10, 10)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.7225, abs=1e-4)
    assert all(math.isnan(x) for x in wilson(0, 0))


def test_paired_diff_counts_and_interval():
    a = [1.0, 1.0, 0.0, 1.0, 0.5]
    b = [0.0, 1.0, 1.0, 0.0, 0.5]
    d = paired_diff(a, b)
    assert d["n"] == 5 and d["better"] == 2 and d["worse"] == 1
    m, h = mean_ci([1.0, 0.0, -1.0, 1.0, 0.0])
    assert d["diff"] == pytest.approx(0.2) == pytest.approx(m)
    assert (d["low"], d["high"]) == pytest.approx((m - h, m + h))


def test_paired_diff_length_mismatch_raises():
    with pytest.raises(ValueError, match="3 vs 2"):
        paired_diff([1.0, 2.0, 3.0], [1.0, 2.0])


def test_mcnemar_exact_p():
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(3, 3) == 1.0
    assert mcnemar_p(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_p(1, 4) == pytest.approx(2 * 6 / 32)
    assert mcnemar_p(4, 1) == mcnemar_p(1, 4)


def test_bootstrap_is_deterministic_and_brackets_the_mean():
    vals = [0.1, 0.4, 0.35, 0.8, 0.65, 0.2, 0.9, 0.55]
    a = bootstrap_ci(vals, iters=500, seed=3)
    assert a == bootstrap_ci(vals, iters=500, seed=3)
    assert a != bootstrap_ci(vals, iters=500, seed=4)
    lo, hi = a
    assert lo < statistics.fmean(vals) < hi and min(vals) <= lo and hi <= max(vals)
    assert bootstrap_ci([0.5] * 6, iters=50) == (0.5, 0.5)
    assert all(math.isnan(x) for x in bootstrap_ci([]))
    narrow = bootstrap_ci(vals, iters=500, level=0.5, seed=3)
    assert narrow[0] >= lo and narrow[1] <= hi
