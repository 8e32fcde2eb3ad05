"""Hierarchical planner: goal -> sub-goals (level 1) -> constrained tool steps (level 2) -> DAG.

Level 2 has two modes (`PlannerConfig.level2`):

* `batched` (default): ONE constrained call returns the steps of every sub-goal, each step tagged with
  its sub-goal (`{"subgoal": k, "id", "tool_id", "arguments", "depends_on"}`; the decoding schema
  restricts `subgoal` to the existing numbers 1..n and `tool_id` to the candidates). Two LLM calls per
  plan whatever the number of sub-goals.
* `per_subgoal`: one constrained call per sub-goal (the earlier design, kept for the ablation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from core.catalog import Tool
from core.llm.base import TokenCallback
from core.llm.prompts import (
    step_prompt,
    steps_all_prompt,
    subgoal_prompt,
    subgoals_schema,
    tagged_steps_schema,
    tool_steps_schema,
)
from core.planning.base import BasePlanner, split_clauses
from core.planning.constraints import PlanConstraints
from core.planning.llm_call import call_json
from core.planning.types import Plan, PlanStep, Repair, SubGoal

MAX_STEPS_PER_SUBGOAL = 3  # per_subgoal mode: at most 3 steps per call (training/prompts_bridge.py mirrors it)
SUBGOAL_KEYS = ("subgoal", "subgoal_id", "sub_goal", "subgoal_index")


GENERIC_WORDS = frozenset("a an the my me i to for of in on at and or then get check find look up see show give "
                          "tell let know please do make it its this that".split())


def dedupe_subgoals(texts: list[str]) -> list[str]:
    """Drop a sub-goal whose content words (generic verbs and stop words removed) equal or are contained in an
    earlier one's: "get weather forecast" after "check weather forecast"."""
    import re

    kept: list[str] = []
    seen: list[set[str]] = []
    for t in texts:
        words = {w for w in re.findall(r"[a-z0-9']+", t.lower()) if w not in GENERIC_WORDS}
        if words and any(words <= s for s in seen):
            continue
        kept.append(t)
        seen.append(words)
    return kept


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
        if self.config.subgoal_retrieval:
            kept = dedupe_subgoals(texts)
            if len(kept) < len(texts):
                plan.repairs.append(Repair("subgoal", f"dropped {len(texts) - len(kept)} duplicate sub-goal(s)"))
            texts = kept
        if not texts:
            plan.repairs.append(Repair("fallback", "no usable sub-goals from the model; split the goal into clauses"))
            texts = split_clauses(goal, self.config.max_subgoals)
        return texts

    def _draft(self, goal: str, tools: list[Tool], c: PlanConstraints, plan: Plan,
               on_token: TokenCallback | None) -> list[PlanStep]:
        limit = min(self.config.max_steps, c.max_steps or self.config.max_steps)
        plan.subgoals = [SubGoal(i, t) for i, t in enumerate(self._subgoals(goal, plan, on_token), start=1)]
        plan.meta["level2"] = self.config.level2
        self.progress(plan, [], "subgoals")
        if self.config.level2 == "per_subgoal":
            return self._per_subgoal(goal, tools, limit, plan, on_token)
        allowed = self._allowed(tools, plan, c)
        if self.config.subgoal_retrieval:
            tools, allowed = self._ground(tools, plan, c)
        return self._batched(goal, tools, limit, plan, on_token, allowed, keep=c.must_use)

    def _ground(self, tools: list[Tool], plan: Plan, c: PlanConstraints) -> tuple[list[Tool], dict[int, list[str]]]:
        """Retrieval per sub-goal: each sub-goal's own top `subgoal_retrieval` tools (within the caller's candidate
        pool when one was given) join the candidates, interleaved by rank so every intent is represented; each
        sub-goal may only use its own tools and the required ones."""
        k = int(self.config.subgoal_retrieval or 0)
        pool = getattr(self, "_pool", None)
        per: dict[int, list[str]] = {}
        for g in plan.subgoals:
            ranked = [s.tool_id for s in self.selector.select(g.description, top_k=k, candidates=pool)]
            per[g.id] = [t for t in ranked if t not in c.must_not_use]
        ids = list(c.must_use)
        for rank in range(k):
            ids += [v[rank] for v in per.values() if rank < len(v)]
        ids += [t.tool_id for t in tools]
        ids = [t for t in dict.fromkeys(ids) if t in self.catalog and t not in c.must_not_use]
        plan.candidates = ids
        allowed = {g: list(dict.fromkeys([*v, *(t for t in c.must_use if t in ids)])) or ids for g, v in per.items()}
        plan.meta["subgoal_tools"] = {str(g): v for g, v in allowed.items()}
        return [self.catalog.get(t) for t in ids], allowed

    def _allowed(self, tools: list[Tool], plan: Plan, c: PlanConstraints) -> dict[int, list[str]] | None:
        """Sub-goal -> the candidates a step of it may use (`subgoal_top_k`; required tools always allowed)."""
        k = self.config.subgoal_top_k
        if k is None or k >= len(tools):
            return None
        ids = [t.tool_id for t in tools]
        out = {}
        for g in plan.subgoals:
            top = [s.tool_id for s in self.selector.select(g.description, top_k=k, candidates=ids)]
            out[g.id] = list(dict.fromkeys([*top, *(t for t in c.must_use if t in ids)])) or ids
        plan.meta["subgoal_tools"] = {str(g): v for g, v in out.items()}
        return out

    # ---- level 2, batched: one call for all sub-goals ------------------------------------------
    def _batched(self, goal: str, tools: list[Tool], limit: int, plan: Plan,
                 on_token: TokenCallback | None, allowed: dict[int, list[str]] | None = None,
                 keep: Sequence[str] = ()) -> list[PlanStep]:
        n = len(plan.subgoals)
        subs = [g.description for g in plan.subgoals]
        def schema(shown: list[Tool]) -> dict[str, Any]:
            ok = allowed
            if ok is not None:
                ids = {t.tool_id for t in shown}
                ok = {g: [t for t in v if t in ids] or [t.tool_id for t in shown] for g, v in ok.items()}
            return tagged_steps_schema(shown, limit, n, first_id=self.first_id(1), allowed=ok)

        new, obj = self.llm_steps(lambda ts, d: steps_all_prompt(goal, ts, subs, d), schema, tools,
                                  self.config.max_tokens // 2 * max(1, n), plan, on_token, "level 2", keep)
        if not new:
            plan.repairs.append(Repair("fallback", "level 2: no usable step; used the top retrieved tool per sub-goal"))
            steps = self.greedy_steps([g.description for g in plan.subgoals], tools, 1, None,
                                      [g.id for g in plan.subgoals])[:limit]
            self.progress(plan, steps, "steps")
            return steps
        tags = self._subgoal_tags(obj, len(new))
        steps = self.assign_subgoals(new, tags, n, plan)
        if len(steps) > limit:
            plan.repairs.append(Repair("truncate", f"level 2: kept the first {limit} of {len(steps)} steps (max_steps)"))
            steps = steps[:limit]
        steps = self._renumber(steps, [], None, plan)
        self.progress(plan, steps, "steps")
        return steps

    @staticmethod
    def _subgoal_tags(obj: Any, n_steps: int) -> list[Any]:
        """The raw `subgoal` value of each step in the model output (None where absent)."""
        raw = obj.get("steps") if isinstance(obj, dict) else obj if isinstance(obj, list) else None
        raw = [r for r in raw or [] if isinstance(r, dict)]
        tags = [next((r[k] for k in SUBGOAL_KEYS if k in r), None) for r in raw]
        if len(tags) != n_steps:  # normalize_steps skipped some entries: tags cannot be aligned safely
            return [None] * n_steps
        return tags

    @staticmethod
    def assign_subgoals(steps: list[PlanStep], tags: list[Any], n_subgoals: int, plan: Plan) -> list[PlanStep]:
        """Set each step's `subgoal_id` from its tag; a missing or invalid tag (not an integer in 1..n)
        is repaired to the previous step's sub-goal (the first sub-goal for the first step)."""
        prev = 1
        out = []
        for s, tag in zip(steps, tags, strict=True):
            k = tag if isinstance(tag, int) and not isinstance(tag, bool) else None
            if k is None and isinstance(tag, str) and tag.strip().isdigit():
                k = int(tag.strip())
            if k is None or not 1 <= k <= n_subgoals:
                plan.repairs.append(Repair("subgoal", f"step {s.id}: sub-goal tag {tag!r} is not one of 1..{n_subgoals}; "
                                                      f"assigned to sub-goal {prev}", s.id))
                k = prev
            prev = k
            out.append(PlanStep(s.id, s.tool_id, s.arguments, list(s.depends_on), k, s.description))
        return out

    # ---- level 2, per sub-goal: one call each (ablation) ---------------------------------------
    def _per_subgoal(self, goal: str, tools: list[Tool], limit: int, plan: Plan,
                     on_token: TokenCallback | None) -> list[PlanStep]:
        steps: list[PlanStep] = []
        for sg in plan.subgoals:
            room = limit - len(steps)
            if room <= 0:
                plan.repairs.append(Repair("truncate", f"sub-goal {sg.id} skipped: max_steps={limit} reached"))
                continue
            done = [(s.id, s.tool_id) for s in steps]
            first = len(steps) + 1
            new, _ = self.llm_steps(
                lambda ts, d, done=done, sg=sg: step_prompt(goal, ts, done, sg.description, d),
                lambda shown, room=room, first=first: tool_steps_schema(
                    shown, min(room, MAX_STEPS_PER_SUBGOAL), first_id=self.first_id(first)),
                tools, self.config.max_tokens // 2, plan, on_token, f"sub-goal {sg.id}")
            if not new:
                plan.repairs.append(Repair("fallback", f"sub-goal {sg.id}: no usable step; used the top retrieved tool"))
                new = self.greedy_steps([sg.description], tools, 0, steps[-1].id if steps else None)
            steps += self._renumber(new[:room], steps, sg.id, plan)
            self.progress(plan, steps, "steps")
        return steps

    @staticmethod
    def _renumber(new: list[PlanStep], existing: list[PlanStep], subgoal_id: int | None,
                  plan: Plan) -> list[PlanStep]:
        """Give new steps fresh global ids; map their intra-batch dependencies, keep ones to earlier steps.

        `subgoal_id` None keeps each step's own `subgoal_id` (batched level 2)."""
        taken = {s.id for s in existing}
        used = set(taken)
        nxt = max(taken, default=0) + 1
        ids: list[int] = []
        first: dict[int, int] = {}
        for s in new:
            nid = s.id if s.id >= nxt and s.id not in used else nxt
            ids.append(nid)
            first.setdefault(s.id, nid)
            used.add(nid)
            nxt = max(nxt, nid) + 1
        latest: dict[int, int] = {}  # model id -> global id of the latest step so far with that id
        out = []
        for s, nid in zip(new, ids, strict=True):
            deps = [d if d in taken else latest.get(d, first.get(d, d)) for d in s.depends_on]
            latest[s.id] = nid
            sg = s.subgoal_id if subgoal_id is None else subgoal_id
            if nid != s.id:
                where = f"sub-goal {sg}" if sg is not None else "level 2"
                plan.repairs.append(Repair("duplicate_id", f"{where}: step id {s.id} -> {nid}"))
            out.append(PlanStep(nid, s.tool_id, s.arguments, deps, sg, s.description))
        return out


class PerSubgoalHierarchicalPlanner(HierarchicalPlanner):
    """The hierarchical planner with one level-2 call per sub-goal (`level2 = "per_subgoal"`), for the ablation
    (`--planner hierarchical_per_subgoal`)."""

    name = "hierarchical_per_subgoal"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = replace(self.config, level2="per_subgoal")
