"""Training screen: form -> validated config and command; a real quick job with the tiny test model is
launched, followed through the run store, and shows up in the dashboard; reopening shows a job's state."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Log, ProgressBar, Select, Static

from core.errors import ConfigError
from core.store import RunStore
from sage_tui.app import SageApp
from sage_tui.config import UIConfig
from sage_tui.screens.train import TrainScreen
from sage_tui.screens.train_form import build_config, shown_command, train_command


def test_form_values_become_a_validated_config() -> None:
    cfg = build_config({"t-method": "B3", "t-strategy": "hybrid", "t-budget": "0.4", "t-r": "4", "t-lr": "0.001",
                        "t-continual": "off"}, None)
    assert (cfg.method, cfg.coreset.strategy, cfg.coreset.budget, cfg.lora.r, cfg.train.lr) == ("B3", "hybrid", 0.4, 4, 0.001)
    with pytest.raises(ConfigError, match="lora.r"):
        build_config({"t-r": "four"}, None)
    with pytest.raises(ConfigError, match="coreset.budget"):  # training's own validation: strategy needs a budget
        build_config({"t-strategy": "loss_topk", "t-budget": "0"}, None)
    cmd = train_command("/x/c.toml", Path("/x/runs.db"), "train-1")
    assert shown_command(cmd) == "sage-tui train run --config /x/c.toml --detach --db /x/runs.db"


@pytest.mark.asyncio
async def test_reopening_shows_a_running_jobs_state(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.db")
    rid = store.create_run("train", {"method": "B1", "train": {"max_steps": 8}}, method="B1", run_id="train-live",
                           pid=os.getpid())  # this process: alive, so the run stays `running`
    store.log_event(rid, "coreset loss_topk: 5 of 12 samples", payload={"per_task": {"tool_selection": 3, "timing_judgment": 2}})
    for step in (1, 2, 3, 4):
        store.log_metrics(rid, {"loss": 2.0 / step, "tokens_per_second": 500.0, "peak_memory_mb": 900.0}, split="train", step=step)
    store.log_event(rid, "step=4/8 epoch=0 loss=0.5000")
    store.close()
    app = SageApp(db=tmp_path / "runs.db", config=UIConfig(), mode="train")
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, TrainScreen) and screen.run_id == "train-live"
        bar = screen.query_one("#job-progress", ProgressBar)
        assert (bar.progress, bar.total) == (4, 8)
        info = str(screen.query_one("#job-info", Static).content)
        assert "running" in info and "500 tok/s" in info and "peak 900 MB" in info
        picks = screen.query_one("#picks-table", DataTable)
        assert [picks.get_row_at(i)[:2] for i in range(2)] == [["timing_judgment", "2"], ["tool_selection", "3"]]
        assert "step=4/8" in "\n".join(screen.query_one("#job-lines", Log).lines)
        assert screen.query_one("#t-job", Select).value == "train-live"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from training.tiny import build_tiny_model_dir, tiny_dialogs

    d = tmp_path_factory.mktemp("tui-train")
    dialogs = tiny_dialogs(12)
    (d / "train.jsonl").write_text("".join(json.dumps(x) + "\n" for x in dialogs))
    md = build_tiny_model_dir(d / "m", [m["content"] or "" for x in dialogs for m in x["messages"]])
    return d / "train.jsonl", md


@pytest.mark.asyncio
async def test_launch_quick_training_then_see_it_in_the_dashboard(tiny: tuple[Path, Path], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    data, model_dir = tiny
    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    app = SageApp(db=tmp_path / "runs.db", config=UIConfig(), mode="train")
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        values = {"#t-name": "tui-quick", "#t-base": str(model_dir), "#t-dataset": str(data), "#t-batch": "2",
                  "#t-lr": "0.01", "#t-epochs": "1"}
        for sel, v in values.items():
            screen.query_one(sel, Input).value = v
        await pilot.pause()
        assert "✗" not in str(screen.query_one("#command-preview", Static).content)
        await pilot.press("ctrl+r")
        rid = screen.run_id
        assert rid and rid.startswith("train-")
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            await pilot.pause(0.5)
            info = str(screen.query_one("#job-info", Static).content)
            if "completed" in info or "failed" in info:
                break
        assert "completed" in info, info
        bar = screen.query_one("#job-progress", ProgressBar)
        assert bar.total == 6 and bar.progress == 6  # 12 dialogs / batch 2
        assert screen._last_loss_n == 6  # the loss curve got every step
        await pilot.press("f4")
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#runs-table", DataTable)
        ids = [table.coordinate_to_cell_key((r, 0)).row_key.value for r in range(table.row_count)]
        assert rid in ids
    run = RunStore(tmp_path / "runs.db").get_run(rid)
    assert run["status"] == "completed" and run["name"] == "tui-quick" and run["pid"] != os.getpid()
