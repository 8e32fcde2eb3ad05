"""Paired differences between Table 1 rows on the same evaluation samples (each method vs A and vs R; each
ablation setting vs its method's main setting).

The per-sample rows a training run stores (`store.sample_results`, with `task` and `sample_id`) are
matched between a method's run and the reference's run of the same comparison and seed (same
`parent_id`, same seed). Per evaluation sample the difference method - reference is averaged over
the matched run pairs; the table shows its mean over samples ± the half-width of the normal 95 % CI
(1.96 * sd / sqrt(n): `core.metrics.stats.mean_ci`, the helper training/compare.py uses too), and
every difference also carries a two-level percentile bootstrap 95 % CI over seeds x samples
(`bootstrap_seeds_samples`), the interval the paper's prose quotes (results.tex / results.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.metrics.stats import mean_ci
from core.report.aggregate import Row, main_rows
from core.report.select import seed_of
from core.store import RunStore

REFERENCES = ("A", "R")


@dataclass(frozen=True)
class PairedSpec:
    key: str  # name in the manifest
    label: str  # column header
    task: str  # task of the per-sample rows
    higher_is_better: bool = True
    decimals: int = 3


PAIRED_METRICS: tuple[PairedSpec, ...] = (
    PairedSpec("acc@1", "Acc@1", "tool_selection"),
    PairedSpec("mrr", "MRR", "tool_selection"),
    PairedSpec("accuracy", "Timing acc.", "timing_judgment"),
    PairedSpec("timing_margin", "Timing margin", "timing_judgment"),
    PairedSpec("plan_token_acc", "Plan tok. acc.", "task_planning_scored"),
    PairedSpec("plan_nll", "Plan NLL", "task_planning_scored", higher_is_better=False),
    PairedSpec("executability", "Plan exec.", "task_planning"),
    PairedSpec("node_f1", "Node F1", "task_planning"),
    PairedSpec("exact_match", "Exact plan", "task_planning"),
)
BOOT_ITERS = 2000
BOOT_SEED = 0


def sample_value(spec: PairedSpec, row: dict[str, Any]) -> float | None:
    """A metric of one evaluation sample; timing accuracy is `pred == gold` (or `metrics.correct`), the timing
    margin the log-odds on the gold decision (`margin` signed by `gold`, as in training/compare.py)."""
    if spec.key == "accuracy" and "pred" in row and "gold" in row:
        return float(row["pred"] == row["gold"])
    if spec.key == "timing_margin":
        m = row.get("margin")
        ok = isinstance(m, int | float) and not isinstance(m, bool) and math.isfinite(m) and isinstance(row.get("gold"), bool)
        return (float(m) if row["gold"] else -float(m)) if ok else None
    v = (row.get("metrics") or {}).get("correct" if spec.key == "accuracy" else spec.key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def run_samples(store: RunStore, run: dict[str, Any], children: Sequence[dict[str, Any]] = ()) -> dict[tuple[str, str], dict[str, Any]]:
    """(task, sample id) -> per-sample row of a training run and of the evaluations of its model."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for src in (run, *children):
        for s in store.sample_results(src["id"]):
            out.setdefault((str(s.get("task") or src.get("task") or ""), str(s["sample_id"])), s)
    return out


@dataclass
class Diff:
    """Mean paired difference (method - reference) over evaluation samples and its 95 % CI half-width."""

    mean: float
    ci95: float | None  # None below two samples
    n: int  # evaluation samples
    run_pairs: list[tuple[str, str]] = field(default_factory=list)
    boot: tuple[float, float] | None = None  # percentile bootstrap 95 % CI over seeds x samples (two levels)
    seeds: int = 0  # matched run pairs (seeds) behind the bootstrap

    @property
    def excludes_zero(self) -> bool:
        return self.ci95 is not None and abs(self.mean) > self.ci95

    @property
    def boot_excludes_zero(self) -> bool:
        return self.boot is not None and (self.boot[0] > 0 or self.boot[1] < 0)

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "ci95": self.ci95, "n": self.n, "excludes_zero": self.excludes_zero,
                "run_pairs": [list(p) for p in self.run_pairs],
                "bootstrap95": list(self.boot) if self.boot is not None else None,
                "bootstrap_excludes_zero": self.boot_excludes_zero, "seeds": self.seeds}


def bootstrap_seeds_samples(per_pair: Sequence[Sequence[float]], *, iters: int = BOOT_ITERS,
                            seed: int = BOOT_SEED) -> tuple[float, float] | None:
    """Two-level percentile bootstrap 95 % CI of the mean paired difference: resample the seeds (run pairs)
    with replacement, then within each drawn seed its evaluation samples with replacement; the statistic is
    the mean over drawn seeds of their sample means. One seed: the plain bootstrap over samples. Seeded, so a
    re-run gives the same interval; None when there are fewer than two values in all."""
    import numpy as np

    groups = [np.asarray(g, dtype=float) for g in per_pair if len(g)]
    if not groups or sum(len(g) for g in groups) < 2:
        return None
    rng = np.random.default_rng(seed)
    k = len(groups)
    # slot j of iteration b holds seed pick[b, j]; its within-seed resample mean is drawn fresh per slot
    pick = rng.integers(0, k, size=(iters, k)) if k > 1 else np.zeros((iters, 1), dtype=int)
    slot_means = np.empty((iters, k))
    for j in range(k):
        for g_i, g in enumerate(groups):
            rows = np.flatnonzero(pick[:, j] == g_i)
            if rows.size:
                slot_means[rows, j] = g[rng.integers(0, len(g), size=(rows.size, len(g)))].mean(axis=1)
    stats = np.sort(slot_means.mean(axis=1))
    lo = float(stats[int(0.025 * (iters - 1))])
    hi = float(stats[int(0.975 * (iters - 1))])
    return lo, hi


def paired_diff(spec: PairedSpec, pairs: Sequence[tuple[str, str]], samples: dict[str, dict[tuple[str, str], dict[str, Any]]]) -> Diff | None:
    """Per sample, the difference averaged over the run pairs holding it; mean and CI over samples."""
    per_sample: dict[str, list[float]] = {}
    per_pair: list[list[float]] = []
    used: list[tuple[str, str]] = []
    for mine, ref in pairs:
        a, b = samples[mine], samples[ref]
        mine_diffs: list[float] = []
        for task, sid in sorted(set(a) & set(b)):
            if task != spec.task:
                continue
            va, vb = sample_value(spec, a[(task, sid)]), sample_value(spec, b[(task, sid)])
            if va is not None and vb is not None:
                per_sample.setdefault(sid, []).append(va - vb)
                mine_diffs.append(va - vb)
        if mine_diffs:
            used.append((mine, ref))
            per_pair.append(mine_diffs)
    if not per_sample:
        return None
    diffs = [math.fsum(v) / len(v) for _, v in sorted(per_sample.items())]
    mean, half = mean_ci(diffs)
    return Diff(mean, half if len(diffs) >= 2 else None, len(diffs), used, bootstrap_seeds_samples(per_pair), len(per_pair))


@dataclass
class PairedRow:
    key: str
    label: str
    run_pairs: int  # matched (comparison, seed) run pairs
    diffs: dict[str, Diff]


@dataclass
class PairedSection:
    reference: str  # row key of the reference (A, R or R@<budget>; a method's main row for its ablation settings)
    label: str
    rows: list[PairedRow]


def _seed_in(run: dict[str, Any], field: str) -> tuple[str, int]:
    """(the run's `field`: its comparison `parent_id` or its training `dataset_hash`, its seed)."""
    seed = seed_of(run)
    return (run.get(field) or "", -1 if seed is None else seed)


def _pairs(row_ids: Sequence[str], ref_ids: Sequence[str], runs: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(run, reference run) pairs: the reference run of the same comparison and seed; failing that (an ablation
    stage is a comparison of its own), the one with the same seed and training data hash."""
    refs = [runs[rid] for rid in ref_ids if rid in runs]
    by = {f: {_seed_in(r, f): r["id"] for r in refs} for f in ("parent_id", "dataset_hash")}
    out = []
    for rid in (r for r in row_ids if r in runs):
        ref = next((by[f][k] for f in by if (k := _seed_in(runs[rid], f)) in by[f]), None)
        if ref is not None:
            out.append((rid, ref))
    return out


def _reference_row(ref: str, row: Row, by_key: dict[str, Row]) -> Row | None:
    """`ref` itself, or (a reference run at several budgets) the one with the same budget as `row`."""
    if ref in by_key:
        return by_key[ref]
    from core.report.aggregate import budget_of_key

    budget = budget_of_key(row.key)
    return by_key.get(f"{ref}@{budget}") if budget else None


def paired_sections(store: RunStore, rows: Sequence[Row], runs: dict[str, dict[str, Any]],
                    children: dict[str, list[dict[str, Any]]]) -> list[PairedSection]:
    """One section per reference method (A, R) present: every other Table 1 row against it; then one per method
    with ablation settings: each setting against the method's main row (`aggregate.main_rows`)."""
    live = [r for r in rows if r.run_ids]
    by_key = {r.key: r for r in live}
    samples: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}

    def samples_of(rid: str) -> dict[tuple[str, str], dict[str, Any]]:
        if rid not in samples:
            samples[rid] = run_samples(store, runs[rid], children.get(rid, []))
        return samples[rid]

    sections = []
    for ref in REFERENCES:
        if not any(r.key.partition("@")[0] == ref for r in live):
            continue
        out_rows = []
        for row in live:
            ref_row = _reference_row(ref, row, by_key)
            if row.key.partition("@")[0] == ref or ref_row is None:
                continue
            pairs = _pairs(row.run_ids, ref_row.run_ids, runs)
            for pair in pairs:
                for rid in pair:
                    samples_of(rid)
            diffs = {s.key: d for s in PAIRED_METRICS if (d := paired_diff(s, pairs, samples)) is not None}
            out_rows.append(PairedRow(row.key, row.label, len(pairs), diffs))
        label = next(r.label for r in live if r.key.partition("@")[0] == ref)
        sections.append(PairedSection(ref, label.split(",")[0], out_rows))
    # each ablation setting against its own method's main setting (C at replay ratio 1.0 vs C as in the main
    # comparison): the knob's effect, matched by seed and training data
    for main_key, method in sorted(main_rows(live).items(), key=lambda kv: kv[1]):
        out_rows = []
        for row in live:
            if row.key == main_key or row.key.partition("@")[0] != method:
                continue
            pairs = _pairs(row.run_ids, by_key[main_key].run_ids, runs)
            for pair in pairs:
                for rid in pair:
                    samples_of(rid)
            diffs = {s.key: d for s in PAIRED_METRICS if (d := paired_diff(s, pairs, samples)) is not None}
            out_rows.append(PairedRow(row.key, row.label, len(pairs), diffs))
        if out_rows:
            sections.append(PairedSection(main_key, by_key[main_key].label, out_rows))
    return sections


def section_json(sec: PairedSection) -> dict[str, Any]:
    return {"reference": sec.reference, "label": sec.label,
            "rows": {r.key: {"label": r.label, "run_pairs": r.run_pairs, "diffs": {k: d.to_json() for k, d in sorted(r.diffs.items())}}
                     for r in sec.rows}}
