"""`core.report` and `sage-tui report` on a store seeded with synthetic runs through the RunStore API."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import ExitCode, UsageError
from core.report import Selection, build_report, select_runs
from core.report.figdata import forgetting_of
from core.store import RunStore

CHUNKS = ["tool_selection", "tool_retrieval", "task_planning", "timing_judgment"]
BASE = {"A": 0.60, "B1": 0.62, "B2": 0.64, "B3": 0.66, "C": 0.63, "D": 0.67}
KEEP = {"A": 0.5, "C": 0.85, "D": 0.9}  # per-chunk retention in the synthetic stream
STRATEGY = {"B1": "loss_topk", "B2": "diversity", "B3": "hybrid"}
PLAN = {
    "goal": "Plan a weekend trip and tell my partner",
    "steps": [
        {"id": 1, "tool_id": "search_flights", "depends_on": []},
        {"id": 2, "tool_id": "search_hotels", "depends_on": []},
        {"id": 3, "tool_id": "book_flight", "depends_on": [1]},
        {"id": 4, "tool_id": "send_message", "depends_on": [2, 3]},
    ],
}


class Clock:
    def __init__(self) -> None:
        self.t = 0

    def stamp(self, store: RunStore, rid: str) -> None:
        self.t += 1
        store.update_run(rid, started=f"2025-01-01T00:{self.t // 60:02d}:{self.t % 60:02d}.000+00:00")


def train_run(store: RunStore, clock: Clock, method: str, seed: int, budget: float = 0, *, acc_shift: float = 0.0, tags=("paper",),
              parent_id: str | None = None) -> str:
    cfg = {
        "method": method,
        "train": {"seed": seed},
        "coreset": {"strategy": STRATEGY.get(method, "none"), "budget": budget},
        "continual": {"enabled": method in ("C", "D")},
    }
    rid = store.create_run("train", cfg, method=method, tags=tags, dataset_hash="d" * 64, catalog_hash="c" * 64,
                           parent_id=parent_id)
    clock.stamp(store, rid)
    used = 400 if not budget else int(400 * budget)
    acc = BASE[method] - (0.1 if budget == 0.25 else 0.0) + 0.01 * seed + acc_shift
    store.log_metrics(
        rid,
        {
            "acc@1": acc, "acc@5": acc + 0.2, "mrr": acc + 0.1, "step_validity": 0.7 + 0.01 * seed,
            "dependency_correctness": 0.5, "executability": 0.4 + 0.02 * seed, "accuracy": 0.8,
            "fpr": 0.1 + 0.01 * seed + (0.05 if method == "A" else 0.0), "train_seconds": 100.0 * used / 400 + seed,
            "samples_used": used, "peak_memory_mb": 4000 + seed,
        },
    )
    store.log_metrics(rid, {"loss": 1.0}, step=3, split="train")  # a step metric: not a summary
    if method in KEEP:
        for step in range(len(CHUNKS)):
            for ci, c in enumerate(CHUNKS[: step + 1]):
                store.log_metric(rid, f"chunk_acc/{c}", 0.8 * KEEP[method] ** (step - ci) + 0.01 * seed, step=step)
    store.finish_run(rid)
    return rid


def eval_run(store: RunStore, clock: Clock, task: str, name: str, seed: int, metrics: dict[str, float], tags=("paper",)) -> str:
    cfg = {"name": name, "task": task, "seed": seed, "dataset": f"/x/assets/datasets/test/{task}.jsonl", "limit": 20}
    rid = store.create_run("eval", cfg, task=task, name=name, tags=tags, dataset_hash="e" * 64, catalog_hash="c" * 64)
    clock.stamp(store, rid)
    store.add_sample_results(rid, [{"sample_id": f"s{i}", "ok": i % 2 == 0} for i in range(20)])
    store.log_metrics(rid, metrics)
    store.finish_run(rid)
    return rid


def seed_store(store: RunStore) -> dict[str, list[str]]:
    clock = Clock()
    ids: dict[str, list[str]] = {}
    for m in BASE:
        for budget in ([0.25, 0.5] if m.startswith("B") else [0]):
            for seed in (0, 1, 2):
                ids.setdefault(m, []).append(train_run(store, clock, m, seed, budget))
    sel = {"keyword": (0.55, 0.4), "embedding": (0.70, 12.0), "two_stage": (0.78, 60.0)}
    for name, (acc, lat) in sel.items():
        for seed in (0, 1):
            rid = eval_run(store, clock, "tool_selection", name, seed, {"acc@1": acc + 0.01 * seed, "acc@5": acc + 0.15, "mrr": acc + 0.05, "latency_p50_ms": lat})
            ids.setdefault(f"sel:{name}", []).append(rid)
    for name, v in {"hierarchical": 0.8, "flat": 0.6, "greedy": 0.4}.items():
        ids.setdefault(f"plan:{name}", []).append(
            eval_run(store, clock, "task_planning", name, 0, {"step_validity": v, "executability": v - 0.1, "latency_p50_ms": 5.0})
        )
    for name, (acc, fpr) in {"rule": (0.7, 0.3), "llm": (0.8, 0.2), "hybrid": (0.85, 0.15)}.items():
        ids.setdefault(f"timing:{name}", []).append(eval_run(store, clock, "timing_judgment", name, 0, {"accuracy": acc, "fpr": fpr}))
    rid = store.create_run("plan", {"goal": PLAN["goal"]}, name="plan", tags=["paper"])
    clock.stamp(store, rid)
    store.log_event(rid, "plan ready", payload={"plan": PLAN})
    store.finish_run(rid)
    ids["plan"] = [rid]
    return ids


@pytest.fixture
def seeded(store: RunStore) -> tuple[RunStore, dict[str, list[str]]]:
    return store, seed_store(store)


def _md_row(md: str, label: str) -> list[str]:
    for line in md.splitlines():
        if line.startswith(f"| {label} |"):
            return [c.strip() for c in line.strip("|").split("|")]
    raise AssertionError(f"no row {label!r} in\n{md}")


def test_table1_mean_std_and_bold(seeded, tmp_path: Path) -> None:
    store, ids = seeded
    build_report(store, tmp_path / "r")
    md = (tmp_path / "r" / "table1.md").read_text()
    a = _md_row(md, "A: SFT baseline")
    accs = [0.60, 0.61, 0.62]
    assert a[1] == "3"  # runs
    assert a[2] == f"{statistics.mean(accs):.3f} ± {statistics.stdev(accs):.3f}"
    # D has the best acc@1 mean (0.68): bold; A the worst FPR: not bold; cost columns: fewest samples bold
    d = _md_row(md, "D: coreset + continual")
    assert d[2] == "**0.680 ± 0.010**"
    assert not a[15].startswith("**") and d[15].startswith("**")
    b1_small = _md_row(md, "B1: coreset (loss), budget 25%")
    assert b1_small[17] == "**100 ± 0**" and a[17] == "400 ± 0"
    # a column where every method ties (dependency_correctness) has no bold
    assert d[6] == "0.500 ± 0.000"
    tex = (tmp_path / "r" / "table1.tex").read_text()
    for token in (r"\toprule", r"\midrule", r"\bottomrule", r"\textbf{0.680 $\pm$ 0.010}", r"budget 25\%", r"\cmidrule(lr){3-5}"):
        assert token in tex


def test_every_number_traceable_in_manifest(seeded, tmp_path: Path) -> None:
    store, ids = seeded
    res = build_report(store, tmp_path / "r")
    man = json.loads((tmp_path / "r" / "runs.json").read_text())
    assert man["sage_tui_version"]
    cells = [c for row in man["table1"]["rows"].values() for c in row["cells"].values()]
    cells += [c for sec in man["ablation"] for row in sec["rows"].values() for c in row["cells"].values()]
    assert len(cells) > 80
    for cell in cells:
        assert cell["n"] == len(cell["values"]) == len(cell["run_ids"]) == len(cell["seeds"])
        assert abs(cell["mean"] - sum(cell["values"]) / cell["n"]) < 1e-12
        for rid, value in zip(cell["run_ids"], cell["values"], strict=True):
            run = man["runs"][rid]
            assert run["config"] and run["dataset_hash"] and run["package_version"]
            stored = store.final_metrics(rid)
            assert value in stored.values()
    a_cell = man["table1"]["rows"]["A"]["cells"]["acc@1"]
    assert sorted(a_cell["run_ids"]) == sorted(ids["A"]) and sorted(a_cell["seeds"]) == [0, 1, 2]
    assert set(res.run_ids) == set(man["runs"])


def test_rerun_is_byte_identical(seeded, tmp_path: Path) -> None:
    store, _ = seeded
    r1 = build_report(store, tmp_path / "one")
    r2 = build_report(store, tmp_path / "two")
    assert r1.files == r2.files and "runs.json" in r1.files
    for f in r1.files:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes(), f
    assert b"CreationDate" not in (tmp_path / "one" / "figures" / "forgetting.pdf").read_bytes()


def test_figures_drawn_with_their_data(seeded, tmp_path: Path) -> None:
    store, ids = seeded
    res = build_report(store, tmp_path / "r")
    assert set(res.skipped) == {"knob_ablation"}  # no ablation grid in this store (tests/test_report_paper.py has one)
    for stem in ("sample_efficiency", "forgetting", "selector_tradeoff", "plan_dag"):
        png = (tmp_path / "r" / "figures" / f"{stem}.png").read_bytes()
        pdf = (tmp_path / "r" / "figures" / f"{stem}.pdf").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000
        assert pdf.startswith(b"%PDF")
    figs = json.loads((tmp_path / "r" / "runs.json").read_text())["figures"]
    eff_data = figs["sample_efficiency"]["data"]
    assert set(eff_data["metrics"]) == {"acc@1"}  # the synthetic runs store no planning likelihoods
    eff = {s["label"]: s for s in eff_data["metrics"]["acc@1"]}
    assert set(eff) == {"A", "B1", "B2", "B3", "C", "D"} and eff["B2"]["x"] == [100.0, 200.0]
    assert eff["B2"]["y"][1] == pytest.approx(0.65)
    # three seeds per point: the error bar is the std over seeds
    assert eff["B2"]["extra"]["err_kind"] == ["std", "std"] and eff["B2"]["extra"]["err"][1] == pytest.approx(0.01)
    assert eff["C"]["extra"]["regime"] == "continual" and eff["A"]["extra"]["regime"] == "standard"
    assert eff_data["caption"] == "error bars: std over seeds"
    fg = {s["label"]: s for s in figs["forgetting"]["data"]["first_chunk"]}
    assert set(fg) == {"A", "C", "D"}
    # forgetting is largest without replay and matches the definition in training/continual.py
    assert fg["A"]["extra"]["forgetting_mean"] > fg["C"]["extra"]["forgetting_mean"] > fg["D"]["extra"]["forgetting_mean"]
    expected_a = statistics.mean(0.8 - 0.8 * 0.5 ** (3 - j) for j in range(3))
    assert fg["A"]["extra"]["forgetting_mean"] == pytest.approx(expected_a)
    pts = {p["variant"]: p for p in figs["selector_tradeoff"]["data"]["points"]}
    assert set(pts) == {"keyword", "embedding", "two_stage"} and pts["keyword"]["latency_ms"] == 0.4
    assert figs["plan_dag"]["data"]["run_id"] == ids["plan"][0]


def test_forgetting_definition() -> None:
    acc = {(0, "a"): 0.9, (1, "a"): 0.5, (1, "b"): 0.8, (2, "a"): 0.4, (2, "b"): 0.6, (2, "c"): 0.7}
    assert forgetting_of(["a", "b", "c"], acc) == pytest.approx(((0.9 - 0.4) + (0.8 - 0.6)) / 2)
    assert forgetting_of(["a"], {(0, "a"): 1.0}) is None


def test_ablation_tables(seeded, tmp_path: Path) -> None:
    store, _ = seeded
    build_report(store, tmp_path / "r")
    md = (tmp_path / "r" / "ablation.md").read_text()
    assert "## Selector variants on tool_selection (test/tool_selection.jsonl, 20 samples, limit 20)" in md
    assert _md_row(md, "two_stage")[2] == "**0.785 ± 0.007**"
    assert _md_row(md, "keyword")[-1] == "**0.4 ± 0.0**"  # fastest p50 latency is best
    assert _md_row(md, "rule")[2] == "0.700" and _md_row(md, "hybrid")[2] == "**0.850**"
    assert _md_row(md, "hybrid")[6] == "**0.150**"  # lowest FPR
    tex = (tmp_path / "r" / "ablation.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 3 and r"two\_stage" in tex


def test_latest_per_method_and_explicit_selection(seeded, tmp_path: Path) -> None:
    store, ids = seeded
    clock = Clock()
    clock.t = 3000  # later than every seeded run
    newer = train_run(store, clock, "A", 0, acc_shift=0.3, tags=())
    chosen = select_runs(store, Selection(latest_per_method=True))
    chosen_ids = {r["id"] for r in chosen}
    assert newer in chosen_ids and ids["A"][0] not in chosen_ids and ids["A"][1] in chosen_ids
    # the tag view keeps both repeats of (A, seed 0) unless latest-per-method is asked for
    tagged = {r["id"] for r in select_runs(store, Selection(tags=("paper",)))}
    assert ids["A"][0] in tagged and newer not in tagged
    only = select_runs(store, Selection(run_ids=(ids["B1"][0], ids["sel:keyword"][0])))
    assert [r["id"] for r in only] == sorted([ids["B1"][0], ids["sel:keyword"][0]])
    res = build_report(store, tmp_path / "r", Selection(run_ids=(ids["D"][0],)))
    assert res.run_ids == [ids["D"][0]]
    assert set(res.skipped) == {"selector_tradeoff", "plan_dag", "knob_ablation"}  # D alone still gets a sample-efficiency point
    assert not (tmp_path / "r" / "figures" / "plan_dag.png").exists()
    md = (tmp_path / "r" / "table1.md").read_text()
    assert _md_row(md, "A: SFT baseline")[2] == "–" and _md_row(md, "D: coreset + continual")[1] == "1"


def test_unfinished_or_unknown_run_is_a_usage_error(store: RunStore) -> None:
    rid = store.create_run("train", {"method": "A"}, method="A")
    with pytest.raises(UsageError, match="running, not completed"):
        select_runs(store, Selection(run_ids=(rid,)))
    store.finish_run(rid, "interrupted")
    assert select_runs(store, Selection()) == []  # interrupted runs never enter a report


def test_eval_of_trained_model_fills_table1(store: RunStore, tmp_path: Path) -> None:
    """Metrics logged on a child eval run (parent_id = the training run) count for that run, by task."""
    rid = store.create_run("train", {"method": "B3", "train": {"seed": 4}}, method="B3")
    store.log_metrics(rid, {"samples_used": 50, "train_seconds": 9.0})
    store.finish_run(rid)
    child = store.create_run("eval", {"name": "lora", "task": "timing_judgment"}, task="timing_judgment", parent_id=rid)
    store.log_metrics(child, {"accuracy": 0.75, "fpr": 0.2, "acc@1": 0.99})  # acc@1 is not a timing metric
    store.finish_run(child)
    res = build_report(store, tmp_path / "r")
    man = json.loads((tmp_path / "r" / "runs.json").read_text())
    cells = man["table1"]["rows"]["B3"]["cells"]
    assert cells["accuracy"]["run_ids"] == [rid] and cells["accuracy"]["mean"] == 0.75
    assert "acc@1" not in cells and child in res.run_ids
    assert man["ablation"] == []  # an evaluation of a trained model is not a component ablation


def test_report_leaves_store_unchanged(seeded, tmp_path: Path) -> None:
    store, _ = seeded
    before = store.counts()
    build_report(store, tmp_path / "r")
    assert store.counts() == before and store.integrity_check() == "ok"


def test_cli_report(seeded, db_path: Path, tmp_path: Path) -> None:
    from sage_tui.cli import app

    store, ids = seeded
    runner = CliRunner()
    out = tmp_path / "cli"
    res = runner.invoke(app, ["report", "--out", str(out), "--db", str(db_path), "--tag", "paper", "--latest-per-method", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert "table1.tex" in data["files"] and set(data["skipped_figures"]) == {"knob_ablation"}
    assert (out / "figures" / "plan_dag.png").exists()
    first = {f: (out / f).read_bytes() for f in data["files"]}
    res = runner.invoke(app, ["report", "--out", str(out), "--db", str(db_path), "--tag", "paper", "--latest-per-method"])
    assert res.exit_code == 0, res.output
    assert all((out / f).read_bytes() == b for f, b in first.items())
    res = runner.invoke(app, ["report", "--out", str(out), "--db", str(db_path), "--run", "no-such-run"])
    assert res.exit_code == ExitCode.NOT_FOUND
    running = store.create_run("eval", {"name": "x"}, task="tool_selection")
    res = runner.invoke(app, ["report", "--out", str(out), "--db", str(db_path), "--run", running])
    assert res.exit_code == ExitCode.USAGE and "not completed" in res.output


def test_forgetting_read_from_pipeline_chunk_events(store: RunStore, tmp_path: Path) -> None:
    """training/pipeline.py logs one event per chunk with the accuracy row acc[i][0..i]."""
    rows = [[0.9], [0.6, 0.8], [0.5, 0.7, 0.85]]
    rid = store.create_run("train", {"method": "C", "train": {"seed": 0}}, method="C")
    for i, (name, row) in enumerate(zip(["sel", "plan", "timing"], rows, strict=True)):
        store.log_event(rid, f"chunk {i + 1}/3 {name}", payload={"chunk": name, "acc": row, "replayed": []})
    store.finish_run(rid)
    res = build_report(store, tmp_path / "r")
    assert "forgetting" not in res.skipped
    fg = json.loads((tmp_path / "r" / "runs.json").read_text())["figures"]["forgetting"]["data"]
    (first,) = fg["first_chunk"]
    assert first["x"] == [0.0, 1.0, 2.0] and first["y"] == [0.9, 0.6, 0.5]
    assert first["extra"]["chunks"] == ["sel", "plan", "timing"]
    assert first["extra"]["forgetting_mean"] == pytest.approx(((0.9 - 0.5) + (0.8 - 0.7)) / 2)
    (seen,) = fg["mean_seen"]
    assert seen["y"][2] == pytest.approx((0.5 + 0.7 + 0.85) / 3)


def test_cli_report_compare_selects_one_comparison(store: RunStore, db_path: Path, tmp_path: Path) -> None:
    """`report --compare PARENT` uses exactly the completed method runs of that `train compare`."""
    from sage_tui.cli import app

    clock = Clock()
    parent = store.create_run("train", {"compare": "quick_cpu"}, name="compare-quick_cpu")
    mine = {m: train_run(store, clock, m, 0, parent_id=parent) for m in ("A", "C")}
    other = train_run(store, clock, "B1", 0, 0.5)  # not part of the comparison
    runner = CliRunner()
    res = runner.invoke(app, ["report", "--out", str(tmp_path / "r"), "--db", str(db_path), "--compare", parent, "--json"])
    assert res.exit_code == 0, res.output
    used = set(json.loads(res.stdout)["runs"])
    assert set(mine.values()) <= used and other not in used
    md = (tmp_path / "r" / "table1.md").read_text()
    assert _md_row(md, "A: SFT baseline")[1] == "1" and _md_row(md, "C: continual replay")[1] == "1"
    assert _md_row(md, "B1: coreset (loss)")[1] == "0"  # the other run is not part of this comparison
    empty = store.create_run("train", {"compare": "quick_cpu"}, name="compare-empty")
    res = runner.invoke(app, ["report", "--out", str(tmp_path / "r2"), "--db", str(db_path), "--compare", empty])
    assert res.exit_code == ExitCode.USAGE and "no completed method runs" in res.output


def test_planning_ablation_names_the_subset_and_shows_the_sample_ci(tmp_path: Path) -> None:
    """A real planning eval (greedy, no LLM) on the hand-written report subset: the ablation section is titled by
    the subset and a single run's cells carry the 95 % CI over its goals."""
    from core.catalog import load_catalog
    from core.datasets import load_split
    from core.evaluation.planning import build_evaluators
    from core.evaluation.runner import run_evaluation
    from core.metrics.stats import mean_ci

    store = RunStore(tmp_path / "runs.db")
    cat = load_catalog()
    ds = load_split("task_planning", "handwritten-test")
    (ev,) = build_evaluators(cat, {"planners": ["greedy"]})
    res = run_evaluation(ev, ds, store, catalog_hash=cat.hash, limit=30)
    build_report(store, tmp_path / "r")
    md = (tmp_path / "r" / "ablation.md").read_text()
    assert "## Planner variants on task_planning (handwritten-test, 30 samples, limit 30)" in md
    f1 = [r["metrics"]["node_f1"] for r in store.sample_results(res.run_id)]
    mean, half = mean_ci(f1)
    assert half > 0
    assert _md_row(md, "greedy [keyword]")[5].strip("*") == f"{mean:.3f} ± {half:.3f}"


def test_planning_ablation_paragraph_pairs_the_top_two_on_the_same_goals(tmp_path: Path) -> None:
    from core.catalog import load_catalog
    from core.datasets import load_split
    from core.evaluation.planning import build_evaluators
    from core.evaluation.runner import run_evaluation
    from core.metrics.stats import paired_diff

    store = RunStore(tmp_path / "runs.db")
    cat = load_catalog()
    ds = load_split("task_planning", "handwritten-test")
    ids = {}
    for sel in ("keyword", "two_stage"):
        (ev,) = build_evaluators(cat, {"planners": ["greedy"], "selectors": [sel]})
        ids[sel] = run_evaluation(ev, ds, store, catalog_hash=cat.hash, limit=30).run_id
    build_report(store, tmp_path / "r")
    md = (tmp_path / "r" / "results.md").read_text()
    f1 = {k: {r["sample_id"]: r["metrics"]["node_f1"] for r in store.sample_results(v)} for k, v in ids.items()}
    top, other = sorted(f1, key=lambda k: -sum(f1[k].values()))
    d = paired_diff([f1[top][i] for i in sorted(f1[top])], [f1[other][i] for i in sorted(f1[top])])
    assert "Node F1: greedy [" in md  # the planning paragraph leads with node F1
    assert f"greedy [{top}] minus greedy [{other}], paired over the 30 samples both scored: " in md
    assert f"{d['better']} better, {d['worse']} worse" in md
