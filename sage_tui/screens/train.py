"""Training screen: a form -> `sage-tui train run` in its own process; the job is followed through the
run store only (so closing and reopening the app shows the job's real state)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import (
    Collapsible,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Log,
    ProgressBar,
    Select,
    Static,
)

from sage_tui.messages import JobError, JobLaunched, JobSnapshot
from sage_tui.screens.train_form import (
    METHOD_CHOICES,
    METHOD_DEFAULTS,
    STRATEGIES,
    build_config,
    config_to_form,
    shown_command,
    train_command,
    write_config,
)
from sage_tui.screens.train_job import STEP_RE, fmt_eta, job_progress, read_job
from sage_tui.theme import theme_color, theme_style


def _row(label: str, widget: Widget) -> Horizontal:
    return Horizontal(Label(label), widget, classes="form-row")


class TrainScreen(Screen[None]):
    SCOPE = "train"
    BINDINGS = [
        Binding("ctrl+r", "launch", "Launch training", id="train.launch"),
        Binding("ctrl+k", "stop", "Stop job", id="train.stop"),
        Binding("ctrl+o", "resume", "Resume job", id="train.resume"),
        Binding("ctrl+n", "follow_latest", "Follow newest job", id="train.latest", show=False),
    ]
    POLL_S = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.run_id: str | None = None
        self._known = False
        self._total: int | None = None
        self._picks: dict[str, int] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._events_seen = 0
        self._last_loss_n = -1

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with VerticalScroll(id="train-form", classes="pane") as form:
                form.border_title = "Training job"
                yield _row("preset", Select([], prompt="defaults", compact=True, id="t-preset"))
                yield _row("name", Input(compact=True, id="t-name"))
                yield _row("base model", Input(compact=True, placeholder="bundled-gemma3-270m | tiny | HF dir", id="t-base"))
                yield _row("dataset", Input(compact=True, placeholder="dialogs JSONL (empty: bundled)", id="t-dataset"))
                yield _row("method", Select(METHOD_CHOICES, value="A", allow_blank=False, compact=True, id="t-method"))
                yield _row("coreset", Select([(s, s) for s in STRATEGIES], value="none", allow_blank=False, compact=True, id="t-strategy"))
                yield _row("budget", Input(compact=True, placeholder="samples or fraction", id="t-budget"))
                yield _row("hybrid ratio", Input(compact=True, placeholder="share chosen by loss", id="t-ratio"))
                yield _row("continual", Select([("off", "off"), ("on", "on")], value="off", allow_blank=False, compact=True, id="t-continual"))
                yield _row("replay buffer", Input(compact=True, id="t-buffer"))
                yield _row("replay ratio", Input(compact=True, id="t-replay"))
                with Collapsible(title="advanced: LoRA, optimiser, seed", collapsed=True, id="t-advanced"):
                    yield _row("LoRA r", Input(compact=True, id="t-r"))
                    yield _row("LoRA alpha", Input(compact=True, id="t-alpha"))
                    yield _row("LoRA dropout", Input(compact=True, id="t-dropout"))
                    yield _row("epochs", Input(compact=True, id="t-epochs"))
                    yield _row("max steps", Input(compact=True, id="t-steps"))
                    yield _row("batch size", Input(compact=True, id="t-batch"))
                    yield _row("learning rate", Input(compact=True, id="t-lr"))
                    yield _row("seed", Input(compact=True, id="t-seed"))
                    yield _row("data limit", Input(compact=True, id="t-limit"))
                    yield _row("eval limit", Input(compact=True, id="t-eval-limit"))
                yield Static("", id="command-preview")
            with Vertical(id="job-pane"):
                with Vertical(id="job-status", classes="pane") as st:
                    st.border_title = "Job"
                    yield Select([], prompt="no training runs yet", id="t-job")
                    yield Static("launch with ctrl+r", id="job-info")
                    yield ProgressBar(id="job-progress", show_eta=False)
                yield _loss_plot()
                with Horizontal(id="job-bottom"):
                    with Vertical(id="job-log", classes="pane") as lg:
                        lg.border_title = "Log"
                        yield Log(id="job-lines", highlight=False, max_lines=400)
                    with Vertical(id="coreset-picks", classes="pane") as cp:
                        cp.border_title = "Coreset picks"
                        yield DataTable(id="picks-table", cursor_type="none")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#picks-table", DataTable).add_columns("task type", "picked")
        self._init_form()
        self.set_interval(self.POLL_S, self._poll)
        self.load_jobs(follow_newest=True)

    # ---- form -----------------------------------------------------------------------------------
    def _init_form(self) -> None:
        from training.config import Config, preset_names

        self.query_one("#t-preset", Select).set_options([(p, p) for p in preset_names()])
        self._fill_form(Config())

    def _fill_form(self, cfg: Any) -> None:
        for fid, value in config_to_form(cfg).items():
            w = self.query_one(f"#{fid}")
            if isinstance(w, Input):
                w.value = value
            elif isinstance(w, Select):
                w.value = value
        self._preview()

    def form_values(self) -> dict[str, str]:
        vals: dict[str, str] = {}
        for w in self.query("#train-form Input, #train-form Select"):
            if w.id and w.id.startswith("t-") and w.id != "t-preset":
                v = w.value
                vals[w.id] = v if isinstance(v, str) else ""
        return vals

    def preset(self) -> str | None:
        v = self.query_one("#t-preset", Select).value
        return v if isinstance(v, str) else None

    @on(Select.Changed, "#t-preset")
    def _preset(self, event: Select.Changed) -> None:
        from training.config import Config, load_config

        try:
            self._fill_form(load_config(event.value) if isinstance(event.value, str) else Config())
        except Exception as exc:  # noqa: BLE001 - shown to the user, form unchanged
            self.notify(str(exc), title="preset", severity="error")

    @on(Select.Changed, "#t-method")
    def _method(self, event: Select.Changed) -> None:
        d = METHOD_DEFAULTS.get(str(event.value))
        if d:
            self.query_one("#t-strategy", Select).value = d["strategy"]
            self.query_one("#t-continual", Select).value = "on" if d["continual"] else "off"
            if d["strategy"] != "none" and not self.query_one("#t-budget", Input).value.strip("0. "):
                self.query_one("#t-budget", Input).value = "0.4"
        self._preview()

    @on(Input.Changed)
    @on(Select.Changed)
    def _preview(self) -> None:
        try:
            build_config(self.form_values(), self.preset())
            text = Text(shown_command(train_command("<config.toml>", self.app.store.path)), style="")  # type: ignore[attr-defined]
            text.append("\n(the form is written to that TOML file on launch)", style="dim")
        except Exception as exc:  # noqa: BLE001 - the preview explains what is wrong
            text = Text(f"✗ {exc}", style=theme_color(self.app, "error"))
        self.query_one("#command-preview", Static).update(text)

    # ---- job control ------------------------------------------------------------------------------
    def action_launch(self) -> None:
        from core.errors import SageError
        from core.paths import cache_dir
        from core.store.runstore import new_run_id

        try:
            cfg = build_config(self.form_values(), self.preset())
            path = write_config(cfg, cache_dir() / "tui-configs")
        except SageError as exc:
            self.notify(str(exc), title="cannot launch", severity="error", timeout=10)
            return
        rid = new_run_id("train")
        self.launch(train_command(path, self.app.store.path, rid), rid)  # type: ignore[attr-defined]

    def launch(self, cmd: list[str], run_id: str) -> None:
        """Start the launcher process (it spawns the detached job and exits) and follow `run_id`."""
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
        self.post_message(JobLaunched(self.proc.pid, run_id, cmd, ""))

    def on_job_launched(self, msg: JobLaunched) -> None:
        self._follow(msg.run_id or "")
        self.query_one("#job-info", Static).update(f"{msg.run_id}: starting…\n$ {shown_command(msg.command)}")
        self.notify(f"training job {msg.run_id} starting", title="train")

    def action_stop(self) -> None:
        if self.run_id:
            self._stop(self.run_id)

    @work(thread=True, group="train-ctl", exit_on_error=False)
    def _stop(self, run_id: str) -> None:
        from core.errors import SageError
        from training.jobs import stop

        try:
            status = stop(self.app.store, run_id)  # type: ignore[attr-defined]
        except SageError as exc:
            self.post_message(JobError(str(exc)))
            return
        self.app.call_from_thread(self.notify, f"{run_id}: {status}", title="train stop")

    def action_resume(self) -> None:
        if self.run_id:
            cmd = [sys.executable, "-m", "sage_tui", "train", "resume", self.run_id, "--db", str(self.app.store.path)]  # type: ignore[attr-defined]
            self.launch(cmd, self.run_id)

    def on_job_error(self, msg: JobError) -> None:
        self.notify(msg.error, title="training", severity="error", timeout=12)

    def action_follow_latest(self) -> None:
        self.run_id = None
        self.load_jobs(follow_newest=True)

    # ---- following a run through the store ----------------------------------------------------------
    @work(thread=True, exclusive=True, group="train-jobs", exit_on_error=False)
    def load_jobs(self, follow_newest: bool = False) -> None:
        store = self.app.store  # type: ignore[attr-defined]
        store.reap_stale_runs()
        runs = store.list_runs(kind="train", limit=30)
        self.app.call_from_thread(self._jobs_loaded, runs, follow_newest)

    def _jobs_loaded(self, runs: list[dict[str, Any]], follow_newest: bool) -> None:
        sel = self.query_one("#t-job", Select)
        with sel.prevent(Select.Changed):
            sel.set_options([(f"{r['id']}  {r['status']}  {r.get('method') or ''}", r["id"]) for r in runs])
            if self.run_id and any(r["id"] == self.run_id for r in runs):
                sel.value = self.run_id
        if follow_newest and runs and self.run_id is None:
            self._follow(runs[0]["id"])

    @on(Select.Changed, "#t-job")
    def _job_picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.run_id:
            self._follow(event.value)

    def _follow(self, run_id: str) -> None:
        self.run_id = run_id
        sel = self.query_one("#t-job", Select)
        if any(v == run_id for _, v in sel._options):
            with sel.prevent(Select.Changed):
                sel.value = run_id
        self._reset_view()
        self._poll()

    def _reset_view(self) -> None:
        self._events_seen = 0
        self._last_loss_n = -1
        self._known = False
        self._total: int | None = None
        self._picks: dict[str, int] = {}
        self.query_one("#job-lines", Log).clear()
        self.query_one("#picks-table", DataTable).clear()
        self.query_one("#loss-plot").set_series({})  # type: ignore[attr-defined]

    def _poll(self) -> None:
        if self.run_id:
            self.poll_store(self.run_id, self._events_seen)

    @work(thread=True, exclusive=True, group="train-poll", exit_on_error=False)
    def poll_store(self, run_id: str, after_event: int) -> None:
        from core.errors import NotFoundError

        store = self.app.store  # type: ignore[attr-defined]
        try:
            snap = read_job(store, run_id, after_event)
        except NotFoundError:  # the job has not created its run yet
            proc = self.proc
            if proc is not None and proc.poll() not in (None, 0):
                err = (proc.stderr.read().decode(errors="replace") if proc.stderr else "").strip().splitlines()
                self.proc = None
                self.post_message(JobError(err[-1] if err else f"launcher exited with code {proc.returncode}"))
            return
        if snap.run["status"] == "running":
            store.reap_stale_runs()
        self.post_message(snap)

    def on_job_snapshot(self, snap: JobSnapshot) -> None:
        if snap.run["id"] != self.run_id:
            return
        if not self._known:  # first sight of this run: refresh the job list
            self._known = True
            self.load_jobs()
        run = snap.run
        if snap.total_steps is not None and (self._total is None or _from_events(snap)):
            self._total = snap.total_steps
        snap.total_steps = self._total
        step, total, eta = job_progress(snap, datetime.now(UTC))
        bar = self.query_one("#job-progress", ProgressBar)
        bar.update(total=total or None, progress=step)
        info = Text()
        info.append(f"{run['id']}  ", style="bold")
        color = {"completed": "success", "failed": "error", "running": "accent", "interrupted": "warning"}.get(run["status"], "foreground")
        info.append(run["status"], style=theme_style(self.app, color, bold=True))
        info.append(f"  method {run.get('method') or '-'}\n")
        info.append(f"step {step}/{total or '?'}  ETA {fmt_eta(eta)}")
        if "tokens_per_second" in snap.latest:
            info.append(f"  ·  {snap.latest['tokens_per_second']:.0f} tok/s")
        if "peak_memory_mb" in snap.latest:
            info.append(f"  ·  peak {snap.latest['peak_memory_mb']:.0f} MB")
        if "loss" in snap.latest:
            info.append(f"  ·  loss {snap.latest['loss']:.4f}")
        if run.get("error"):
            info.append(f"\n{run['error']}", style=theme_color(self.app, "error"))
        self.query_one("#job-info", Static).update(info)
        if len(snap.loss) != self._last_loss_n:  # redraw the plot only when points arrived
            self._last_loss_n = len(snap.loss)
            self.query_one("#loss-plot").set_series({"loss": snap.loss})  # type: ignore[attr-defined]
        log = self.query_one("#job-lines", Log)
        for e in snap.events:
            if e["id"] <= self._events_seen:  # two polls can overlap; show each event once
                continue
            log.write_line(f"{e['time'][11:19]} {e['message']}")
            self._events_seen = e["id"]
        if snap.picks and snap.picks != self._picks:
            self._picks = snap.picks
            table = self.query_one("#picks-table", DataTable)
            table.clear()
            for task, n in sorted(snap.picks.items()):
                table.add_row(task, str(n))
            table.add_row(Text("total", style="bold"), Text(str(sum(snap.picks.values())), style="bold"))


def _from_events(snap: JobSnapshot) -> bool:
    """Whether the snapshot's total came from this poll's events (newer than what the screen holds)."""
    return any(STEP_RE.search(e.get("message") or "") or isinstance((e.get("payload") or {}).get("total_steps"), int)
               for e in snap.events if isinstance(e.get("payload") or {}, dict))


def _loss_plot() -> Widget:
    from sage_tui.widgets.charts import LossPlot

    return LossPlot(title="training loss", id="loss-plot")
