"""Flat single-shot LLM planner (ablation): one constrained call produces the whole step list."""

from __future__ import annotations

from core.catalog import Tool
from core.errors import ContextLengthError, PlanError
from core.llm.base import TokenCallback
from core.llm.prompts import plan_prompt, tool_steps_schema
from core.planning.base import BasePlanner
from core.planning.budget import fit_prompt
from core.planning.constraints import PlanConstraints
from core.planning.llm_call import call_json
from core.planning.repair import normalize_steps
from core.planning.types import Plan, PlanStep, Repair


class FlatPlanner(BasePlanner):
    name = "flat"
    uses_llm = True

    def _draft(self, goal: str, tools: list[Tool], c: PlanConstraints, plan: Plan,
               on_token: TokenCallback | None) -> list[PlanStep]:
        limit = min(self.config.max_steps, c.max_steps or self.config.max_steps)
        try:
            messages, shown, budget, rep = fit_prompt(self.backend, lambda ts, d: plan_prompt(goal, ts, d), tools,
                                                      self.config.max_tokens, keep=c.must_use)
        except ContextLengthError as exc:
            plan.repairs.append(Repair("context", f"LLM call skipped: {exc.message}"))
            self.progress(plan, [], "steps")
            return []
        plan.repairs += rep
        schema = tool_steps_schema(shown, limit, first_id=self.first_id(1))
        obj, rep, _ = call_json(self.backend, messages, schema, max_tokens=budget,
                                seed=self.config.seed, on_token=on_token, stats=plan.meta)
        plan.repairs += rep
        if obj is None:
            self.progress(plan, [], "steps")
            return []
        try:
            steps, rep = normalize_steps(obj)
        except PlanError as exc:
            plan.repairs.append(Repair("json", exc.message))
            self.progress(plan, [], "steps")
            return []
        plan.repairs += rep
        self.progress(plan, steps, "steps")
        return steps
