"""Plan data types (JSON round-trippable)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class PlanStep:
    id: int
    tool_id: str
    arguments: dict[str, Any] = field(default_factory=dict)
    depends_on: list[int] = field(default_factory=list)
    subgoal_id: int | None = None
    description: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlanStep:
        return cls(id=int(d["id"]), tool_id=str(d["tool_id"]), arguments=dict(d.get("arguments") or {}),
                   depends_on=[int(x) for x in d.get("depends_on") or []], subgoal_id=d.get("subgoal_id"),
                   description=str(d.get("description") or ""))


@dataclass
class SubGoal:
    id: int
    description: str


@dataclass
class Repair:
    """One change the repair layer made (kind is stable; detail is for people)."""

    kind: str  # json | alias | dependency | cycle | duplicate_id | tool | constraint | fallback | truncate | argument | lookup
    detail: str
    step_id: int | None = None


@dataclass
class Plan:
    goal: str
    steps: list[PlanStep]
    planner: str
    subgoals: list[SubGoal] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # timings, token counts, model info

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(goal=d["goal"], steps=[PlanStep.from_dict(s) for s in d["steps"]], planner=d["planner"],
                   subgoals=[SubGoal(**g) for g in d.get("subgoals", [])],
                   repairs=[Repair(**r) for r in d.get("repairs", [])], warnings=list(d.get("warnings", [])),
                   candidates=list(d.get("candidates", [])), meta=dict(d.get("meta", {})))

    @property
    def tool_sequence(self) -> list[str]:
        return [s.tool_id for s in self.steps]
