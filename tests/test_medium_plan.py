"""training/medium_plan.py (driven by bench/medium_tier.py): a stage's comparison is found by preset, methods and
grid, so an unfinished stage is resumed instead of started again, and its finished cells are counted."""

from __future__ import annotations

from core.store import RunStore
from training.medium_plan import PRESET, STAGES, cells_status, find_parent


def _parent(store: RunStore, stage: dict, *, preset: str = PRESET, cells: int = 3) -> str:
    return store.create_run("train", {"compare": preset, "methods": stage["methods"], "seeds": stage["seeds"],
                                      "grid": stage["grid"], "cells": [f"c{i}" for i in range(cells)], "base": {}},
                            name=f"compare-{preset}")


def _cell(store: RunStore, parent: str, method: str, seed: int, status: str = "completed") -> str:
    rid = store.create_run("train", {"method": method, "train": {"seed": seed}, "coreset": {"budget": 0.1}},
                           method=method, parent_id=parent)
    store.finish_run(rid, status)
    return rid


def test_stages_are_found_by_preset_methods_and_grid(store: RunStore) -> None:
    budget = STAGES["budget"]
    assert find_parent(store, budget) is None
    _parent(store, budget, preset="quick_cpu")  # another tier: not this stage
    _parent(store, STAGES["hybrid_ratio"])  # another stage of this tier
    assert find_parent(store, budget) is None
    pid = _parent(store, budget)
    found = find_parent(store, budget)
    assert found is not None and found["id"] == pid
    assert find_parent(store, STAGES["main"]) is None
    # its cells: only completed children count, once per cell key
    _cell(store, pid, "B3", 0)
    _cell(store, pid, "R", 0)
    _cell(store, pid, "R", 0)  # the same cell twice (re-run): counted once
    _cell(store, pid, "B3", 1, status="interrupted")
    done, total, secs = cells_status(store, found)
    assert (done, total) == (2, 3) and secs >= 0
    assert cells_status(store, None) == (0, 0, 0.0)


def test_every_stage_leaves_out_what_the_main_comparison_has() -> None:
    """The ablation grids add points to the curves; the main comparison's own values (budget 0.4, loss ratio 0.6,
    replay 0.3 / 128, read from the medium preset) are not trained twice."""
    from training.config import load_config

    base = load_config(PRESET)
    assert base.coreset.budget not in STAGES["budget"]["grid"]["budget"]
    assert base.coreset.loss_ratio not in STAGES["hybrid_ratio"]["grid"]["loss_ratio"]
    assert base.continual.replay_ratio not in STAGES["replay"]["grid"]["replay_ratio"]
    assert base.continual.buffer_size not in STAGES["replay"]["grid"]["buffer_size"]
    assert len(STAGES["budget"]["grid"]["budget"]) + 2 >= 4  # with 0.4 (main) and 1.0 (A): >= 4 x-values


def test_only_the_main_comparison_is_scored_on_the_external_sets() -> None:
    """The paper's table reports the trained agent on MetaTool and Seal-Tools; the ablations skip that cost."""
    assert STAGES["main"]["external"] is True
    assert [n for n, s in STAGES.items() if s["external"]] == ["main"]
