"""Evaluation dashboard: every stored run, filtered, sorted by a metric; detail, compare, charts, eval."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Select, Static

from sage_tui.messages import EvalFinished, RunsLoaded
from sage_tui.screens._runs import fmt_value, load_runs, lower_is_better, sort_runs
from sage_tui.screens.compare import CompareScreen
from sage_tui.screens.eval_launch import EvalLaunchScreen

KINDS = ["eval", "train", "plan", "bench", "decide", "select", "report"]
STATUSES = ["running", "completed", "failed", "interrupted"]
STATUS_COLOR = {"running": "warning", "completed": "success", "failed": "error", "interrupted": "warning"}


def status_style(theme: dict[str, str], status: str) -> str:
    """A Rich style for a run status, from the current theme's colours."""
    color = theme.get(STATUS_COLOR.get(status, ""), "")
    return f"bold {color}" if color else ""


class DashboardScreen(Screen[None]):
    SCOPE = "dashboard"
    BINDINGS = [
        Binding("space", "mark", "Mark for compare", id="dashboard.mark"),
        Binding("c", "compare", "Compare marked", id="dashboard.compare"),
        Binding("g", "charts", "Charts", id="dashboard.charts"),
        Binding("e", "launch_eval", "Launch eval", id="dashboard.eval"),
        Binding("r", "reload", "Refresh", id="dashboard.refresh"),
        Binding("s", "reverse_sort", "Reverse sort", id="dashboard.reverse"),
        Binding("x", "clear_marks", "Clear marks", id="dashboard.clear", show=False),
        Binding("slash", "focus_filter", "Filter by method", id="dashboard.filter", show=False),
    ]
    AUTO_REFRESH_S = 3.0

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[dict[str, Any]] = []
        self.metrics: dict[str, dict[str, float]] = {}
        self.marked: list[str] = []
        self.descending = True
        self._metric_names: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(classes="bar"):
            yield Select([(k, k) for k in KINDS], prompt="kind: all", id="f-kind")
            yield Select([(s, s) for s in STATUSES], prompt="status: all", id="f-status")
            yield Input(placeholder="method (A, B1, ...)", id="f-method")
            yield Select([], prompt="sort: newest", id="f-sort")
        with Vertical(classes="pane") as pane:
            pane.border_title = "Runs"
            yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        with Vertical(id="run-preview", classes="pane") as prev:
            prev.border_title = "Summary"
            yield Static("", id="preview")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(self.AUTO_REFRESH_S, self._auto_refresh)
        self.query_one("#runs-table", DataTable).focus()

    def _auto_refresh(self) -> None:
        if self.app.screen is self and any(r["status"] == "running" for r in self.runs):
            self.reload()

    # ---- loading ------------------------------------------------------------------------------
    def _filters(self) -> dict[str, Any]:
        kind = self.query_one("#f-kind", Select).value
        status = self.query_one("#f-status", Select).value
        method = self.query_one("#f-method", Input).value.strip()
        return {
            "kind": kind if isinstance(kind, str) else None,
            "status": status if isinstance(status, str) else None,
            "method": method or None,
        }

    @work(thread=True, exclusive=True, group="dashboard-load", exit_on_error=False)
    def reload(self) -> None:
        store = self.app.store  # type: ignore[attr-defined]
        store.reap_stale_runs()
        runs, metrics = load_runs(store, **self._filters())
        self.post_message(RunsLoaded(runs, metrics))

    def on_runs_loaded(self, msg: RunsLoaded) -> None:
        self.runs, self.metrics = msg.runs, msg.metrics
        names = sorted({m for ms in self.metrics.values() for m in ms})
        if names != self._metric_names:
            self._metric_names = names
            sort = self.query_one("#f-sort", Select)
            current = sort.value
            sort.set_options([(f"sort: {n}", n) for n in names])
            if isinstance(current, str) and current in names:
                sort.value = current
        self._render_table()

    def sort_metric(self) -> str | None:
        v = self.query_one("#f-sort", Select).value
        return v if isinstance(v, str) else None

    def visible_runs(self) -> list[dict[str, Any]]:
        m = self.sort_metric()
        desc = self.descending if not (m and lower_is_better(m)) else not self.descending
        return sort_runs(self.runs, self.metrics, m, descending=desc)

    def _render_table(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        keep = table.cursor_row
        metric = self.sort_metric()
        table.clear(columns=True)
        table.add_column("", key="mark", width=2)
        for col in ("run", "kind", "status", "task", "method", "name", "started"):
            table.add_column(col, key=col)
        table.add_column(metric or "summary", key="metric")
        for r in self.visible_runs():
            ms = self.metrics.get(r["id"], {})
            if metric:
                val = fmt_value(ms.get(metric))
            else:
                val = "  ".join(f"{k}={fmt_value(v)}" for k, v in list(ms.items())[:3])
            status = Text(r["status"], style=status_style(self.app.theme_variables, r["status"]))
            table.add_row(
                "●" if r["id"] in self.marked else "",
                r["id"],
                r["kind"],
                status,
                r.get("task") or "",
                r.get("method") or "",
                r.get("name") or r.get("config", {}).get("name") or "",
                (r.get("started") or "")[:19].replace("T", " "),
                val,
                key=r["id"],
            )
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        marks = f" · {len(self.marked)} marked" if self.marked else ""
        self.query_one("#runs-table").parent.border_subtitle = f"{table.row_count} runs{marks}"  # type: ignore[union-attr]

    # ---- events -------------------------------------------------------------------------------
    @on(Select.Changed)
    def _filter_changed(self, event: Select.Changed) -> None:
        if event.select.id == "f-sort":
            self._render_table()
        else:
            self.reload()

    @on(Input.Submitted, "#f-method")
    def _method_changed(self) -> None:
        self.reload()
        self.query_one("#runs-table", DataTable).focus()

    @on(DataTable.RowHighlighted, "#runs-table")
    def _preview(self, event: DataTable.RowHighlighted) -> None:
        rid = event.row_key.value
        run = next((r for r in self.runs if r["id"] == rid), None)
        if run is None:
            return
        ms = self.metrics.get(run["id"], {})
        text = Text()
        text.append(f"{run['id']}  ", style="bold")
        text.append(f"{run['kind']} · {run['status']} · {run.get('task') or '-'} · method {run.get('method') or '-'}\n")
        if run.get("error"):
            text.append(f"error: {run['error']}\n", style="bold red")
        text.append("  ".join(f"{k}={fmt_value(v)}" for k, v in ms.items()) or "no summary metrics yet")
        self.query_one("#preview", Static).update(text)

    @on(DataTable.RowSelected, "#runs-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            from sage_tui.screens.run_detail import RunDetailScreen  # loads the plot widgets on first use

            self.app.push_screen(RunDetailScreen(event.row_key.value))

    def current_run_id(self) -> str | None:
        table = self.query_one("#runs-table", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    # ---- actions ------------------------------------------------------------------------------
    def action_mark(self) -> None:
        rid = self.current_run_id()
        if rid is None:
            return
        if rid in self.marked:
            self.marked.remove(rid)
        else:
            self.marked.append(rid)
        table = self.query_one("#runs-table", DataTable)
        row = table.cursor_row
        self._render_table()
        table.move_cursor(row=min(row + 1, table.row_count - 1))

    def action_clear_marks(self) -> None:
        self.marked.clear()
        self._render_table()

    def action_compare(self) -> None:
        ids = [r for r in self.marked if any(x["id"] == r for x in self.runs)]
        if len(ids) < 2:
            self.notify("mark two or more runs with space, then press c", severity="warning")
            return
        self.app.push_screen(CompareScreen(ids))

    def action_charts(self) -> None:
        from sage_tui.screens.charts import ChartsScreen  # loads the plot widgets on first use

        ids = self.marked if len(self.marked) >= 2 else [r["id"] for r in self.visible_runs()]
        self.app.push_screen(ChartsScreen(ids, metric=self.sort_metric()))

    def action_launch_eval(self) -> None:
        self.app.push_screen(EvalLaunchScreen())

    def action_reload(self) -> None:
        self.reload()

    def action_reverse_sort(self) -> None:
        self.descending = not self.descending
        self._render_table()

    def action_focus_filter(self) -> None:
        self.query_one("#f-method", Input).focus()

    def on_eval_finished(self, msg: EvalFinished) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()
