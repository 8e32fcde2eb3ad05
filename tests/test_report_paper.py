"""The paper outputs of `sage-tui report`: results.tex (one macro per number, letters-only names, run ids in
comments), results.md (one paragraph per finding; nulls stated when the CI spans 0), the two-level bootstrap
over seeds x samples, variant rows of ablation grids, and the LaTeX checked twice: a pure-Python syntax
check that always runs and a real pdflatex build of table1.tex under booktabs when TeX is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from core.report import Selection, build_report
from core.report.paired import bootstrap_seeds_samples
from core.report.paper import letters, number_words, row_macro
from core.report.texcheck import check_tex
from core.store import RunStore

N = 40  # evaluation samples per task
SEEDS = (0, 1, 2)


def _noise(i: int, seed: int, salt: int) -> float:
    return ((i * 7919 + seed * 104729 + salt * 1299709) % 1000) / 1000.0


def compare_run(store: RunStore, parent: str, method: str, seed: int, *, loss_ratio: float = 0.6,
                nll_shift: float = 0.0, replay_ratio: float = 0.3) -> str:
    strategy = {"A": "none", "B3": "hybrid", "R": "random", "C": "none"}[method]
    cfg = {"method": method, "train": {"seed": seed},
           "coreset": {"strategy": strategy, "budget": 0.4 if strategy != "none" else 0, "loss_ratio": loss_ratio},
           "continual": {"enabled": method == "C", "replay_ratio": replay_ratio, "buffer_size": 32}}
    rid = store.create_run("train", cfg, method=method, parent_id=parent, dataset_hash="d" * 64)
    rows = []
    for i in range(N):
        # selection: every method right on a seed-and-method dependent half: no systematic difference
        h = float(_noise(i, seed, {"A": 1, "B3": 2, "R": 3, "C": 4}[method]) < 0.5)
        rows.append({"sample_id": f"ts-{i}", "ok": bool(h), "task": "tool_selection", "metrics": {"acc@1": h, "mrr": h}})
        gold = i % 2 == 0
        rows.append({"sample_id": f"tj-{i}", "ok": gold, "task": "timing_judgment", "pred": True, "gold": gold,
                     "margin": 0.5, "metrics": {"correct": float(gold)}})
        # scored planning: B3 has a clearly lower NLL than A and R on every sample
        nll = 0.6 + 0.1 * _noise(i, seed, 9) - (0.2 if method == "B3" else 0.0) + nll_shift
        rows.append({"sample_id": f"tp-{i}#scored", "ok": False, "task": "task_planning_scored",
                     "metrics": {"plan_token_acc": 1 - nll / 2, "plan_nll": nll}})
        f1 = 0.5 + 0.3 * _noise(i, seed, 5)
        rows.append({"sample_id": f"tp-{i}", "ok": False, "task": "task_planning",
                     "metrics": {"executability": float(i % 3 == 0), "node_f1": f1, "edge_f1": f1 / 2, "exact_match": 0.0}})
    store.add_sample_results(rid, rows)
    mean = lambda task, k: sum(r["metrics"][k] for r in rows if r["task"] == task) / N  # noqa: E731
    store.log_metrics(rid, {"acc@1": mean("tool_selection", "acc@1"), "mrr": mean("tool_selection", "mrr"),
                            "accuracy": 0.5, "f1": 0.667, "fpr": 1.0, "plan_nll": mean("task_planning_scored", "plan_nll"),
                            "executability": mean("task_planning", "executability"), "node_f1": mean("task_planning", "node_f1"),
                            "edge_f1": mean("task_planning", "edge_f1"), "exact_match": 0.0,
                            "samples_used": 400.0 if strategy == "none" else 160.0, "train_seconds": 100.0 + seed,
                            "peak_memory_mb": 5000.0, **({"forgetting": 0.01 * seed, "backward_transfer": 0.02} if method == "C" else {})})
    store.finish_run(rid)
    return rid


@pytest.fixture
def paper_store(store: RunStore) -> tuple[RunStore, dict[tuple[str, int], str]]:
    parent = store.create_run("train", {"compare": "medium_cpu"}, name="compare-medium_cpu")
    ids = {(m, s): compare_run(store, parent, m, s) for m in ("A", "B3", "R", "C") for s in SEEDS}
    store.finish_run(parent)
    for name, v in {"hierarchical": 0.8, "flat": 0.6, "greedy": 0.4}.items():
        rid = store.create_run("eval", {"name": name, "task": "task_planning", "dataset": "/x/test_extended/task_planning.jsonl",
                                        "limit": 50}, task="task_planning", name=name, dataset_hash="e" * 64)
        store.add_sample_results(rid, [{"sample_id": f"p{i}", "ok": True} for i in range(50)])
        store.log_metrics(rid, {"step_validity": v, "executability": v - 0.1, "node_f1": v - 0.2, "latency_p50_ms": 5.0})
        store.finish_run(rid)
    return store, ids


def _macros(tex: str) -> dict[str, tuple[str, str]]:
    return {m.group(1): (m.group(2), m.group(3)) for m in
            re.finditer(r"^\\newcommand\{\\([A-Za-z]+)\}\{(.*)\} % (.*)$", tex, re.M)}


def test_macro_names_are_letters_only():
    assert number_words(40) == "forty" and number_words(125) == "onehundredtwentyfive" and number_words(0) == "zero"
    assert letters("B3") == "Bthree" and letters("0.25") == "zeropointtwofive"
    assert row_macro("B3") == "Bthree" and row_macro("B3@40%") == "BthreeBudgetforty"
    assert row_macro("C@replay_ratio=0.1,buffer_size=64") == "CReplayRatiozeropointoneBufferSizesixtyfour"


def test_results_tex_macros_carry_values_and_run_ids(paper_store, tmp_path: Path) -> None:
    store, ids = paper_store
    build_report(store, tmp_path / "r")
    tex = (tmp_path / "r" / "results.tex").read_text()
    macros = _macros(tex)
    assert len(macros) == tex.count("\\newcommand")  # every definition is one well-formed line
    man = json.loads((tmp_path / "r" / "runs.json").read_text())
    all_ids = set(man["runs"])
    for name, (_value, comment) in macros.items():
        assert re.fullmatch(r"[A-Za-z]+", name)
        listed = comment.split("runs: ", 1)[1].split()
        assert listed and set(listed) <= all_ids, name
    cell = man["table1"]["rows"]["A"]["cells"]["acc@1"]
    assert macros["AccSelA"][0] == f"{cell['mean']:.3f}" and macros["AccSelAStd"][0] == f"{cell['std']:.3f}"
    assert set(macros["AccSelA"][1].split("runs: ")[1].split()) == {ids[("A", s)] for s in SEEDS}
    # the paired difference B3 - R on plan NLL: -0.2 on every sample and seed; bootstrap CI excludes 0
    d = man["paired"][1]["rows"]["B3"]["diffs"]["plan_nll"]
    assert man["paired"][1]["reference"] == "R" and d["seeds"] == 3 and d["bootstrap_excludes_zero"]
    assert macros["DeltaBthreeVsRPlanNll"][0] == r"\ensuremath{-0.200}"
    assert macros["DeltaBthreeVsRPlanNllHi"][0].startswith(r"\ensuremath{-")
    pair_ids = set(macros["DeltaBthreeVsRPlanNll"][1].split("runs: ")[1].split())
    assert pair_ids == {ids[(m, s)] for m in ("B3", "R") for s in SEEDS}
    assert "DeltaBthreeVsR" in macros and "DeltaBthreeVsA" in macros  # headline (acc@1) aliases
    assert "PlanNodeFA" in macros and "ForgetC" in macros and "AblPlannerHierarchicalStepVal" not in macros
    assert "AblPlannerHierarchicalPlanStepVal" in macros
    assert check_tex(tex) == []


def test_results_md_states_nulls_and_effects(paper_store, tmp_path: Path) -> None:
    store, _ = paper_store
    build_report(store, tmp_path / "r")
    md = (tmp_path / "r" / "results.md").read_text()
    para = next(p for p in md.split("\n\n") if p.startswith("**B3: coreset (hybrid) vs R: random coreset (control).**"))
    # acc@1 is noise around 0 here: stated as a null with its interval; NLL is a real effect, better (lower)
    assert "No detectable difference (the 95 % CI spans 0" in para and "Acc@1" in para.split("No detectable")[1]
    assert "Better beyond noise on" in para and "Plan NLL -0.200" in para.split("No detectable")[0]
    assert "40 samples x 3 seeds" in para
    man = json.loads((tmp_path / "r" / "runs.json").read_text())
    acc = man["paired"][1]["rows"]["B3"]["diffs"]["acc@1"]
    lo, hi = acc["bootstrap95"]
    assert lo < 0 < hi and f"[{lo:+.3f}, {hi:+.3f}]".replace("+-", "-") in para
    assert "**Continual learning.** C: continual replay: forgetting" in md
    assert "**Cost.**" in md and "B3 160 samples" in md
    assert "**Planner ablation (task_planning" in md and "Node F1: hierarchical 0.600" in md
    # the gap to the paper's 95 % selection target, stated per row in points
    target = next(p for p in md.split("\n\n") if p.startswith("**Against the 95% tool-selection target**"))
    m = re.search(r"candidates\): A (\d\.\d{3})[^;]*: (\d+) points short;", target)
    assert m and int(m.group(2)) == round((0.95 - float(m.group(1))) * 100), target
    assert target.endswith("0 of 4 rows meet it.")


def test_bootstrap_resamples_seeds_and_samples():
    # two seeds that disagree completely, no noise within a seed: only the seed level can show it
    lo, hi = bootstrap_seeds_samples([[1.0] * 30, [-1.0] * 30])
    assert lo == pytest.approx(-1.0) and hi == pytest.approx(1.0)
    pooled = bootstrap_seeds_samples([[1.0] * 30 + [-1.0] * 30])  # one "seed" with both: much narrower
    assert pooled[1] - pooled[0] < 1.0
    assert bootstrap_seeds_samples([[0.5] * 10] * 3) == (0.5, 0.5)
    assert bootstrap_seeds_samples([[0.1, 0.3, 0.2]]) == bootstrap_seeds_samples([[0.1, 0.3, 0.2]])  # seeded
    assert bootstrap_seeds_samples([[1.0]]) is None


def test_ablation_grid_variants_get_their_own_rows(store: RunStore, tmp_path: Path) -> None:
    parent = store.create_run("train", {"compare": "medium_cpu"}, name="compare-medium_cpu")
    a = compare_run(store, parent, "A", 0)
    lo = compare_run(store, parent, "B3", 0, loss_ratio=0.2)
    hi = compare_run(store, parent, "B3", 0, loss_ratio=0.8, nll_shift=0.1)
    store.finish_run(parent)
    build_report(store, tmp_path / "r", Selection(run_ids=(a, lo, hi)))
    rows = json.loads((tmp_path / "r" / "runs.json").read_text())["table1"]["rows"]
    assert {k for k, v in rows.items() if v["cells"]} == {"A", "B3@loss_ratio=0.2", "B3@loss_ratio=0.8"}
    assert rows["B3@loss_ratio=0.2"]["label"] == "B3: coreset (hybrid), loss ratio 0.2"
    fig = json.loads((tmp_path / "r" / "runs.json").read_text())["figures"]["sample_efficiency"]["data"]["metrics"]
    (b3,) = [x for x in fig["plan_nll"] if x["label"] == "B3"]
    assert b3["n"] == [1] and lo in b3["run_ids"] and hi not in b3["run_ids"]  # one setting per curve, not a mix
    tex = (tmp_path / "r" / "results.tex").read_text()
    assert "\\PlanNllBthreeLossRatiozeropointtwo}" in tex and "\\DeltaBthreeLossRatiozeropointeightVsAPlanNll}" in tex
    assert "\\PlanNllBthree}" not in tex  # one run each: no configuration is the main one, so no short alias


def test_main_configuration_keeps_its_short_macro_names_beside_an_ablation(paper_store, tmp_path: Path) -> None:
    store, ids = paper_store
    stage = store.create_run("train", {"compare": "medium_cpu"}, name="compare-medium_cpu")
    abl = compare_run(store, stage, "B3", 0, loss_ratio=0.2)
    store.finish_run(stage)
    build_report(store, tmp_path / "r")
    macros = _macros((tmp_path / "r" / "results.tex").read_text())
    # B3 now has two rows; the 3-seed main one is also reachable under the names the prose used before
    for short, full in (("AccSelBthree", "AccSelBthreeLossRatiozeropointsix"),
                        ("AccSelBthreeStd", "AccSelBthreeLossRatiozeropointsixStd"),
                        ("DeltaBthreeVsRPlanNll", "DeltaBthreeLossRatiozeropointsixVsRPlanNll"),
                        ("DeltaBthreeVsA", "DeltaBthreeLossRatiozeropointsixVsA")):
        assert macros[short][0] == macros[full][0], short
        assert "alias" in macros[short][1] and abl not in macros[short][1].split("runs: ")[1]
    assert set(macros["AccSelBthree"][1].split("runs: ")[1].split()) == {ids[("B3", s)] for s in SEEDS}
    assert "AccSelBthreeLossRatiozeropointtwo" in macros and "AccSelA" in macros


def test_an_ablation_setting_with_as_many_seeds_does_not_take_the_main_names(store: RunStore, tmp_path: Path) -> None:
    """Seeds added to an ablation setting (a one-method stage) tie its run count with the main comparison's; the
    main row is the one from the comparison of every method, so the prose's short names keep pointing at it."""
    main = store.create_run("train", {"compare": "medium_cpu", "methods": ["A", "C"]}, name="compare-medium_cpu")
    ids = {(m, s): compare_run(store, main, m, s) for m in ("A", "C") for s in SEEDS}
    store.finish_run(main)
    stage = store.create_run("train", {"compare": "medium_cpu", "methods": ["C"]}, name="compare-medium_cpu")
    abl = [compare_run(store, stage, "C", s, replay_ratio=0.1, nll_shift=-0.1) for s in SEEDS]
    store.finish_run(stage)
    build_report(store, tmp_path / "r")
    macros = _macros((tmp_path / "r" / "results.tex").read_text())
    assert set(macros["AccSelC"][1].split("runs: ")[1].split()) == {ids[("C", s)] for s in SEEDS}
    assert not set(abl) & set(macros["AccSelC"][1].split("runs: ")[1].split())
    assert "AccSelCReplayRatiozeropointone" in macros and "AccSelCReplayRatiozeropointthree" in macros
    # and the setting is paired against the main one, seed by seed: the knob's effect with its interval
    sec = next(p for p in json.loads((tmp_path / "r" / "runs.json").read_text())["paired"]
               if p["reference"] == "C@replay_ratio=0.3")
    row = sec["rows"]["C@replay_ratio=0.1"]
    assert row["run_pairs"] == 3 and row["diffs"]["plan_nll"]["mean"] == pytest.approx(-0.1)
    assert macros["DeltaCReplayRatiozeropointoneVsCPlanNll"][0] == macros["DeltaCReplayRatiozeropointoneVsCReplayRatiozeropointthreePlanNll"][0] == r"\ensuremath{-0.100}"
    paired = (tmp_path / "r" / "paired.md").read_text()
    assert "## Difference to C: continual replay, replay ratio 0.3" in paired
    # the figures agree on which setting is main: the knob figure rings 0.3, not 0.1 (which a tie would pick)
    figs = json.loads((tmp_path / "r" / "runs.json").read_text())["figures"]
    assert figs["knob_ablation"]["data"]["main"]["replay_ratio"]["C"] == 0.3


def test_results_md_sets_the_trained_models_beside_retrieval_alone(paper_store, tmp_path: Path) -> None:
    """Selector evaluation runs on tool selection (no trained model) are the bar a trained model must clear: the
    target paragraph names them and counts the trained rows below the best; a selector's own boolean `split`
    flag (sub-queries) is not taken for the dataset's name."""
    store, _ = paper_store
    for name, acc, extra in (("keyword", 0.45, {}), ("two_stage", 0.55, {"split": True})):
        rid = store.create_run("eval", {"name": name, "task": "tool_selection", "limit": 40, **extra,
                                        "dataset": "/x/test_extended/tool_selection.jsonl"},
                               task="tool_selection", name=name, dataset_hash="f" * 64)
        store.add_sample_results(rid, [{"sample_id": f"ts-{i}", "ok": True, "metrics": {"acc@1": float(i % 20 < acc * 20)}}
                                       for i in range(N)])
        store.log_metrics(rid, {"acc@1": acc, "latency_p50_ms": 1.0})
        store.finish_run(rid)
    build_report(store, tmp_path / "r")
    md = (tmp_path / "r" / "results.md").read_text()
    para = next(p for p in md.split("\n\n") if p.startswith("**Against the 95% tool-selection target**"))
    assert "retrieval alone" in para and "two_stage 0.550" in para and "keyword 0.450" in para
    assert "(test_extended/tool_selection.jsonl, 40 samples)" in para and "True" not in para
    # the synthetic trained rows score about 0.5 each: all four below two_stage's 0.55
    assert "4 of 4 trained rows score below the best of these (two_stage, 0.550)" in para


def test_tex_syntax_check_catches_generator_bugs(paper_store, tmp_path: Path) -> None:
    store, _ = paper_store
    build_report(store, tmp_path / "r")
    for f in ("table1.tex", "paired.tex", "ablation.tex", "results.tex"):
        assert check_tex((tmp_path / "r" / f).read_text()) == [], f
    good = "\\begin{tabular}{l r}\n\\toprule\na & b \\\\\n\\bottomrule\n\\end{tabular}\n"
    assert check_tex(good) == []
    assert any("brace" in p for p in check_tex(good.replace("{l r}", "{l r")))
    assert any("cells" in p for p in check_tex(good.replace("a & b", "a & b & c")))
    assert any("letters only" in p for p in check_tex("\\newcommand{\\AccB3}{1}"))
    assert any("unknown control word" in p for p in check_tex("\\textbf{x} \\Undefined"))
    assert any("without a matching" in p for p in check_tex("\\begin{table}\\end{tabular}"))
    assert any("defined 2 times" in p for p in check_tex("\\newcommand{\\X}{1}\n\\newcommand{\\X}{2}"))


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (apt-get install texlive-latex-extra)")
def test_tables_compile_with_pdflatex_under_booktabs(paper_store, tmp_path: Path) -> None:
    store, _ = paper_store
    out = tmp_path / "r"
    build_report(store, out)
    (out / "paper.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\input{results.tex}\n"
        "\\begin{document}\nMethod A reaches \\AccSelA{} $\\pm$ \\AccSelAStd{}; B3 minus R on plan NLL is "
        "\\DeltaBthreeVsRPlanNll{} [\\DeltaBthreeVsRPlanNllLo, \\DeltaBthreeVsRPlanNllHi].\n"
        "\\input{table1.tex}\n\\input{paired.tex}\n\\input{ablation.tex}\n\\end{document}\n")
    res = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"], cwd=out,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stdout[-3000:]
    assert (out / "paper.pdf").stat().st_size > 1000
    log = (out / "paper.log").read_text(errors="replace")
    assert "Undefined control sequence" not in log and "Missing" not in log


def test_planner_runs_fed_by_different_selectors_are_separate_variants(store: RunStore, tmp_path: Path) -> None:
    for sel, v in (("keyword", 0.5), ("two_stage", 0.7)):
        rid = store.create_run("eval", {"name": "flat:sage", "task": "task_planning", "selector": {"name": sel},
                                        "dataset": "/x/test_extended/task_planning.jsonl", "limit": 50},
                               task="task_planning", name="flat:sage", dataset_hash="e" * 64)
        store.add_sample_results(rid, [{"sample_id": f"p{i}", "ok": True} for i in range(50)])
        store.log_metrics(rid, {"node_f1": v, "executability": v})
        store.finish_run(rid)
    build_report(store, tmp_path / "r")
    (sec,) = json.loads((tmp_path / "r" / "runs.json").read_text())["ablation"]
    assert set(sec["rows"]) == {"flat:sage [keyword]", "flat:sage [two_stage]"}
    md = (tmp_path / "r" / "results.md").read_text()
    assert "flat:sage [two_stage] 0.700" in md.replace("**", "")


def test_each_llm_planner_is_paired_with_greedy_on_the_same_selector(store: RunStore, tmp_path: Path) -> None:
    # grounded beats greedy on every goal with two_stage; with keyword the two are equal on average
    runs = {("greedy", "two_stage"): lambda i: 0.4, ("grounded:sage", "two_stage"): lambda i: 0.6 + 0.01 * (i % 3),
            ("greedy", "keyword"): lambda i: 0.3 + 0.2 * (i % 2), ("grounded:sage", "keyword"): lambda i: 0.5 - 0.2 * (i % 2),
            ("flat:sage", "embedding"): lambda i: 0.9}  # no greedy run on embedding: no pair
    for (name, sel), f1 in runs.items():
        rid = store.create_run("eval", {"name": name, "task": "task_planning", "selector": {"name": sel},
                                        "dataset": "/x/handwritten/confirm.jsonl", "split": "handwritten-confirm"},
                               task="task_planning", name=name, dataset_hash="h" * 64)
        store.add_sample_results(rid, [{"sample_id": f"p{i}", "ok": False, "task": "task_planning",
                                        "metrics": {"node_f1": f1(i)}} for i in range(40)])
        store.log_metrics(rid, {"node_f1": sum(f1(i) for i in range(40)) / 40})
        store.finish_run(rid)
    build_report(store, tmp_path / "r")
    md = (tmp_path / "r" / "results.md").read_text()
    tail = md.split("minus the no-LLM greedy planner on the same selector")[1].split("\n")[0]
    assert re.search(r"grounded \[two_stage\] \+0\.2\d\d \[\+0\.\d+, \+0\.\d+\] \(beyond noise\)", tail), tail
    assert "grounded [keyword] +0.000" in tail and "grounded [keyword] +0.000 [-" in tail and "(inside the noise)" in tail
    assert "flat" not in tail
    tex = (tmp_path / "r" / "results.tex").read_text()
    macro = re.search(r"^\\newcommand\{\\AblPlannerGroundedSageTwoStageVsGreedyPlanNodeF\}\{(.*)\} % (.*)$", tex, re.M)
    assert macro and macro.group(1).startswith(r"\ensuremath{+0.2") and "runs: eval-" in macro.group(2), tex[-2000:]
    assert r"\AblPlannerGroundedSageTwoStageVsGreedyPlanNodeFLo}" in tex and "FlatSageEmbeddingVsGreedy" not in tex


def test_knob_figure_draws_each_knob_against_its_main_setting_and_a(paper_store, tmp_path: Path) -> None:
    """The ablation-knob figure: one series per method and knob over the values it ran (other knobs at the main
    setting), the main setting with its seeds, A as the reference; a replay variant of C stays out of the
    forgetting figure, which is about the main setting."""
    store, ids = paper_store
    stage = store.create_run("train", {"compare": "medium_cpu"}, name="compare-medium_cpu")
    lo = compare_run(store, stage, "B3", 0, loss_ratio=0.2)
    hi = compare_run(store, stage, "B3", 0, loss_ratio=0.8, nll_shift=0.3)
    rep = compare_run(store, stage, "C", 0, replay_ratio=1.0)
    store.finish_run(stage)
    for rid in [ids[("C", s)] for s in SEEDS] + [rep]:
        drop = 0.5 if rid == rep else 0.0  # the variant forgets a lot; the main setting does not
        for step in range(2):
            for j in range(step + 1):
                store.log_metric(rid, f"chunk_acc/c{j}", 0.8 - drop * (step - j), step=step)
    build_report(store, tmp_path / "r")
    figs = json.loads((tmp_path / "r" / "runs.json").read_text())["figures"]
    knobs = figs["knob_ablation"]["data"]
    assert (tmp_path / "r" / "figures" / "knob_ablation.png").is_file()
    (b3,) = knobs["panels"]["loss_ratio"]["plan_nll"]
    assert b3["label"] == "B3" and b3["x"] == [0.2, 0.6, 0.8] and b3["n"] == [1, 3, 1]
    assert b3["y"][2] == pytest.approx(b3["y"][0] + 0.3, abs=0.05) and {lo, hi} <= set(b3["run_ids"])
    assert knobs["main"]["loss_ratio"] == {"B3": 0.6} and knobs["main"]["replay_ratio"] == {"C": 0.3}
    assert knobs["reference"]["acc@1"]["n"] == 3 and set(knobs["reference"]["acc@1"]["run_ids"]) == {ids[("A", s)] for s in SEEDS}
    assert "buffer_size" not in knobs["panels"]  # one value everywhere: nothing to draw
    (c,) = figs["forgetting"]["data"]["first_chunk"]
    assert rep not in c["run_ids"] and c["y"] == pytest.approx([0.8, 0.8])
