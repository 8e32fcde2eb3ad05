"""App shell: TOML config, keymap overrides, binding ids, help screen, command palette, catalog browser."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import DataTable, Input, Static
from tui_seed import seed_store, write_catalog

from core.errors import ConfigError
from sage_tui.app import SageApp
from sage_tui.commands_palette import SageCommands
from sage_tui.config import UIConfig, load_config
from sage_tui.keymap import all_actions, check_bindings
from sage_tui.screens.catalog import CatalogScreen
from sage_tui.screens.help import HelpScreen


def make_app(tmp_path: Path, **kw: object) -> SageApp:
    seed_store(tmp_path / "runs.db").close()
    return SageApp(db=tmp_path / "runs.db", catalog_path=write_catalog(tmp_path / "tools.jsonl"), **kw)  # type: ignore[arg-type]


def test_config_file_parsed_and_validated(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text('[general]\ndb = "~/x.db"\nselector = "keyword"\n[keymap]\n"app.help" = "f9"\n')
    cfg = load_config(p)
    assert cfg.selector == "keyword" and cfg.db == Path("~/x.db").expanduser() and cfg.keymap == {"app.help": "f9"}
    assert load_config(tmp_path / "missing.toml") == UIConfig()
    p.write_text('[general]\nselectr = "keyword"\n')
    with pytest.raises(ConfigError, match="general.selectr"):
        load_config(p)
    p.write_text("[keymap]\n\"app.help\" = 3\n")
    with pytest.raises(ConfigError, match="keymap.app.help"):
        load_config(p)
    p.write_text("[general\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(p)


def test_every_binding_has_id_and_description() -> None:
    from sage_tui.app import SageApp

    sources = SageApp.binding_sources()
    assert {scope for scope, _ in sources} >= {"global", "plan", "train", "dashboard", "catalog", "compare", "help"}
    for _, cls in sources:
        check_bindings(cls.BINDINGS)
    ids = [a.binding_id for a in all_actions(sources=sources)]
    assert len(ids) == len(set(ids)), "binding ids must be unique"


@pytest.mark.asyncio
async def test_keymap_override_and_help(tmp_path: Path) -> None:
    app = make_app(tmp_path, config=UIConfig(keymap={"app.help": "f9", "app.dashboard": "f8"}), mode="catalog")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")  # no longer bound
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f8")
        assert app.current_mode == "dashboard"
        await pilot.press("f9")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("#help-table", DataTable)
        rows = {table.get_row_at(i)[3]: table.get_row_at(i)[1] for i in range(table.row_count)}
        assert rows["app.help"] == "f9" and rows["dashboard.compare"] == "c" and rows["plan.run"] == "ctrl+r"
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.asyncio
async def test_palette_offers_screen_actions_and_runs_them(tmp_path: Path) -> None:
    app = make_app(tmp_path, config=UIConfig(), mode="dashboard")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        provider = SageCommands(app.screen)
        labels = [label for label, *_ in provider._entries()]
        assert "Dashboard: Compare marked" in labels and "Help" in labels
        assert not any(lbl.startswith("Plan:") for lbl in labels)  # only the current screen's actions
        hits = [h async for h in provider.search("catalog")]
        assert hits and "Catalog" in str(hits[0].match_display)
        await hits[0].command()
        await pilot.pause()
        assert app.current_mode == "catalog"


@pytest.mark.asyncio
async def test_catalog_browser_filters_and_shows_schema(tmp_path: Path) -> None:
    app = make_app(tmp_path, config=UIConfig(), mode="catalog")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        table = screen.query_one("#catalog-table", DataTable)
        assert table.row_count == 6
        screen.query_one("#catalog-search", Input).value = "travel book"
        await pilot.pause()
        assert table.row_count == 1 and table.get_row_at(0)[0] == "hotel_booking"
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(screen.query_one("#tool-detail", Static).content)
        text = console.export_text()
        assert "Book a hotel room" in text and '"check_in"' in text and "required: city" in text
