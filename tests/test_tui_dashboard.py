"""Dashboard flows on a seeded temp run store: list, filter, sort, detail, compare, charts."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Select
from tui_seed import seed_store, write_catalog

from sage_tui.app import SageApp
from sage_tui.config import UIConfig
from sage_tui.screens._runs import comparison_rows, method_matches, metric_by_method, sort_runs
from sage_tui.screens.charts import ChartsScreen
from sage_tui.screens.compare import CompareScreen
from sage_tui.screens.run_detail import RunDetailScreen


@pytest.fixture
def app(tmp_path: Path) -> SageApp:
    seed_store(tmp_path / "runs.db").close()
    return SageApp(db=tmp_path / "runs.db", config=UIConfig(), catalog_path=write_catalog(tmp_path / "tools.jsonl"), mode="dashboard")


def row_ids(table: DataTable) -> list[str]:
    return [table.coordinate_to_cell_key((r, 0)).row_key.value for r in range(table.row_count)]


@pytest.mark.asyncio
async def test_lists_filters_and_sorts_runs(app: SageApp) -> None:
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#runs-table", DataTable)
        assert row_ids(table) == ["train-b3", "train-a", "eval-two-stage", "eval-embedding", "eval-keyword"]
        app.screen.query_one("#f-kind", Select).value = "eval"
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert set(row_ids(table)) == {"eval-two-stage", "eval-embedding", "eval-keyword"}
        app.screen.query_one("#f-sort", Select).value = "acc@1"
        await pilot.pause()
        assert row_ids(table) == ["eval-two-stage", "eval-keyword", "eval-embedding"]
        await pilot.press("s")  # reverse
        assert row_ids(table) == ["eval-embedding", "eval-keyword", "eval-two-stage"]


@pytest.mark.asyncio
async def test_detail_shows_metrics_and_failures(app: SageApp) -> None:
    async with app.run_test(size=(140, 45)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#runs-table", DataTable)
        table.move_cursor(row=row_ids(table).index("eval-keyword"))
        table.focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, RunDetailScreen)
        metrics = app.screen.query_one("#detail-metrics", DataTable)
        got = {metrics.get_row_at(i)[0]: metrics.get_row_at(i)[1] for i in range(metrics.row_count)}
        assert got["acc@1"] == "0.620" and got["samples stored"] == "6"
        failures = app.screen.query_one("#detail-failures", DataTable)
        assert [failures.get_row_at(i)[0] for i in range(failures.row_count)] == ["s0", "s3"]
        await pilot.press("escape")
        assert not isinstance(app.screen, RunDetailScreen)


@pytest.mark.asyncio
async def test_compare_two_runs_with_config_diff(app: SageApp) -> None:
    async with app.run_test(size=(140, 45)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#runs-table", DataTable)
        table.focus()
        await pilot.press("c")  # nothing marked: refused with a notice
        assert not isinstance(app.screen, CompareScreen)
        await pilot.press("space", "space", "c")  # marks train-b3 and train-a
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        cmp = screen.query_one("#compare-table", DataTable)
        keys = [cmp.coordinate_to_cell_key((r, 0)).row_key.value for r in range(cmp.row_count)]
        assert "config:coreset.strategy" in keys and "config:lora.r" not in keys  # equal values hidden
        assert "metric:acc@1" in keys
        acc = cmp.get_row("metric:acc@1")
        assert [str(c) for c in acc[2:]] == ["0.630", "0.550"]
        await pilot.press("d")
        keys = [cmp.coordinate_to_cell_key((r, 0)).row_key.value for r in range(cmp.row_count)]
        assert "config:lora.r" in keys
        await pilot.press("g")
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ChartsScreen)
        assert app.screen.query_one("#chart-metric", Select).value == "acc@1"


def test_pure_helpers() -> None:
    runs = [{"id": "a", "kind": "eval", "method": "A", "config": {"x": 1, "y": {"z": 2}}},
            {"id": "b", "kind": "eval", "method": "B1", "config": {"x": 1, "y": {"z": 3}}},
            {"id": "c", "kind": "eval", "method": "B1", "config": {}}]
    metrics = {"a": {"acc@1": 0.5, "fpr": 0.1}, "b": {"acc@1": 0.7}, "c": {"acc@1": 0.9}}
    assert [r["id"] for r in sort_runs(runs, metrics, "fpr")] == ["a", "b", "c"]
    assert [r["id"] for r in sort_runs(runs, metrics, "acc@1")] == ["c", "b", "a"]
    assert metric_by_method(runs, metrics, "acc@1") == {"A": 0.5, "B1": pytest.approx(0.8)}
    # the method filter: comma-separated, case-insensitive prefixes
    assert method_matches("B1", "B") and method_matches("B3", "a,b3") and not method_matches("A", "B")
    assert not method_matches(None, "B") and method_matches(None, "")
    rows = comparison_rows(runs[:2], metrics, hide_equal=True)
    assert [n for s, n, _ in rows if s == "config"] == ["y.z"]
    rows = comparison_rows(runs[:2], metrics, hide_equal=False)
    assert [n for s, n, _ in rows if s == "config"] == ["x", "y.z"]


@pytest.mark.asyncio
async def test_refresh_updates_changed_cells_in_place(app: SageApp, tmp_path: Path) -> None:
    from core.store import RunStore

    async with app.run_test(size=(140, 45)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#runs-table", DataTable)
        table.focus()
        table.move_cursor(row=2)
        store = RunStore(tmp_path / "runs.db")
        store.update_run("eval-two-stage", status="failed")
        store.close()
        app.screen.reload()
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert row_ids(table) == ["train-b3", "train-a", "eval-two-stage", "eval-embedding", "eval-keyword"]
        assert str(table.get_row("eval-two-stage")[3]) == "failed" and table.cursor_row == 2
