"""The sage-tui Textual workstation: plan, train, dashboard and catalog screens."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from sage_tui.commands_palette import SageCommands
from sage_tui.config import UIConfig, load_config
from sage_tui.heap import bulk_load, freeze_long_lived
from sage_tui.screens.catalog import CatalogScreen
from sage_tui.screens.dashboard import DashboardScreen
from sage_tui.screens.help import HelpScreen
from sage_tui.screens.plan import PlanScreen
from sage_tui.screens.train import TrainScreen

if TYPE_CHECKING:
    from core.catalog import Catalog
    from core.store import RunStore


class SageApp(App[None]):
    """Workstation shell: one mode per screen, a shared run store and a lazily loaded catalog."""

    TITLE = "sage-tui"
    SUB_TITLE = "agent tool learning workstation"
    CSS_PATH = ["styles/app.tcss"]
    COMMANDS = App.COMMANDS | {SageCommands}
    MODES = {"plan": PlanScreen, "train": TrainScreen, "dashboard": DashboardScreen, "catalog": CatalogScreen}
    DEFAULT_MODE = "plan"
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help", tooltip="List every key binding"),
        Binding("f2", "switch_mode('plan')", "Plan", id="app.plan", tooltip="Plan a goal"),
        Binding("f3", "switch_mode('train')", "Train", id="app.train", tooltip="Launch and watch training jobs"),
        Binding("f4", "switch_mode('dashboard')", "Runs", id="app.dashboard", tooltip="Evaluation dashboard"),
        Binding("f5", "switch_mode('catalog')", "Catalog", id="app.catalog", tooltip="Browse the tool catalog"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Leave sage-tui"),
    ]

    @classmethod
    def binding_sources(cls) -> list[tuple[str, type]]:
        """(scope, class) of every class that declares workstation bindings (help screen, palette, checks)."""
        from sage_tui.screens import screen_classes
        from sage_tui.widgets import WIDGET_CLASSES

        return [("global", cls), *((c.SCOPE, c) for c in screen_classes()), *((c.SCOPE, c) for c in WIDGET_CLASSES)]

    def __init__(
        self,
        db: Path | None = None,
        *,
        config: UIConfig | None = None,
        catalog_path: Path | None = None,
        llm_backend: Any = None,
        mode: str | None = None,
    ) -> None:
        if mode:
            self.DEFAULT_MODE = mode  # read by App.__init__
        super().__init__()
        self.config = config if config is not None else load_config()
        self.db_path = db or self.config.db
        self.catalog_path = catalog_path
        self.llm_backend = llm_backend  # tests pass a scripted backend; None = the configured model
        self._store: RunStore | None = None
        self._catalog: Catalog | None = None
        self._catalog_lock = threading.Lock()
        if self.config.keymap:
            self.set_keymap(self.config.keymap)

    # ---- shared resources -----------------------------------------------------------------
    @property
    def store(self) -> RunStore:
        if self._store is None:
            from core.store import RunStore

            self._store = RunStore(self.db_path)
        return self._store

    def get_catalog(self) -> Catalog:
        """Load the catalog once (call from a worker thread: it validates 1,000+ records)."""
        with self._catalog_lock:
            if self._catalog is None:
                from core.catalog import load_catalog

                with bulk_load():  # 1,000+ records: freeze them so full GCs never walk them again
                    self._catalog = load_catalog(self.catalog_path)
            return self._catalog

    def on_mount(self) -> None:
        self.call_after_refresh(freeze_long_lived)  # Textual's DOM, styles and imported modules

    # ---- actions ----------------------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where failed workers surface: a notification naming the error."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            err = event.worker.error
            self.notify(f"{event.worker.name}: {err}", title="error", severity="error", timeout=10)

    def on_unmount(self) -> None:
        if self._store is not None:
            self._store.close()


def run_app(db: Path | None = None) -> None:
    """Entry point of `sage-tui` without a sub-command."""
    SageApp(db=db).run()
