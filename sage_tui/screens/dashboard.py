"""Evaluation dashboard: every stored run, filtered, sorted by a metric; detail, compare, charts, eval."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Select, Static

from sage_tui.messages import EvalFinished, EvalProgress, RunsLoaded
from sage_tui.screens._runs import fmt_value, load_runs, lower_is_better, sort_runs
from sage_tui.screens.compare import CompareScreen
from sage_tui.screens.eval_launch import EvalLaunchScreen
from sage_tui.theme import theme_style

KINDS = ["eval", "train", "plan", "bench", "decide", "select", "report"]
STATUSES = ["running", "completed", "failed", "interrupted"]
STATUS_COLOR = {"running": "warning", "completed": "success", "failed": "error", "interrupted": "warning"}


NAME_WIDTH = 40  # long plan goals would push `started` and the metric column off screen


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def status_style(app: Any, status: str) -> str:
    """A Rich style for a run status, from the current theme's colours."""
    name = STATUS_COLOR.get(status)
    return theme_style(app, name, bold=True) if name else ""


class DashboardScreen(Screen[None]):
    SCOPE = "dashboard"
    BINDINGS = [
        Binding("space", "mark", "Mark for compare", id="dashboard.mark"),
        Binding("c", "compare", "Compare marked", id="dashboard.compare"),
        Binding("g", "charts", "Charts", id="dashboard.charts"),
        Binding("e", "launch_eval", "Launch eval", id="dashboard.eval"),
        Binding("k", "stop_eval", "Stop the running eval", id="dashboard.stop_eval", show=False),
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
        self._eval_proc: Any = None  # the running `sage-tui eval` process (one at a time)
        self._eval_stopped = False
        self._shown: dict[str, tuple[str, ...]] = {}  # what the table shows: run id -> cell texts, in order
        self._shown_metric: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(classes="bar"):
            yield Select([(k, k) for k in KINDS], prompt="kind: all", id="f-kind")
            yield Select([(s, s) for s in STATUSES], prompt="status: all", id="f-status")
            yield Input(placeholder="method: A, B (= B1-B3), B1,C …", id="f-method")
            yield Select([], prompt="sort: newest", id="f-sort")
        with Horizontal(id="eval-bar", classes="bar"):
            yield Static("", id="eval-label")
            yield ProgressBar(id="eval-progress", show_eta=True)
        with Vertical(classes="pane") as pane:
            pane.border_title = "Runs"
            yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        with Vertical(id="run-preview", classes="pane") as prev:
            prev.border_title = "Summary"
            yield Static("", id="preview")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#eval-bar").display = False  # shown while an eval launched here runs
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

    def _rows(self, metric: str | None) -> list[tuple[str, tuple[Any, ...]]]:
        out = []
        for r in self.visible_runs():
            ms = self.metrics.get(r["id"], {})
            if metric:
                val = fmt_value(ms.get(metric))
            else:
                val = "  ".join(f"{k}={fmt_value(v)}" for k, v in list(ms.items())[:3])
            status = Text(r["status"], style=status_style(self.app, r["status"]))
            out.append((r["id"], (
                "●" if r["id"] in self.marked else "",
                r["id"],
                r["kind"],
                status,
                r.get("task") or "",
                r.get("method") or "",
                _clip(r.get("name") or r.get("config", {}).get("name") or "", NAME_WIDTH),
                (r.get("started") or "")[5:16].replace("T", " "),  # MM-DD HH:MM (the run id has the seconds)
                val,
            )))
        return out

    def _render_table(self) -> None:
        """Rebuild the table when its rows, order or columns change; otherwise update only the changed cells
        (the auto-refresh of running runs every 3 s then costs next to nothing)."""
        table = self.query_one("#runs-table", DataTable)
        keep = table.cursor_row
        metric = self.sort_metric()
        rows = self._rows(metric)
        shown = {key: tuple(str(c) for c in cells) for key, cells in rows}
        same_shape = (self._shown_metric == metric and table.columns
                      and [k for k, _ in rows] == list(self._shown)
                      and all(len(t) <= c.width for texts in shown.values()  # a longer value needs new widths
                              for t, c in zip(texts, table.columns.values(), strict=True)))
        if same_shape:
            columns = list(table.columns)
            for key, cells in rows:
                old = self._shown[key]
                for col, value, before, now in zip(columns, cells, old, shown[key], strict=True):
                    if before != now:
                        table.update_cell(key, col, value)
        else:
            table.clear(columns=True)
            labels = ["run", "kind", "status", "task", "method", "name", "started", metric or "summary"]
            keys = ["run", "kind", "status", "task", "method", "name", "started", "metric"]
            table.add_column("", key="mark", width=2)
            for i, (label, key) in enumerate(zip(labels, keys, strict=True), start=1):
                # explicit widths from the cell texts: no waiting for the table's idle-time measuring
                width = max([len(label), *(len(texts[i]) for texts in shown.values())])
                table.add_column(label, key=key, width=width)
            for key, cells in rows:
                table.add_row(*cells, key=key)
            if table.row_count:
                table.move_cursor(row=min(keep, table.row_count - 1))
        self._shown, self._shown_metric = shown, metric
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
        if self._eval_proc is not None:
            self.notify("an evaluation is already running (k stops it)", severity="warning")
            return
        self.app.push_screen(EvalLaunchScreen(), callback=self._start_eval)

    def _start_eval(self, cmd: list[str] | None) -> None:
        if not cmd:
            return
        self._eval_stopped = False
        self._show_eval(0, None, "starting `sage-tui eval`…")
        self.run_eval(cmd)

    @work(thread=True, exclusive=True, group="eval", exit_on_error=False)
    def run_eval(self, cmd: list[str]) -> None:
        """Runs `sage-tui eval --progress-jsonl` and posts EvalProgress per progress line, then EvalFinished."""
        from sage_tui.screens.eval_launch import run_eval_process

        def started(proc: Any) -> None:
            self._eval_proc = proc

        try:
            ids, error = run_eval_process(cmd, lambda d, t, label: self.post_message(EvalProgress(d, t, label)), started)
        except OSError as exc:
            ids, error = [], str(exc)
        finally:
            self._eval_proc = None
        self.post_message(EvalFinished(ids, error))

    def action_stop_eval(self) -> None:
        proc = self._eval_proc
        if proc is None:
            self.notify("no evaluation is running", severity="warning")
            return
        import signal

        self._eval_stopped = True
        proc.send_signal(signal.SIGINT)  # KeyboardInterrupt: the eval flushes, stores the run as interrupted
        self.set_timer(10.0, lambda: proc.poll() is None and proc.kill())  # and resumes there next time
        self.notify("stopping the evaluation…")

    def _show_eval(self, done: int, total: int | None, label: str) -> None:
        self.query_one("#eval-bar").display = True
        self.query_one("#eval-label", Static).update(label)
        self.query_one("#eval-progress", ProgressBar).update(total=total, progress=done)

    def on_eval_progress(self, msg: EvalProgress) -> None:
        self._show_eval(msg.done, msg.total, f"eval {msg.label}  {msg.done}/{msg.total}")

    def action_reload(self) -> None:
        self.reload()

    def action_reverse_sort(self) -> None:
        self.descending = not self.descending
        self._render_table()

    def action_focus_filter(self) -> None:
        self.query_one("#f-method", Input).focus()

    def on_eval_finished(self, msg: EvalFinished) -> None:
        bar = self.query_one("#eval-progress", ProgressBar)
        if self._eval_stopped:
            self.query_one("#eval-label", Static).update("eval stopped: its run is interrupted; the same eval resumes it")
            self.notify("evaluation stopped", title="eval")
        elif msg.error:
            self.query_one("#eval-label", Static).update(f"eval failed: {msg.error}")
            self.notify(msg.error, title="eval failed", severity="error", timeout=15)
        else:
            bar.update(total=bar.total or 1, progress=bar.total or 1)
            self.query_one("#eval-label", Static).update(f"eval done: {', '.join(msg.run_ids) or 'no run'}")
            self.notify(f"stored {len(msg.run_ids)} run(s): {', '.join(msg.run_ids)}", title="eval done")
        self.set_timer(8.0, self._hide_eval_bar)
        self.reload()

    def _hide_eval_bar(self) -> None:
        if self._eval_proc is None:
            self.query_one("#eval-bar").display = False

    def on_screen_resume(self) -> None:
        self.reload()
