"""Flat single-shot LLM planner (ablation): one constrained call produces the whole step list."""

from __future__ import annotations

from core.catalog import Tool
from core.llm.base import TokenCallback
from core.llm.prompts import plan_prompt, tool_steps_schema
from core.planning.base import BasePlanner
from core.planning.constraints import PlanConstraints
from core.planning.types import Plan, PlanStep


class FlatPlanner(BasePlanner):
    name = "flat"
    uses_llm = True

    def _draft(self, goal: str, tools: list[Tool], c: PlanConstraints, plan: Plan,
               on_token: TokenCallback | None) -> list[PlanStep]:
        limit = min(self.config.max_steps, c.max_steps or self.config.max_steps)
        steps, _ = self.llm_steps(lambda ts, d: plan_prompt(goal, ts, d),
                                  lambda shown: tool_steps_schema(shown, limit, first_id=self.first_id(1)),
                                  tools, self.config.max_tokens, plan, on_token, "flat", c.must_use)
        self.progress(plan, steps, "steps")
        return steps
