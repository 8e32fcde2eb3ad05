"""`core.report` on a synthetic `train compare` with per-sample rows: CIs in Table 1, paired
differences vs A and vs R, and the multi-panel sample-efficiency figure (runs written via the RunStore)."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from core.report import Selection, build_report
from core.report.paired import PAIRED_METRICS, sample_value
from core.store import RunStore

N_SEL, N_TIM, N_PLAN = 20, 10, 12
HIT_SHIFT = {"A": 0, "B1": 1, "R": 2, "C": 0, "D": 1}  # which selection samples a method gets right
NLL = {"A": 0.50, "B1": 0.80, "R": 0.55, "C": 0.40, "D": 0.70}
BUDGET = {"A": 0, "B1": 0.4, "R": 0.4, "C": 0, "D": 0.4}
STRATEGY = {"B1": "loss_topk", "R": "random", "D": "hybrid"}


def ci95(vals: list[float]) -> float:
    return 1.96 * statistics.stdev(vals) / math.sqrt(len(vals))


def hit(method: str, seed: int, i: int) -> float:
    return float((i + HIT_SHIFT[method] + seed) % 3 == 0)


def nll(method: str, seed: int, i: int) -> float:
    return NLL[method] + 0.01 * i + 0.02 * seed + (0.03 if method == "C" and i % 2 else 0.0)


def compare_run(store: RunStore, parent: str, method: str, seed: int) -> str:
    """A method run as `train compare` stores it: summary metrics with `ci95/` and per-sample rows."""
    cfg = {"method": method, "train": {"seed": seed}, "coreset": {"strategy": STRATEGY.get(method, "none"), "budget": BUDGET[method]},
           "continual": {"enabled": method in ("C", "D")}}
    rid = store.create_run("train", cfg, method=method, parent_id=parent, dataset_hash="d" * 64)
    rows = []
    for i in range(N_SEL):
        h = hit(method, seed, i)
        rows.append({"sample_id": f"ts-{i}", "ok": bool(h), "task": "tool_selection", "metrics": {"acc@1": h, "mrr": max(h, 0.25)}})
    for i in range(N_TIM):
        gold = i % 2 == 0
        rows.append({"sample_id": f"tj-{i}", "ok": gold, "task": "timing_judgment", "pred": True, "gold": gold,
                     "margin": 0.1 * i + 0.05 * HIT_SHIFT[method], "metrics": {"correct": float(gold)}})
    for i in range(N_PLAN):
        v = nll(method, seed, i)
        rows.append({"sample_id": f"tp-{i}#scored", "ok": False, "task": "task_planning_scored",
                     "metrics": {"plan_token_acc": 0.95 - v / 10, "plan_nll": v}})
        rows.append({"sample_id": f"tp-{i}", "ok": False, "task": "task_planning",  # a generated plan
                     "metrics": {"node_f1": 1.0 - v / 2, "executability": 1.0, "edge_f1": 0.5, "exact_match": 0.0}})
    store.add_sample_results(rid, rows)
    per = {s.key: [x for r in rows if r["task"] == s.task and (x := sample_value(s, r)) is not None] for s in PAIRED_METRICS}
    per = {k: v for k, v in per.items() if v}
    metrics = {k: statistics.fmean(v) for k, v in per.items()}
    metrics.update({f"ci95/{k}": ci95(v) for k, v in per.items()})
    metrics.update({"samples_used": 80 * BUDGET[method] or 80, "train_seconds": 10.0 + seed, "acc@5": 0.5})
    store.log_metrics(rid, metrics)
    store.finish_run(rid)
    return rid


def make_compare(store: RunStore, seeds: dict[str, int]) -> tuple[str, dict[tuple[str, int], str]]:
    parent = store.create_run("train", {"compare": "quick_cpu"}, name="compare-quick_cpu")
    ids = {(m, s): compare_run(store, parent, m, s) for m, n in seeds.items() for s in range(n)}
    store.finish_run(parent)
    return parent, ids


def _md_row(md: str, label: str, after: str = "") -> list[str]:
    text = md[md.index(after):] if after else md
    for line in text.splitlines():
        if line.startswith(f"| {label} |"):
            return [c.strip() for c in line.strip("|").split("|")]
    raise AssertionError(f"no row {label!r} in\n{text}")


ONE_SEED = {"A": 1, "B1": 1, "R": 1, "C": 1, "D": 1}


def test_table1_single_seed_shows_eval_ci(store: RunStore, tmp_path: Path) -> None:
    _, ids = make_compare(store, ONE_SEED)
    build_report(store, tmp_path / "r", Selection(run_ids=tuple(ids.values())))
    md = (tmp_path / "r" / "table1.md").read_text()
    a = _md_row(md, "A: SFT baseline")
    hits = [hit("A", 0, i) for i in range(N_SEL)]
    assert a[1] == "1" and a[2].strip("*") == f"{statistics.fmean(hits):.3f} ± {ci95(hits):.3f}"
    assert a[3] == "0.500" and a[-3] == "80"  # no stored CI (acc@5, cost): bare value (then steps, memory)
    assert "95 % CI over evaluation samples" in md and "not seed variance" in md and "std over seeds" not in md
    tex = (tmp_path / "r" / "table1.tex").read_text()
    assert r"95 \% CI over evaluation samples" in tex and f"{statistics.fmean(hits):.3f} $\\pm$ {ci95(hits):.3f}" in tex
    cell = json.loads((tmp_path / "r" / "runs.json").read_text())["table1"]["rows"]["A"]["cells"]["acc@1"]
    assert cell["ci95"] == [pytest.approx(ci95(hits))] and cell["std"] is None


def test_table1_mixed_seeds_std_and_ci(store: RunStore, tmp_path: Path) -> None:
    _, ids = make_compare(store, {"A": 2, "R": 1})
    build_report(store, tmp_path / "r", Selection(run_ids=tuple(ids.values())))
    md = (tmp_path / "r" / "table1.md").read_text()
    nlls = [statistics.fmean(nll("A", s, i) for i in range(N_PLAN)) for s in (0, 1)]
    assert _md_row(md, "A: SFT baseline")[9].strip("*") == f"{statistics.fmean(nlls):.3f} ± {statistics.stdev(nlls):.3f}"
    r_nll = [nll("R", 0, i) for i in range(N_PLAN)]
    assert _md_row(md, "R: random coreset (control)")[9].strip("*") == f"{statistics.fmean(r_nll):.3f} ± {ci95(r_nll):.3f}"
    assert "Mean ± std over seeds where a cell has several runs; where it has one run" in md


def test_paired_differences_vs_a_and_r(store: RunStore, tmp_path: Path) -> None:
    _, ids = make_compare(store, ONE_SEED)
    res = build_report(store, tmp_path / "r", Selection(run_ids=tuple(ids.values())))
    assert {"paired.md", "paired.tex"} <= set(res.files)
    md = (tmp_path / "r" / "paired.md").read_text()
    assert "## Difference to A: SFT baseline" in md and "## Difference to R: random coreset (control)" in md
    assert f"Acc@1 ↑ (n={N_SEL})" in md and f"Plan NLL ↓ (n={N_PLAN})" in md
    # B1 - A on selection: same samples, hand-computed paired CI; not significant here
    d = [hit("B1", 0, i) - hit("A", 0, i) for i in range(N_SEL)]
    b1 = _md_row(md, "B1: coreset (loss)", after="Difference to A")
    assert b1[1] == "1" and b1[2] == f"{statistics.fmean(d):+.3f} ± {ci95(d):.3f}"
    assert abs(statistics.fmean(d)) <= ci95(d) and not b1[2].endswith("*")
    # the NLL gap is constant per sample (+0.300): the interval excludes 0 and is starred
    assert b1[7] == "+0.300 ± 0.000*"
    assert b1[4] == "+0.000 ± 0.000"  # identical timing predictions
    c = [nll("C", 0, i) - nll("R", 0, i) for i in range(N_PLAN)]
    c_vs_r = _md_row(md, "C: continual replay", after="Difference to R")
    assert c_vs_r[7] == f"{statistics.fmean(c):+.3f} ± {ci95(c):.3f}*"
    assert _md_row(md, "A: SFT baseline", after="Difference to R")[7] == "-0.050 ± 0.000*"
    head_a = md[md.index("Difference to A"):md.index("Difference to R")]
    assert "| A: SFT baseline |" not in head_a  # no row against itself
    man = json.loads((tmp_path / "r" / "runs.json").read_text())["paired"]
    assert [s["reference"] for s in man] == ["A", "R"]
    diff = man[0]["rows"]["B1"]["diffs"]["acc@1"]
    assert diff["n"] == N_SEL and diff["run_pairs"] == [[ids[("B1", 0)], ids[("A", 0)]]] and not diff["excludes_zero"]
    tex = (tmp_path / "r" / "paired.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 2 and r"$+$0.300 $\pm$ 0.000$^{*}$" in tex and r"\label{tab:paired-r}" in tex


def test_paired_differences_average_over_seeds(store: RunStore, tmp_path: Path) -> None:
    _, ids = make_compare(store, {"A": 2, "B1": 2})
    _, other = make_compare(store, {"A": 1})  # another comparison: its A is not paired with these B1 runs
    build_report(store, tmp_path / "r", Selection(run_ids=(*ids.values(), *other.values())))
    man = json.loads((tmp_path / "r" / "runs.json").read_text())["paired"]
    (sec,) = man
    diff = sec["rows"]["B1"]["diffs"]["acc@1"]
    assert sorted(map(tuple, diff["run_pairs"])) == sorted((ids[("B1", s)], ids[("A", s)]) for s in (0, 1))
    per_sample = [statistics.fmean(hit("B1", s, i) - hit("A", s, i) for s in (0, 1)) for i in range(N_SEL)]
    assert diff["n"] == N_SEL and diff["mean"] == pytest.approx(statistics.fmean(per_sample))
    assert diff["ci95"] == pytest.approx(ci95(per_sample))
    assert sec["rows"]["B1"]["run_pairs"] == 2


def test_an_ablation_stage_pairs_with_the_main_comparisons_reference_of_the_same_seed_and_data(
        store: RunStore, tmp_path: Path) -> None:
    _, main = make_compare(store, {"A": 1})
    _, stage = make_compare(store, {"B1": 1})  # e.g. a budget ablation, stored as a comparison of its own
    build_report(store, tmp_path / "r", Selection(run_ids=(*main.values(), *stage.values())))
    (sec,) = json.loads((tmp_path / "r" / "runs.json").read_text())["paired"]
    diff = sec["rows"]["B1"]["diffs"]["acc@1"]
    assert diff["run_pairs"] == [[stage[("B1", 0)], main[("A", 0)]]] and diff["n"] == N_SEL


def test_sample_efficiency_every_method_three_panels(store: RunStore, tmp_path: Path) -> None:
    _, ids = make_compare(store, ONE_SEED)
    res = build_report(store, tmp_path / "r", Selection(run_ids=tuple(ids.values())))
    assert "sample_efficiency" not in res.skipped
    png = (tmp_path / "r" / "figures" / "sample_efficiency.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20000
    fig = json.loads((tmp_path / "r" / "runs.json").read_text())["figures"]["sample_efficiency"]["data"]
    assert set(fig["metrics"]) == {"acc@1", "node_f1", "plan_nll"}
    assert fig["caption"] == "error bars: 95 % CI over evaluation samples (one seed)"
    series = {s["label"]: s for s in fig["metrics"]["plan_nll"]}
    assert list(series) == ["A", "B1", "R", "C", "D"]
    r = series["R"]
    vals = [nll("R", 0, i) for i in range(N_PLAN)]
    assert r["x"] == [32.0] and r["y"] == [pytest.approx(statistics.fmean(vals))]
    assert r["extra"]["err_kind"] == ["ci95"] and r["extra"]["err"] == [pytest.approx(ci95(vals))]
    assert r["extra"]["regime"] == "standard" and series["D"]["extra"]["regime"] == "continual"


def test_rerun_byte_identical_with_paired_tables(store: RunStore, tmp_path: Path) -> None:
    _, ids = make_compare(store, {"A": 2, "B1": 2, "R": 1, "C": 1, "D": 1})
    sel = Selection(run_ids=tuple(ids.values()))
    one, two = build_report(store, tmp_path / "one", sel), build_report(store, tmp_path / "two", sel)
    assert one.files == two.files and "figures/sample_efficiency.png" in one.files
    for f in one.files:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes(), f


def test_sample_value_timing_margin_is_signed_by_gold() -> None:
    spec = next(s for s in PAIRED_METRICS if s.key == "timing_margin")
    acc = next(s for s in PAIRED_METRICS if s.key == "accuracy")
    assert sample_value(spec, {"margin": 1.5, "gold": True}) == 1.5
    assert sample_value(spec, {"margin": 1.5, "gold": False}) == -1.5
    assert sample_value(spec, {"metrics": {}}) is None
    assert sample_value(acc, {"pred": False, "gold": False}) == 1.0 and sample_value(acc, {"metrics": {"correct": 0.0}}) == 0.0
