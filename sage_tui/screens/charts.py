"""Metric charts over a set of runs: one metric per method (bars) and loss curves overlaid."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Select, Static

from sage_tui.screens._runs import loss_series, metric_by_method
from sage_tui.widgets.charts import LossPlot, MetricBars

PREFERRED = ("acc@1", "accuracy", "node_f1", "mrr", "f1")


class _ChartsLoaded(Message):
    def __init__(self, runs: list[dict[str, Any]], metrics: dict[str, dict[str, float]], losses: dict[str, list[tuple[int, float]]]) -> None:
        super().__init__()
        self.runs, self.metrics, self.losses = runs, metrics, losses


class ChartsScreen(ModalScreen[None]):
    SCOPE = "charts"
    BINDINGS = [Binding("escape,q", "close", "Close", id="charts.close")]

    def __init__(self, run_ids: list[str], metric: str | None = None) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.metric = metric
        self.runs: list[dict[str, Any]] = []
        self.metrics: dict[str, dict[str, float]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="modal-body"):
            with Horizontal(classes="bar"):
                yield Static(f"Charts over {len(self.run_ids)} runs", classes="pane-title")
                yield Select([], prompt="metric", id="chart-metric")
            yield MetricBars(id="chart-bars")
            yield LossPlot(title="training loss", id="chart-loss")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="charts", exit_on_error=False)
    def load(self) -> None:
        store = self.app.store  # type: ignore[attr-defined]
        runs = [store.get_run(r) for r in self.run_ids]
        metrics = {r["id"]: store.final_metrics(r["id"]) for r in runs}
        losses = {r["id"]: loss_series(store, r["id"]) for r in runs if r["kind"] == "train"}
        self.post_message(_ChartsLoaded(runs, metrics, {k: v for k, v in losses.items() if v}))

    def on__charts_loaded(self, msg: _ChartsLoaded) -> None:
        self.runs, self.metrics = msg.runs, msg.metrics
        names = sorted({m for ms in self.metrics.values() for m in ms})
        sel = self.query_one("#chart-metric", Select)
        sel.set_options([(n, n) for n in names])
        pick = self.metric if self.metric in names else next((p for p in PREFERRED if p in names), names[0] if names else None)
        if pick:
            sel.value = pick
            self._draw_bars(pick)
        labels = {r["id"]: (r.get("method") or r["id"]) for r in self.runs}
        self.query_one("#chart-loss", LossPlot).set_series({labels[k]: v for k, v in msg.losses.items()})

    def _draw_bars(self, metric: str) -> None:
        self.query_one("#chart-bars", MetricBars).set_bars(metric, metric_by_method(self.runs, self.metrics, metric))

    @on(Select.Changed, "#chart-metric")
    def _metric(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._draw_bars(event.value)

    def action_close(self) -> None:
        self.dismiss(None)
