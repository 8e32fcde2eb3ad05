"""The help screen: every key of every screen, with its binding id (for the TOML keymap)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from sage_tui.keymap import all_actions


class HelpScreen(ModalScreen[None]):
    SCOPE = "help"
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close help", id="help.close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-body"):
            yield Static("Keys  (override any of them under [keymap] in the config file: id = \"key\")", classes="pane-title", markup=False)
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Static("ctrl+p opens the command palette: every action below is there too.  esc closes.", classes="muted")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("where", "key", "action", "binding id")
        for a in all_actions(self.app):
            table.add_row(a.scope, a.key, a.description, a.binding_id)
        table.focus()

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(result)
