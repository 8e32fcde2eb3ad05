"""Typed events a plan session emits while it works (the CLI prints them, the TUI turns them into messages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.planning.types import Plan


@dataclass
class StageEvent:
    """A coarse stage: loading | retrieving | planning | generating | timing | storing."""

    stage: str
    detail: str = ""


@dataclass
class CandidatesEvent:
    """The candidate tools the planner will use (after must_use / must_not_use), with why each ranked."""

    selections: list[Any]


@dataclass
class TokenEvent:
    text: str


@dataclass
class PartialPlanEvent:
    """A snapshot after the sub-goals and after each step batch (draft steps, before repair/validation)."""

    plan: Plan


@dataclass
class FinalPlanEvent:
    """The repaired, validated plan, with the problems left and the repairs made (display strings)."""

    plan: Plan
    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)


@dataclass
class TimingEvent:
    """A timing decision: for the goal (step_id None) or one step."""

    step_id: int | None
    decision: Any  # core.timing.decider.TimingDecision
    by: str


@dataclass
class DoneEvent:
    plan: Plan
    run_id: str
    status: str  # completed | failed (constraint violations left)
    seconds: float


@dataclass
class FailedEvent:
    """Planning stopped on an error; the run is stored with this status and error."""

    error: str
    run_id: str | None
    status: str  # failed | interrupted
    exit_code: int
