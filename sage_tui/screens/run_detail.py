"""One run in full: its config, summary metrics, per-sample failures, events and loss curve."""

from __future__ import annotations

import json
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Log, Static, TabbedContent, TabPane

from sage_tui.screens._runs import fmt_value, loss_series
from sage_tui.widgets.charts import LossPlot


class _DetailLoaded(Message):
    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self.data = data


class RunDetailScreen(ModalScreen[None]):
    SCOPE = "run detail"
    BINDINGS = [Binding("escape,q", "close", "Close", id="detail.close")]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        with Vertical(id="modal-body"):
            yield Static(self.run_id, id="detail-title", classes="pane-title")
            with TabbedContent(id="detail-tabs"):
                with TabPane("Metrics", id="tab-metrics"):
                    yield DataTable(id="detail-metrics", cursor_type="row")
                with TabPane("Config", id="tab-config"):
                    with VerticalScroll():
                        yield Static("", id="detail-config")
                with TabPane("Failures", id="tab-failures"):
                    yield DataTable(id="detail-failures", cursor_type="row")
                with TabPane("Events", id="tab-events"):
                    yield Log(id="detail-events", highlight=False)
                with TabPane("Loss", id="tab-loss"):
                    yield LossPlot(id="detail-loss")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="run-detail", exit_on_error=False)
    def load(self) -> None:
        store = self.app.store  # type: ignore[attr-defined]
        run = store.get_run(self.run_id)
        data = {
            "run": run,
            "final": store.final_metrics(run["id"]),
            "failures": store.sample_results(run["id"], failures_only=True),
            "n_samples": len(store.done_sample_ids(run["id"])),
            "events": store.events(run["id"]),
            "loss": loss_series(store, run["id"]),
            "artifacts": store.artifacts(run["id"]),
        }
        self.post_message(_DetailLoaded(data))

    def on__detail_loaded(self, msg: _DetailLoaded) -> None:
        d = msg.data
        run = d["run"]
        title = f"{run['id']}  ·  {run['kind']}  ·  {run['status']}  ·  task {run.get('task') or '-'}  ·  method {run.get('method') or '-'}"
        if run.get("error"):
            title += f"\nerror: {run['error']}"
        self.query_one("#detail-title", Static).update(title)
        mt = self.query_one("#detail-metrics", DataTable)
        mt.add_columns("metric", "value")
        for k, v in d["final"].items():
            mt.add_row(k, fmt_value(v))
        mt.add_row("samples stored", str(d["n_samples"]))
        fields = {k: run.get(k) for k in ("started", "ended", "config_hash", "dataset_hash", "catalog_hash", "package_version", "host", "pid", "tags", "parent_id")}
        for a in d["artifacts"]:
            fields[f"artifact:{a['kind']}"] = a["path"]
        text = json.dumps({"config": run["config"], "run": fields}, indent=2, default=str)
        from rich.json import JSON

        self.query_one("#detail-config", Static).update(JSON(text, indent=2))
        ft = self.query_one("#detail-failures", DataTable)
        ft.add_columns("sample", "expected", "got", "details")
        for f in d["failures"]:
            expected = f.get("gold", f.get("expected", ""))
            got = f.get("predicted", f.get("pred", f.get("got", "")))
            rest = {k: v for k, v in f.items() if k not in ("sample_id", "ok", "gold", "expected", "predicted", "pred", "got")}
            ft.add_row(f["sample_id"], fmt_value(expected)[:60], fmt_value(got)[:60], fmt_value(rest)[:120])
        self.query_one("#tab-failures", TabPane).query_one(DataTable).border_title = f"{len(d['failures'])} failures"
        tabs = self.query_one(TabbedContent)
        tabs.get_tab("tab-failures").label = f"Failures ({len(d['failures'])})"  # type: ignore[assignment]
        log = self.query_one("#detail-events", Log)
        for e in d["events"]:
            log.write_line(f"{e['time'][11:19]} {e['level']:<5} {e['message']}")
        self.query_one("#detail-loss", LossPlot).set_series({run["id"]: d["loss"]})

    def action_close(self) -> None:
        self.dismiss(None)
