"""Retrieval-only planner (ablation baseline, no LLM): one clause -> the best-ranked candidate tool."""

from __future__ import annotations

from core.catalog import Tool
from core.llm.base import TokenCallback
from core.planning.base import BasePlanner, split_clauses
from core.planning.constraints import PlanConstraints
from core.planning.types import Plan, PlanStep, SubGoal


class GreedyPlanner(BasePlanner):
    name = "greedy"

    def _draft(self, goal: str, tools: list[Tool], c: PlanConstraints, plan: Plan,
               on_token: TokenCallback | None) -> list[PlanStep]:
        limit = min(self.config.max_steps, c.max_steps or self.config.max_steps)
        clauses = split_clauses(goal, limit)
        plan.subgoals = [SubGoal(i, t) for i, t in enumerate(clauses, start=1)]
        self.progress(plan, [], "subgoals")
        steps = self.greedy_steps(clauses, tools, 1, None, [g.id for g in plan.subgoals])
        self.progress(plan, steps, "steps")
        return steps
