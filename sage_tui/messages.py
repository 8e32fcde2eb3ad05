"""Typed messages that background workers post to the UI (workers never touch widgets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


# ---- planning -------------------------------------------------------------------------------
@dataclass
class PlanTokens(Message):
    """A coalesced chunk of streamed model output."""

    text: str


@dataclass
class PlanStage(Message):
    """The planner moved to another phase (retrieve, decompose, steps, repair, timing)."""

    stage: str
    detail: str = ""


@dataclass
class PlanCandidates(Message):
    """Ranked tool candidates (core.selection.base.Selection objects)."""

    selections: list[Any]


@dataclass
class PlanGraph(Message):
    """The current DAG: step dicts {id, tool_id, arguments, depends_on, description, sub_goal, status}."""

    steps: list[dict[str, Any]]
    sub_goals: list[dict[str, Any]] = field(default_factory=list)
    layout: Any = None  # widgets.dag.Layout computed in the worker (networkx stays off the UI thread)
    stage: str = ""  # "subgoals" | "steps" (partial plans from core's on_progress) | "final" | "" (draft)


@dataclass
class PlanChecks(Message):
    """Validation problems and repairs made to the plan."""

    problems: list[str]
    repairs: list[str]


@dataclass
class PlanTiming(Message):
    """A timing decision for the goal (step_id None) or for one step."""

    step_id: int | None
    should_call_tool: bool
    confidence: float
    reason: str
    strategy: str
    tool: str | None = None


@dataclass
class PlanDone(Message):
    plan: dict[str, Any]
    run_id: str | None
    seconds: float


@dataclass
class PlanFailed(Message):
    error: str
    signal: str | None = None  # the engine child's signal when it crashed (SIGSEGV, SIGKILL, ...)
    model: str | None = None
    log_tail: str = ""


# ---- training -------------------------------------------------------------------------------
@dataclass
class JobSnapshot(Message):
    """What the run store says about a training run right now."""

    run: dict[str, Any]
    loss: list[tuple[int, float]]
    latest: dict[str, float]
    events: list[dict[str, Any]]
    picks: dict[str, int]
    total_steps: int | None


@dataclass
class JobLaunched(Message):
    pid: int
    run_id: str | None
    command: list[str]
    log_path: str


@dataclass
class JobError(Message):
    error: str


# ---- dashboard ------------------------------------------------------------------------------
@dataclass
class RunsLoaded(Message):
    runs: list[dict[str, Any]]
    metrics: dict[str, dict[str, float]]


@dataclass
class EvalProgress(Message):
    """`done` of `total` samples of the eval launched from the dashboard (the newest replaces a queued one)."""

    done: int
    total: int
    label: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EvalProgress)


@dataclass
class EvalFinished(Message):
    run_ids: list[str]
    error: str | None = None
