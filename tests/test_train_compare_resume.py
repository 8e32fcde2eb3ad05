"""`train compare` tiers, ablation grids and `--resume PARENT` on the tiny random model: a comparison
stopped after one cell continues in a new call (another process in real use) and skips the finished
cell; generated plans through a planner (the llama.cpp path) score the planner's greedy fallback as an
empty plan."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from core.store import RunStore
from training.tiny import build_tiny_model_dir, tiny_dialogs


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_compare")
    corpus = [m["content"] or "" for x in tiny_dialogs(30) for m in x["messages"]]
    return build_tiny_model_dir(d / "m", corpus)


def _tiny_cfg(tmp_path, tiny_dir, extra_eval: str = "") -> str:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(x) + "\n" for x in tiny_dialogs(12)))
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(f'name = "tiny"\n[model]\nbase = "{tiny_dir}"\nmax_seq_len = 128\n'
                   f'[data]\ntrain = "{data}"\n[train]\nbatch_size = 4\nlr = 0.01\n'
                   '[coreset]\nbudget = 0.5\nembed_model = "tfidf"\n[continual]\nbuffer_size = 8\n'
                   '[eval]\ntool_selection = 2\ntool_retrieval = -1\ntiming_judgment = 2\ntask_planning = -1\n'
                   f'plan_scored = 1\ntiming_split = "test_extended"\n{extra_eval}')
    return str(cfg)


def test_tiers_are_presets_with_the_promised_sizes():
    from training.config import TIERS, load_config

    assert TIERS == {"quick": "quick_cpu", "medium": "medium_cpu", "full": "full_gpu"}
    quick = load_config("quick_cpu")
    assert quick.data.limit == 20 and quick.eval.task_planning == -1 and quick.eval.plan_backend == "hf"
    med = load_config("medium_cpu")
    assert med.data.limit * 4 >= 400  # >= 400 training dialogs per seed (4 task types)
    assert min(med.eval.tool_selection, med.eval.timing_judgment) >= 200 and med.eval.plan_scored >= 100 and med.eval.prefix_cache
    assert med.eval.task_planning >= 50 and med.eval.plan_backend == "llamacpp" and med.eval.split == "test_extended"
    full = load_config("full_gpu")
    assert full.data.limit == 0 and full.eval.tool_selection >= 200 and full.eval.task_planning >= 50 and full.train.epochs == 1


def test_ablation_grid_cells_apply_only_where_the_knob_matters():
    from training.compare import ABLATIONS, cell_key, plan_cells
    from training.config import load_config

    base = load_config("quick_cpu")
    ab = ABLATIONS["budget"]
    cells = plan_cells(base, "quick_cpu", ab["methods"], 2, ab["grid"])
    keys = [k for k, _ in cells]
    assert len(keys) == len(set(keys))
    # A once per seed (no budget), each coreset method at the four budgets: 2 * (1 + 4 * 4)
    assert len(cells) == 2 * (1 + 4 * 4)
    assert len(ab["grid"]["budget"]) >= 4
    a = [c for k, c in cells if k.startswith("A|")]
    assert [c.coreset.budget for c in a] == [0, 0] and [c.train.seed for c in a] == [0, 1]
    b3 = {c.coreset.budget for k, c in cells if k.startswith("B3|")}
    assert b3 == {0.1, 0.2, 0.4, 0.6}
    assert all(cell_key(c.to_dict()) == k for k, c in cells)
    # seed-major: every cell of seed 0 comes before any of seed 1 (a partial run is whole seeds)
    seeds = [c.train.seed for _, c in cells]
    assert seeds == sorted(seeds)
    rep = plan_cells(base, "quick_cpu", ["A", "C"], 1, ABLATIONS["replay"]["grid"])
    c_cells = [c for k, c in rep if k.startswith("C|")]
    assert {(c.continual.replay_ratio, c.continual.buffer_size) for c in c_cells} >= {(0.1, 32), (1.0, 32), (0.3, 256)}
    assert isinstance(c_cells[0].continual.buffer_size, int)
    hyb = plan_cells(base, "quick_cpu", ["B1", "B3"], 1, ABLATIONS["hybrid_ratio"]["grid"])
    assert sorted(c.coreset.loss_ratio for k, c in hyb if k.startswith("B3|")) == [0.2, 0.4, 0.6, 0.8]
    assert len([k for k, _ in hyb if k.startswith("B1|")]) == 1  # loss_ratio does not apply to loss_topk


def test_epochs_knob_keys_only_cells_off_their_usual_value():
    """The epochs control (C trained twice per chunk) gets a cell of its own, while every cell at 1 epoch keeps
    the key it was stored under before the knob existed (so stored stages still resume as finished)."""
    from training.compare import cell_key, plan_cells
    from training.config import load_config
    from training.medium_plan import STAGES

    base = load_config("quick_cpu")
    cells = plan_cells(base, "quick_cpu", ["A", "C"], 1, STAGES["replay_steps"]["grid"])
    keys = dict(cells)
    c2 = [c for k, c in cells if k.startswith("C|")]
    assert [c.train.epochs for c in c2] == [2] and isinstance(c2[0].train.epochs, int)
    c_keys = [k for k in keys if k.startswith("C|")]
    assert len(c_keys) == 1 and c_keys[0].endswith("|epochs=2") and "replay_ratio=" in c_keys[0]
    a = [k for k in keys if k.startswith("A|")]
    assert a == ["A|seed=0"]  # the knob does not apply to A
    one = plan_cells(base, "quick_cpu", ["C"], 1)[0]
    assert one[1].train.epochs == 1 and "epochs" not in one[0] and cell_key(one[1].to_dict()) == one[0]


def test_resume_skips_the_finished_cell(tiny_dir, tmp_path, monkeypatch):
    from training import pipeline
    from training.compare import finished_cells, run_compare

    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    pipeline.BASE_LOSS_CACHE.clear()
    cfg = _tiny_cfg(tmp_path, tiny_dir)
    store = RunStore(tmp_path / "runs.db")
    first = run_compare(cfg, store, methods=["B1", "B3"], seeds=1, max_cells=1, log=lambda s: None)
    assert [r["config"]["method"] for r in first] == ["B1"]
    b1_id = first[0]["run_id"]
    assert store.final_metrics(b1_id)["coreset_scored"] == 12
    parent = store.get_run(b1_id)["parent_id"]
    p = store.get_run(parent)
    assert p["status"] == "interrupted" and f"--resume {parent}" in p["error"]
    assert p["config"]["cells"] == ["B1|seed=0|budget=0.5", "B3|seed=0|budget=0.5|loss_ratio=0.6"]

    # a cell that was interrupted (killed mid-training) counts as not finished
    ghost = store.create_run("train", {"method": "B3", "train": {"seed": 0}, "coreset": {"budget": 0.5, "loss_ratio": 0.6}},
                             method="B3", parent_id=parent)
    store.finish_run(ghost, "interrupted")
    assert set(finished_cells(store, parent)) == {"B1|seed=0|budget=0.5"}

    # a new process: nothing in memory; the base-model losses come from the disk cache
    pipeline.BASE_LOSS_CACHE.clear()
    pipeline._LOSS_CACHE_LOADED.clear()
    lines: list[str] = []
    second = run_compare(None, store, resume=parent, log=lines.append)
    assert [r["config"]["method"] for r in second] == ["B1", "B3"]
    assert second[0]["run_id"] == b1_id  # not trained again
    assert any("finished earlier" in s and b1_id in s for s in lines)
    assert sum(s.startswith("== method") for s in lines) == 1  # only B3 ran
    b3 = store.final_metrics(second[1]["run_id"])
    assert b3["coreset_scored"] == 0 and b3["coreset_cached"] == 12
    kids = [r for r in store.list_runs(kind="train") if r.get("parent_id") == parent]
    assert sorted((r["method"], r["status"]) for r in kids) == [("B1", "completed"), ("B3", "completed"), ("B3", "interrupted")]
    p = store.get_run(parent)
    assert p["status"] == "completed" and p["error"] is None
    final = store.final_metrics(parent)
    assert final["cells_done"] == 2 and final["cells_total"] == 2 and final["wall_seconds"] > 0

    # a piece still running (a live pid) is not resumed twice
    import os

    from core.errors import UsageError

    store.update_run(parent, status="running", pid=os.getpid())
    with pytest.raises(UsageError, match="is running"):
        run_compare(None, store, resume=parent, log=lambda s: None)
    store.finish_run(parent, "completed")
    # resuming a finished comparison trains nothing
    again = run_compare(None, store, resume=parent, max_cells=1, log=lambda s: None)
    assert [r["run_id"] for r in again] == [b1_id, second[1]["run_id"]]
    assert store.get_run(parent)["status"] == "completed"


def test_cli_compare_max_cells_then_resume(tiny_dir, tmp_path, monkeypatch):
    from sage_tui.cli import app

    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    cfg = _tiny_cfg(tmp_path, tiny_dir)
    db = str(tmp_path / "runs.db")
    r = CliRunner().invoke(app, ["train", "compare", "--config", cfg, "--method", "A", "--method", "R",
                                 "--max-cells", "1", "--db", db, "--json"])
    assert r.exit_code == 0, r.output
    runs = json.loads(r.stdout)["runs"]
    assert [x["cell"] for x in runs] == ["A|seed=0"]
    store = RunStore(db)
    parent = store.get_run(runs[0]["run_id"])["parent_id"]
    bad = CliRunner().invoke(app, ["train", "compare", "--resume", parent, "--method", "A", "--db", db])
    assert bad.exit_code == 2 and "--resume" in bad.output
    r = CliRunner().invoke(app, ["train", "compare", "--resume", parent, "--db", db, "--json"])
    assert r.exit_code == 0, r.output
    runs2 = json.loads(r.stdout)["runs"]
    assert [x["cell"] for x in runs2] == ["A|seed=0", "R|seed=0|budget=0.5"]
    assert runs2[0]["run_id"] == runs[0]["run_id"]
    assert store.get_run(parent)["status"] == "completed"
    unknown = CliRunner().invoke(app, ["train", "compare", "--ablation", "nope", "--db", db])
    assert unknown.exit_code == 2


def test_generated_plan_through_a_planner_scores_the_fallback_as_empty():
    """The llama.cpp path plans with a core.planning planner; a model answer with no usable step makes the
    planner fall back to the retriever's top tool, which must not count as the model's plan."""
    from planning_support import ScriptedBackend

    from core.catalog import load_catalog_cached
    from core.planning.registry import make_planner
    from training.evaluate import _load, eval_planning_planner

    catalog = load_catalog_cached()
    sample = _load("task_planning", "test_extended", 1)[0]
    gold = sample["gold"]["steps"]
    answer = {"steps": [{"id": i + 1, "tool_id": s["tool_id"], "arguments": s.get("arguments", {}),
                         "depends_on": s.get("depends_on", [])} for i, s in enumerate(gold)]}
    good = make_planner("flat", catalog, backend=ScriptedBackend([answer]))
    r = eval_planning_planner(good, sample, catalog)
    assert r["metrics"]["node_f1"] == 1.0 and r["metrics"]["fallback"] == 0.0 and r["pred"]
    bad = make_planner("flat", catalog, backend=ScriptedBackend(['{"steps": []}']))
    r = eval_planning_planner(bad, sample, catalog)
    assert r["metrics"]["fallback"] == 1.0 and r["pred"] == []
    assert r["metrics"]["node_f1"] == 0.0 and r["metrics"]["executability"] == 0.0 and not r["ok"]


def test_llamacpp_plan_backend_is_wired_through_the_exported_adapter(tiny_dir, tmp_path, monkeypatch):
    """`eval.plan_backend = "llamacpp"`: the adapter is exported to GGUF first, the generator gets that file,
    its plans are the run's task_planning rows, and the engine is closed afterwards (a scripted generator
    stands in for llama.cpp: the tiny model has no GGUF base)."""
    from training import pipeline
    from training.compare import run_compare

    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    seen: dict[str, object] = {}

    def fake_export(cfg, adapter):
        assert (adapter / "adapter_model.safetensors").is_file()  # the trained adapter is saved before export
        out = adapter / "adapter.gguf"
        out.write_bytes(b"GGUF")
        return out

    class FakeGen:
        def __init__(self, gguf, catalog, **kw):
            seen.update(gguf=gguf, kw=kw)
            self.closed = False
            seen["gen"] = self

        def __call__(self, sample, catalog):
            return {"ok": False, "metrics": {"executability": 1.0, "node_f1": 0.5, "edge_f1": 0.0,
                                             "exact_match": 0.0, "fallback": 0.0}, "pred": []}

        def close(self):
            self.closed = True

    monkeypatch.setattr(pipeline, "export_gguf", fake_export)
    monkeypatch.setattr(pipeline, "make_plan_generator", FakeGen)
    cfg = _tiny_cfg(tmp_path, tiny_dir, 'plan_backend = "llamacpp"\nplanner = "flat"\nplan_threads = 1\n')
    text = open(cfg).read().replace("task_planning = -1", "task_planning = 3")
    open(cfg, "w").write(text)
    store = RunStore(tmp_path / "runs.db")
    (res,) = run_compare(cfg, store, methods=["A"], log=lambda s: None)
    assert str(seen["gguf"]).endswith("adapter/adapter.gguf") and seen["gen"].closed
    assert seen["kw"]["planner"] == "flat" and seen["kw"]["threads"] == 1
    rows = [x for x in store.sample_results(res["run_id"]) if x["task"] == "task_planning"]
    assert len(rows) == 3 and all(x["metrics"]["node_f1"] == 0.5 for x in rows)
    final = store.final_metrics(res["run_id"])
    assert final["executability"] == 1.0 and final["node_f1"] == 0.5 and final["eval_n/task_planning"] == 3
    assert "ci95/node_f1" in final
    assert any(a["kind"] == "adapter_gguf" for a in store.artifacts(res["run_id"]))


def test_gpu_full_script_parses_and_rejects_unknown_modes():
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "bench" / "gpu_full.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    res = subprocess.run(["bash", str(script), "nope"], capture_output=True, text=True)
    assert res.returncode == 2 and "usage" in res.stderr
    text = script.read_text()
    for step in ("install", "compare --full", "--resume", "report --db", "export-jsonl", "$OUT"):
        assert step in text, step


def test_first_seed_adds_seeds_to_another_comparisons_cells(tiny_dir, tmp_path, monkeypatch):
    """A stage that adds seeds 1-2 to settings whose seed 0 ran elsewhere plans only those seeds, seed-major;
    its parent is told apart from a seed-0 stage of the same grid, and a resume neither reruns seed 0 nor
    forgets where the seeds start."""
    from training import pipeline
    from training.compare import UsageError, plan_cells, run_compare
    from training.config import load_config
    from training.medium_plan import STAGES, find_parent

    stage = STAGES["replay_seeds"]
    cells = plan_cells(load_config("quick_cpu"), "quick_cpu", stage["methods"], stage["seeds"], stage["grid"],
                       stage["first_seed"])
    assert [c.train.seed for _, c in cells] == [1, 1, 2, 2]
    assert [c.continual.replay_ratio for _, c in cells][:2] == [1.0, 0.3] and [c.train.epochs for _, c in cells][:2] == [1, 2]
    assert all("|seed=0" not in k for k, _ in cells) and len({k for k, _ in cells}) == 4

    store = RunStore(tmp_path / "runs.db")
    base = {"compare": "medium_cpu", "base": {}, "methods": ["C"], "grid": stage["grid"]}
    seed0 = store.create_run("train", {**base, "seeds": 1})
    mine = store.create_run("train", {**base, "seeds": 3, "first_seed": 1})
    assert find_parent(store, stage)["id"] == mine
    assert find_parent(store, {**stage, "first_seed": 0})["id"] == seed0

    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    pipeline.BASE_LOSS_CACHE.clear()
    cfg = _tiny_cfg(tmp_path, tiny_dir)
    with pytest.raises(UsageError, match="first seed 2"):
        run_compare(cfg, store, methods=["A"], seeds=2, first_seed=2, log=lambda s: None)
    from sage_tui.cli import app

    db = str(tmp_path / "runs.db")
    res = CliRunner().invoke(app, ["train", "compare", "--config", cfg, "--method", "A", "--seeds", "2",
                                   "--first-seed", "1", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)["runs"]
    assert [(r["config"]["method"], r["config"]["seed"]) for r in first] == [("A", 1)]
    parent = store.get_run(first[0]["run_id"])["parent_id"]
    assert store.get_run(parent)["config"]["first_seed"] == 1
    bad = CliRunner().invoke(app, ["train", "compare", "--resume", parent, "--first-seed", "1", "--db", db])
    assert bad.exit_code == 2 and "--resume" in bad.output
    again = run_compare(None, store, resume=parent, log=lambda s: None)
    assert [r["run_id"] for r in again] == [first[0]["run_id"]]
