"""Launch `sage-tui eval` on a dataset from the dashboard (a subprocess; results land in the store)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

TASKS = ["tool_selection", "tool_retrieval", "task_planning", "timing_judgment"]
SPLITS = ["test", "test_extended", "validation"]


def eval_command(task: str, split: str, *, dataset: str = "", methods: str = "", limit: str = "", db: Path | None = None) -> list[str]:
    """The `sage-tui eval` command line for the form's values (methods: selector/planner/timing names)."""
    cmd = [sys.executable, "-m", "sage_tui", "eval", "--task", task, "--jsonl", "--progress-jsonl"]
    cmd += ["--dataset", dataset] if dataset else ["--split", split]
    flag = {"task_planning": "--planner", "timing_judgment": "--timing"}.get(task, "--selector")
    for m in [m.strip() for m in methods.split(",") if m.strip()]:
        cmd += [flag, m]
    if limit.strip():
        cmd += ["--limit", str(int(limit))]
    if db is not None:
        cmd += ["--db", str(db)]
    return cmd


ProgressFn = Callable[[int, int, str], None]


def run_eval_process(cmd: list[str], on_progress: ProgressFn | None = None,
                     on_start: Callable[[subprocess.Popen[str]], None] | None = None) -> tuple[list[str], str | None]:
    """Run the command to completion, calling `on_progress(done, total, label)` for each progress line it
    writes to stderr (`--progress-jsonl`); returns (stored run ids, error text or None)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    if on_start is not None:
        on_start(proc)
    other: list[str] = []
    assert proc.stderr is not None and proc.stdout is not None
    for line in proc.stderr:  # stdout carries one short JSON line per run, read once stderr closes
        event = _progress_event(line)
        if event is None:
            if line.strip():
                other.append(line.rstrip())
        elif on_progress is not None:
            on_progress(*event)
    out = proc.stdout.read()
    code = proc.wait()
    ids = []
    for line in out.splitlines():
        try:
            ids.append(json.loads(line)["run_id"])
        except (ValueError, KeyError, TypeError):
            continue
    error = None if code == 0 else (other or [f"exit {code}"])[-1]
    return ids, error


def _progress_event(line: str) -> tuple[int, int, str] | None:
    if not line.startswith('{"event": "progress"'):
        return None
    try:
        d = json.loads(line)
        return int(d["done"]), int(d["total"]), str(d.get("label", ""))
    except (ValueError, KeyError, TypeError):
        return None


class EvalLaunchScreen(ModalScreen[list[str] | None]):
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
            yield Label("methods, comma separated (empty: the task's defaults)")
            yield Input(placeholder="e.g. keyword,two_stage · flat,greedy · rule,hybrid", id="ev-methods")
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
        shown = ["sage-tui", *(c for c in cmd[3:] if c not in ("--jsonl", "--progress-jsonl"))]  # plumbing flags
        self.query_one("#ev-command", Static).update("$ " + " ".join(shown))

    @on(Button.Pressed, "#ev-run")
    def action_launch(self) -> None:
        """Close with the command; the dashboard runs it in a worker and shows its progress."""
        try:
            cmd = self._command()
        except ValueError:
            self.notify("limit must be a whole number", severity="warning")
            return
        self.dismiss(cmd)

    @on(Button.Pressed, "#ev-cancel")
    def action_close(self) -> None:
        self.dismiss(None)
