"""Hierarchical planner: goal -> sub-goals (level 1) -> constrained tool steps per sub-goal (level 2) -> DAG."""

from __future__ import annotations

from core.catalog import Tool
from core.errors import PlanError
from core.llm.base import TokenCallback
from core.llm.prompts import step_prompt, subgoal_prompt, subgoals_schema, tool_steps_schema
from core.planning.base import BasePlanner, split_clauses
from core.planning.constraints import PlanConstraints
from core.planning.llm_call import call_json
from core.planning.repair import normalize_steps
from core.planning.types import Plan, PlanStep, Repair, SubGoal


class HierarchicalPlanner(BasePlanner):
    name = "hierarchical"
    uses_llm = True

    def _subgoals(self, goal: str, plan: Plan, on_token: TokenCallback | None) -> list[str]:
        obj, rep, _ = call_json(self.backend, subgoal_prompt(goal), subgoals_schema(self.config.max_subgoals),
                                max_tokens=self.config.max_tokens // 2, seed=self.config.seed, on_token=on_token,
                                stats=plan.meta)
        plan.repairs += rep
        texts = obj.get("subgoals") if isinstance(obj, dict) else obj if isinstance(obj, list) else None
        texts = [" ".join(t.split()) for t in texts or [] if isinstance(t, str) and t.strip()]
        texts = list(dict.fromkeys(texts))[: self.config.max_subgoals]
        if not texts:
            plan.repairs.append(Repair("fallback", "no usable sub-goals from the model; split the goal into clauses"))
            texts = split_clauses(goal, self.config.max_subgoals)
        return texts

    def _draft(self, goal: str, tools: list[Tool], c: PlanConstraints, plan: Plan,
               on_token: TokenCallback | None) -> list[PlanStep]:
        limit = min(self.config.max_steps, c.max_steps or self.config.max_steps)
        plan.subgoals = [SubGoal(i, t) for i, t in enumerate(self._subgoals(goal, plan, on_token), start=1)]
        steps: list[PlanStep] = []
        for sg in plan.subgoals:
            room = limit - len(steps)
            if room <= 0:
                plan.repairs.append(Repair("truncate", f"sub-goal {sg.id} skipped: max_steps={limit} reached"))
                continue
            done = [(s.id, s.tool_id) for s in steps]
            obj, rep, _ = call_json(self.backend, step_prompt(goal, tools, done, sg.description),
                                    tool_steps_schema(tools, min(room, 3)), max_tokens=self.config.max_tokens // 2,
                                    seed=self.config.seed, on_token=on_token, stats=plan.meta)
            plan.repairs += rep
            new: list[PlanStep] = []
            if obj is not None:
                try:
                    new, rep = normalize_steps(obj)
                    plan.repairs += rep
                except PlanError as exc:
                    plan.repairs.append(Repair("json", f"sub-goal {sg.id}: {exc.message}"))
            if not new:
                plan.repairs.append(Repair("fallback", f"sub-goal {sg.id}: no usable step; used the top retrieved tool"))
                new = self.greedy_steps([sg.description], tools, 0, steps[-1].id if steps else None)
            steps += self._renumber(new[:room], steps, sg.id, plan)
        return steps

    @staticmethod
    def _renumber(new: list[PlanStep], existing: list[PlanStep], subgoal_id: int, plan: Plan) -> list[PlanStep]:
        """Give new steps fresh global ids; map their intra-batch dependencies, keep ones to earlier steps."""
        taken = {s.id for s in existing}
        nxt = max(taken, default=0) + 1
        mapping: dict[int, int] = {}
        for s in new:
            if s.id in taken or s.id in mapping.values() or s.id < nxt:
                mapping[s.id] = nxt
            else:
                mapping[s.id] = s.id
            nxt = max(nxt, mapping[s.id]) + 1
        out = []
        for s in new:
            deps = [mapping[d] if d in mapping and d not in taken else d for d in s.depends_on]
            if mapping[s.id] != s.id:
                plan.repairs.append(Repair("duplicate_id", f"sub-goal {subgoal_id}: step id {s.id} -> {mapping[s.id]}"))
            out.append(PlanStep(mapping[s.id], s.tool_id, s.arguments, deps, subgoal_id, s.description))
        return out
