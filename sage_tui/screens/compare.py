"""Two or more runs side by side: run fields, metrics (best highlighted) and a config diff."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from sage_tui.screens._runs import best_index, comparison_rows, fmt_value

CELL_WIDTH = 30  # long config values (lists, dicts) are cut so four runs fit side by side at 160 columns


class _CompareLoaded(Message):
    def __init__(self, runs: list[dict[str, Any]], metrics: dict[str, dict[str, float]]) -> None:
        super().__init__()
        self.runs = runs
        self.metrics = metrics


class CompareScreen(ModalScreen[None]):
    SCOPE = "compare"
    BINDINGS = [
        Binding("d", "toggle_equal", "Hide/show equal config", id="compare.toggle_equal"),
        Binding("g", "charts", "Charts of these runs", id="compare.charts"),
        Binding("escape,q", "close", "Close", id="compare.close"),
    ]

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.hide_equal = True
        self.runs: list[dict[str, Any]] = []
        self.metrics: dict[str, dict[str, float]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="modal-body"):
            yield Static(f"Comparing {len(self.run_ids)} runs", id="compare-title", classes="pane-title")
            yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            yield Static("d: show/hide config keys that are equal in every run · g: charts · esc: close", classes="muted")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def load(self) -> None:
        store = self.app.store  # type: ignore[attr-defined]
        runs = [store.get_run(r) for r in self.run_ids]
        self.post_message(_CompareLoaded(runs, {r["id"]: store.final_metrics(r["id"]) for r in runs}))

    def on__compare_loaded(self, msg: _CompareLoaded) -> None:
        self.runs, self.metrics = msg.runs, msg.metrics
        self.render_table()

    def render_table(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        table.clear(columns=True)
        table.add_column("", key="section")
        table.add_column("field", key="field")
        for r in self.runs:
            table.add_column(r["id"], key=r["id"])
        rows = comparison_rows(self.runs, self.metrics, hide_equal=self.hide_equal)
        for section, name, values in rows:
            best = best_index(name, values) if section == "metric" else None
            differs = section == "config" and len({fmt_value(v) for v in values}) > 1
            cells: list[Any] = []
            for i, v in enumerate(values):
                style = "bold reverse" if i == best else ("bold" if differs else "")
                text = fmt_value(v)
                if name == "started":
                    text = text[:19].replace("T", " ")
                cells.append(Text(text if len(text) <= CELL_WIDTH else text[:CELL_WIDTH - 1] + "…", style=style))
            table.add_row(Text(section, style="dim"), name, *cells, key=f"{section}:{name}")
        n_cfg = sum(1 for s, _, _ in rows if s == "config")
        state = "only differing config keys" if self.hide_equal else "all config keys"
        self.query_one("#compare-title", Static).update(f"Comparing {len(self.runs)} runs · {state} ({n_cfg}) · best metric in reverse")

    def action_toggle_equal(self) -> None:
        self.hide_equal = not self.hide_equal
        self.render_table()

    def action_charts(self) -> None:
        from sage_tui.screens.charts import ChartsScreen

        self.app.push_screen(ChartsScreen(self.run_ids))

    def action_close(self) -> None:
        self.dismiss(None)
