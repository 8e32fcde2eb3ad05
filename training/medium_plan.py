"""The medium CPU tier as stages of `train compare` (driven by bench/medium_tier.py): what each stage runs,
and finding a stage's parent run in the store so an unfinished stage is resumed, not restarted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from training.compare import finished_cells

PRESET = "medium_cpu"
# one seed for the ablations; each grid leaves out the value the main comparison already has. `external`:
# score every cell on the imported external sets too (~10 min a cell on 2 cores); only the main comparison
# reports them (the paper's table), the ablations compare settings of one method on the bundled splits.
STAGES: dict[str, dict[str, Any]] = {
    "main": {"methods": ["A", "B1", "B2", "B3", "C", "D", "R"], "seeds": 3, "grid": {}, "external": True},
    "budget": {"methods": ["B3", "R"], "seeds": 1, "grid": {"budget": [0.1, 0.2, 0.6]}, "external": False},
    "hybrid_ratio": {"methods": ["B3"], "seeds": 1, "grid": {"loss_ratio": [0.2, 0.4, 0.8]}, "external": False},
    # buffer sizes first, then the ratio's ends, 0.5 last: a stage cut after 4 of its 5 cells still has 3
    # values of each knob (with main's 0.3 / 128)
    "replay": {"methods": ["C"], "seeds": 1, "grid": {"buffer_size": [16, 256], "replay_ratio": [0.1, 1.0, 0.5]},
               "external": False},
    # more replay also means more training steps (ratio 1.0: 168 vs 119 at 0.3); the control: main's replay
    # ratio with every chunk trained twice (~238 steps), i.e. more passes without more replay
    "replay_steps": {"methods": ["C"], "seeds": 1, "grid": {"epochs": [2]}, "external": False},
    # seeds 1-2 of replay ratio 1.0 and of its step control (seed 0 of each is in the two stages above), so
    # "more replay helps selection, more passes do not" rests on three seeds; seed-major: one whole seed first
    "replay_seeds": {"methods": ["C"], "seeds": 3, "first_seed": 1, "grid": {"replay_ratio": [1.0], "epochs": [2]},
                     "external": False},
    # seeds 1-2 of the sample-efficiency curve (B3 and R at 10 / 20 / 60 %; 40 % is main's, A the 100 % point), so
    # every point of the paper's figure has three seeds; ~15 min a cell
    "budget_seeds": {"methods": ["B3", "R"], "seeds": 3, "first_seed": 1, "grid": {"budget": [0.1, 0.2, 0.6]},
                     "external": False},
}


def _grid(g: dict[str, Any] | None) -> dict[str, list[float]]:
    return {k: [float(v) for v in vs] for k, vs in (g or {}).items()}


def find_parent(store: Any, stage: dict[str, Any], preset: str = PRESET) -> dict[str, Any] | None:
    """The newest comparison parent of `preset` with this stage's methods and grid (None: not started)."""
    hits = [r for r in store.list_runs(kind="train")
            if not r.get("parent_id") and (c := r.get("config") or {}).get("compare") == preset and "base" in c
            and list(c.get("methods") or []) == list(stage["methods"]) and _grid(c.get("grid")) == _grid(stage["grid"])
            and int(c.get("first_seed") or 0) == int(stage.get("first_seed") or 0)]
    return max(hits, key=lambda r: (r.get("started") or "", r["id"])) if hits else None


def cells_status(store: Any, parent: dict[str, Any] | None) -> tuple[int, int, float]:
    """(cells done, cells planned, wall seconds the done cells took) of a stage's parent run."""
    if parent is None:
        return 0, 0, 0.0
    done = finished_cells(store, parent["id"])
    secs = sum((datetime.fromisoformat(r["ended"]) - datetime.fromisoformat(r["started"])).total_seconds()
               for r in done.values() if r.get("started") and r.get("ended"))
    return len(done), len((parent.get("config") or {}).get("cells") or []), secs
