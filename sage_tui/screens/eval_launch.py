"""Launch `sage-tui eval` on a dataset from the dashboard (a subprocess; results land in the store)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from sage_tui.messages import EvalFinished

TASKS = ["tool_selection", "tool_retrieval", "task_planning", "timing_judgment"]
SPLITS = ["test", "test_extended", "validation"]


def eval_command(task: str, split: str, *, dataset: str = "", methods: str = "", limit: str = "", db: Path | None = None) -> list[str]:
    """The `sage-tui eval` command line for the form's values (methods: selector/planner/timing names)."""
    cmd = [sys.executable, "-m", "sage_tui", "eval", "--task", task, "--jsonl"]
    cmd += ["--dataset", dataset] if dataset else ["--split", split]
    flag = {"task_planning": "--planner", "timing_judgment": "--timing"}.get(task, "--selector")
    for m in [m.strip() for m in methods.split(",") if m.strip()]:
        cmd += [flag, m]
    if limit.strip():
        cmd += ["--limit", str(int(limit))]
    if db is not None:
        cmd += ["--db", str(db)]
    return cmd


def run_eval_process(cmd: list[str]) -> tuple[list[str], str | None]:
    """Run the command to completion; (stored run ids, error text or None)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    ids = []
    for line in proc.stdout.splitlines():
        try:
            ids.append(json.loads(line)["run_id"])
        except (ValueError, KeyError, TypeError):
            continue
    error = None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    return ids, error


class EvalLaunchScreen(ModalScreen[None]):
    SCOPE = "launch eval"
    BINDINGS = [
        Binding("escape", "close", "Cancel", id="eval.cancel"),
        Binding("ctrl+r", "launch", "Run the evaluation", id="eval.launch"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="eval-form"):
            yield Static("Evaluate a dataset (runs `sage-tui eval` in the background)", classes="pane-title")
            yield Label("task")
            yield Select([(t, t) for t in TASKS], value="tool_selection", allow_blank=False, id="ev-task")
            yield Label("bundled split (or a dataset file below)")
            yield Select([(s, s) for s in SPLITS], value="test", allow_blank=False, id="ev-split")
            yield Input(placeholder="dataset JSONL path (optional)", id="ev-dataset")
            yield Label("selectors / planners / timing strategies, comma separated (empty: defaults)")
            yield Input(placeholder="e.g. keyword,two_stage", id="ev-methods")
            yield Label("limit (samples)")
            yield Input(value="50", type="integer", id="ev-limit")
            yield Static("", id="ev-command", classes="muted")
            with Horizontal(classes="bar"):
                yield Button("Run (ctrl+r)", variant="primary", id="ev-run")
                yield Button("Cancel", id="ev-cancel")

    def _command(self) -> list[str]:
        task = self.query_one("#ev-task", Select).value
        split = self.query_one("#ev-split", Select).value
        return eval_command(
            str(task),
            str(split),
            dataset=self.query_one("#ev-dataset", Input).value.strip(),
            methods=self.query_one("#ev-methods", Input).value,
            limit=self.query_one("#ev-limit", Input).value,
            db=self.app.store.path,  # type: ignore[attr-defined]
        )

    def on_mount(self) -> None:
        self._preview()

    @on(Input.Changed)
    @on(Select.Changed)
    def _preview(self) -> None:
        try:
            cmd = self._command()
        except ValueError:
            return
        shown = ["sage-tui", *cmd[3:]]
        self.query_one("#ev-command", Static).update("$ " + " ".join(shown))

    @on(Button.Pressed, "#ev-run")
    def action_launch(self) -> None:
        cmd = self._command()
        dashboard = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else self.app.screen

        def job() -> None:
            ids, error = run_eval_process(cmd)
            dashboard.post_message(EvalFinished(ids, error))
            if error:
                self.app.call_from_thread(self.app.notify, error, title="eval failed", severity="error", timeout=15)
            else:
                self.app.call_from_thread(self.app.notify, f"stored {len(ids)} run(s): {', '.join(ids)}", title="eval done")

        self.app.run_worker(job, thread=True, group="eval", name="eval", exit_on_error=False)
        self.app.notify("evaluation started; its run appears in the dashboard", title="eval")
        self.dismiss(None)

    @on(Button.Pressed, "#ev-cancel")
    def action_close(self) -> None:
        self.dismiss(None)
