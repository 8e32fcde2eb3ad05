"""Snapshot tests (pytest-textual-snapshot) of every screen at 120x40 with deterministic content.

Update after an intended UI change with `pytest tests/test_tui_snapshots.py --snapshot-update`, then look at
the SVGs in tests/__snapshots__/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input
from tui_seed import seed_store, write_catalog

from sage_tui.app import SageApp
from sage_tui.config import UIConfig
from sage_tui.widgets.dag import DagView

SIZE = (120, 40)


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # relative paths keep the screens free of temp dir names
    seed_store(Path("runs.db")).close()
    catalog = write_catalog(Path("tools.jsonl"))

    def make(mode: str, **kw: object) -> SageApp:
        return SageApp(db=Path("runs.db"), config=UIConfig(selector="keyword", timing="hybrid", planner="hierarchical"), catalog_path=catalog,
                       mode=mode, **kw)  # type: ignore[arg-type]

    return make


async def settle(pilot: Pilot) -> None:
    await pilot.pause(0.2)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.2)


def test_dashboard(snap_compare, make_app) -> None:
    assert snap_compare(make_app("dashboard"), terminal_size=SIZE, run_before=settle)


def test_run_detail(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        table = pilot.app.screen.query_one("#runs-table", DataTable)
        table.move_cursor(row=4)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app("dashboard"), terminal_size=SIZE, run_before=run_before)


def test_compare(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("space", "space", "c")
        await settle(pilot)

    assert snap_compare(make_app("dashboard"), terminal_size=SIZE, run_before=run_before)


def test_charts(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)

    assert snap_compare(make_app("dashboard"), terminal_size=SIZE, run_before=run_before)


def test_eval_launch(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)

    assert snap_compare(make_app("dashboard"), terminal_size=SIZE, run_before=run_before)


def test_catalog(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        pilot.app.screen.query_one("#catalog-search", Input).cursor_blink = False  # a blinking cursor is timing
        await settle(pilot)

    assert snap_compare(make_app("catalog"), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, make_app) -> None:
    assert snap_compare(make_app("catalog"), terminal_size=SIZE, press=["f1"], run_before=settle)


def test_train(snap_compare, make_app) -> None:
    assert snap_compare(make_app("train"), terminal_size=SIZE, run_before=settle)


def test_plan(snap_compare, make_app) -> None:
    from test_tui_plan import GOAL, ScriptedBackend

    async def run_before(pilot: Pilot) -> None:
        screen = pilot.app.screen
        screen.query_one("#goal", Input).value = GOAL
        await pilot.press("enter")
        await settle(pilot)
        screen.sub_title = "done"  # the real one holds the elapsed time and a fresh run id
        screen.query_one(DagView).focus()
        await pilot.pause()

    assert snap_compare(make_app("plan", llm_backend=ScriptedBackend()), terminal_size=SIZE, run_before=run_before)
