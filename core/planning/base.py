"""Shared planner plumbing: goal checks, candidate retrieval, finalisation (repair + validate + constraints)."""

from __future__ import annotations

import copy
import dataclasses
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from core.catalog import Catalog, Tool
from core.errors import UsageError
from core.llm.base import TokenCallback
from core.planning.constraints import PlanConstraints, check_plan_constraints, enforce_constraints
from core.planning.dag import parallel_levels, repair_dependencies
from core.planning.types import Plan, PlanStep, Repair
from core.planning.validators import validate_plan
from core.selection.base import Selector

MAX_GOAL_CHARS = 2000  # longer goals are truncated with a warning (documented in docs/PLANNING.md)
LEVEL2_MODES = ("batched", "per_subgoal")
ProgressCallback = Callable[[Plan], None]
# a full stop ends a clause, except after a title or an abbreviation ("Mr. Brightside", "St. Ives", "e.g. ...")
_ABBREV = "".join(f"(?<!\\b{a})" for a in ("mr", "mrs", "ms", "dr", "st", "mt", "jr", "sr", "vs", "e\\.g", "i\\.e", "approx"))
_CLAUSE_SPLIT = re.compile(r"\s*(?:;|" + _ABBREV + r"\.\s|,?\s+and then\s+|,?\s+then\s+|,\s+and\s+|\s+and\s+|,\s+(?=[a-z]+\s))\s*", re.I)


@dataclass
class PlannerConfig:
    top_k: int = 8
    max_steps: int = 8
    max_subgoals: int = 4
    max_tokens: int = 320
    seed: int = 0
    # hierarchical level 2: "batched" = one call for the steps of every sub-goal (default, fast);
    # "per_subgoal" = one call per sub-goal (the earlier design, kept for the ablation)
    level2: str = "batched"
    # hierarchical level 2: a step of sub-goal k may only use one of the selector's top `subgoal_top_k`
    # candidates for sub-goal k's text (None: any candidate). Decoding only; the prompt is unchanged.
    subgoal_top_k: int | None = None
    # hierarchical: retrieve this many tools for each sub-goal's own text and add them to the candidates;
    # each sub-goal's steps may then only use its own retrieved tools (plus required ones). None: off.
    subgoal_retrieval: int | None = None
    # grounded: the model picks each clause's tool among the selector's top `choose_k` (or "none");
    # None: the retrieval rank decides (docs/PLANNING.md, session 7: measured, not adopted)
    choose_k: int | None = None
    # grounded: a clause's tool scores add `goal_weight` x the tool's score for the whole goal, so a clause
    # that leaves its object implicit ("switch it on in staging") leans on the goal's topic; 0.5 was chosen on
    # the hand-written dev subset, Seal-Tools dev agrees (docs/PLANNING.md)
    goal_weight: float = 0.5
    # grounded: "dataflow" keeps a model-written dependency only where the clause refers back to an earlier
    # result ("share it", "the copy"; else none), "model" keeps every one the model wrote
    deps: str = "dataflow"
    # grounded: the reranker (`core.selection.reranker`, a cross-encoder) rescores each clause's top `rerank_k`
    # retrieved tools; they are reordered by retrieval score + `rerank_weight` x its score. 0 = off
    rerank_k: int = 0
    rerank_weight: float = 1.0
    # grounded: a clause whose best tool scores below this (the selector's scale) keeps no step, unless no clause
    # would keep one; None: the selector's own floor (`core.planning.grounded.SCORE_FLOOR`; two_stage 2.0, chosen
    # on the first hand-written set and Seal-Tools dev, docs/PLANNING.md session 14), 0 = off
    min_score: float | None = None
    # grounded: a booking (`<x>_book`) whose catalog has `<x>_search` gets that search as the step before it, the
    # booking depending on it, unless a clause already picked the search (one books what a search found)
    search_before_book: bool = True
    # grounded: a phone / email / flight-number argument that is not of its type ("phone_number": "wife") takes
    # the one such mention in its clause or the goal (`core.planning.typed_arguments`), reported as a repair
    typed_arguments: bool = True
    # grounded: an email / phone argument that names a person, not an address, with no address in the goal
    # ("to": "manager") gets a `contact_search` step before it and takes its result (`core.planning.contact_lookup`)
    contact_lookup: bool = True
    # grounded: a "Today: ..." line in the arguments prompt (e.g. "Wednesday 2025-10-15"); None: no line
    today: str | None = None
    # grounded: what a clause is retrieved on: "raw" (its words) or "action" (`core.planning.clauses.action_query`:
    # a trailing condition dropped, "email X" read as "send an email to X")
    clause_query: str = "action"
    # grounded: the model rewrites each clause as a plain command ("Get me off the Gadget Weekly mailing" ->
    # "unsubscribe from Gadget Weekly"), and a tool's clause score is the better of the clause's and the
    # rewrite's. One call per clause: worth it with an instruction model only (docs/PLANNING.md, session 9)
    clause_rewrite: bool = False
    # grounded, with clause_rewrite: the rewrite prompt also shows the whole goal, so a clause such as "sort it out"
    # or "how bad is it in Vienna" is resolved against the rest of the message (chosen on dev, confirmed on the
    # test goals: +0.036 node F1 over the clause alone, docs/PLANNING.md, session 10)
    rewrite_context: bool = True

    def __post_init__(self) -> None:
        if self.level2 not in LEVEL2_MODES:
            raise UsageError(f"unknown level2 mode {self.level2!r}; expected one of {list(LEVEL2_MODES)}")
        if self.subgoal_top_k is not None and self.subgoal_top_k < 1:
            raise UsageError(f"subgoal_top_k must be >= 1, got {self.subgoal_top_k}")
        if self.subgoal_retrieval is not None and self.subgoal_retrieval < 1:
            raise UsageError(f"subgoal_retrieval must be >= 1, got {self.subgoal_retrieval}")
        if self.deps not in ("dataflow", "model"):
            raise UsageError(f"unknown deps mode {self.deps!r}; expected 'dataflow' or 'model'")
        if self.clause_query not in ("raw", "action"):
            raise UsageError(f"unknown clause_query {self.clause_query!r}; expected 'raw' or 'action'")
        if self.rerank_k < 0 or self.rerank_k == 1:
            raise UsageError(f"rerank_k must be 0 (off) or >= 2, got {self.rerank_k}")
        if self.choose_k is not None and self.choose_k < 2:
            raise UsageError(f"choose_k must be >= 2 (a choice), got {self.choose_k}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_goal(goal: str) -> tuple[str, list[str]]:
    """Strip the goal; UsageError when empty; truncate above MAX_GOAL_CHARS with a warning."""
    g = " ".join((goal or "").split())
    if not g:
        raise UsageError("the goal is empty")
    if len(g) > MAX_GOAL_CHARS:
        return g[:MAX_GOAL_CHARS], [f"goal truncated from {len(g)} to {MAX_GOAL_CHARS} characters"]
    return g, []


def split_clauses(goal: str, limit: int) -> list[str]:
    """Rule-based decomposition into action clauses ("X, then Y and Z" -> [X, Y, Z])."""
    parts = [p.strip(" .,") for p in _CLAUSE_SPLIT.split(goal) if p and len(p.strip(" .,")) > 2]
    parts = parts or [goal]
    if len(parts) > limit:
        parts = parts[: limit - 1] + [" ".join(parts[limit - 1:])]
    return parts


class BasePlanner:
    """Owns candidates and finalisation; subclasses implement `_draft`."""

    name = "base"
    uses_llm = False
    retrieves_per_clause = False  # True: retrieves per clause itself; callers pass no goal-level candidate list
    default_selector: str | None = None  # the selector used when the caller names none (None: the registry's)

    def __init__(self, catalog: Catalog, selector: Selector, backend: Any = None,
                 config: PlannerConfig | None = None) -> None:
        self.catalog = catalog
        self.selector = selector
        self.backend = backend
        self.config = config or PlannerConfig()

    def first_id(self, k: int) -> int | None:
        """`first_id` for the step schemas: `k` when the backend decodes positional schemas (sequential ids
        and earlier-only dependencies fast-forwarded, see `tool_steps_schema`), else None."""
        return k if getattr(self.backend, "supports_prefix_items", False) else None

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"planner": self.name, **self.config.to_dict(),
                             "selector": self.selector.config() if hasattr(self.selector, "config") else None}
        if self.uses_llm and self.backend is not None:
            d["model"] = self.backend.info()
        return d

    def candidates(self, goal: str, candidate_ids: Sequence[str] | None, c: PlanConstraints) -> list[Tool]:
        """Top-K tools for the goal (within `candidate_ids` when given), must_use added, must_not_use removed."""
        pool = [t for t in candidate_ids if t in self.catalog] if candidate_ids else None
        k = len(pool) if pool else self.config.top_k
        ranked = [s.tool_id for s in self.selector.select(goal, top_k=k, candidates=pool)]
        if pool:
            ranked += [t for t in pool if t not in ranked]
        ids = [t for t in dict.fromkeys([*c.must_use, *ranked]) if t not in c.must_not_use]
        return [self.catalog.get(t) for t in ids]

    def plan(self, goal: str, *, constraints: PlanConstraints | None = None,
             candidates: Sequence[str] | None = None, on_token: TokenCallback | None = None,
             on_progress: Callable[[Plan], None] | None = None) -> Plan:
        """Plan `goal`. `on_progress(partial_plan)` is called once the sub-goals are decided and after each
        step batch (LLM call) with a snapshot: `subgoals`, the draft steps so far (before repair/validation),
        `meta["partial"] = True`, `meta["stage"]` = "subgoals" | "steps". The returned plan is the final one."""
        c = constraints or PlanConstraints()
        c.check_tools(self.catalog)
        goal, warnings = check_goal(goal)
        t0 = time.perf_counter()
        tools = self.candidates(goal, candidates, c)
        self._pool = [t for t in candidates if t in self.catalog] if candidates else None
        t_sel = time.perf_counter()
        plan = Plan(goal=goal, steps=[], planner=self.name, warnings=warnings, candidates=[t.tool_id for t in tools])
        self._on_progress = on_progress
        try:
            steps = self._draft(goal, tools, c, plan, on_token)
        finally:
            self._on_progress = None
        self.finalize(plan, steps, c)
        plan.meta.update(select_s=round(t_sel - t0, 4), total_s=round(time.perf_counter() - t0, 4))
        return plan

    def _draft(self, goal: str, tools: list[Tool], c: PlanConstraints, plan: Plan,
               on_token: TokenCallback | None) -> list[PlanStep]:
        raise NotImplementedError

    _on_progress: Callable[[Plan], None] | None = None

    def progress(self, plan: Plan, steps: Sequence[PlanStep], stage: str) -> None:
        """Report a partial plan (a deep copy, so the callback may keep or change it) to `on_progress`."""
        cb = self._on_progress
        if cb is None:
            return
        snap = copy.deepcopy(plan)
        snap.steps = copy.deepcopy(list(steps))
        snap.meta = {**snap.meta, "partial": True, "stage": stage}
        cb(snap)

    def llm_steps(self, build: Callable[[Sequence[Tool], int], list[Any]], schema: Callable[[list[Tool]], dict[str, Any]],
                  tools: Sequence[Tool], max_tokens: int, plan: Plan, on_token: TokenCallback | None, where: str,
                  keep: Sequence[str] = ()) -> tuple[list[PlanStep], Any]:
        """One budgeted, constrained LLM call for steps: (parsed steps, raw object). Budget, context, JSON and
        normalisation problems become repairs tagged with `where`; no usable step gives ([], obj)."""
        from core.errors import ContextLengthError, PlanError
        from core.planning.budget import fit_prompt
        from core.planning.llm_call import call_json
        from core.planning.repair import normalize_steps

        try:
            messages, shown, budget, rep = fit_prompt(self.backend, build, tools, max_tokens, keep=keep)
        except ContextLengthError as exc:
            plan.repairs.append(Repair("context", f"{where} skipped: {exc.message}"))
            return [], None
        plan.repairs += rep
        obj, rep, _ = call_json(self.backend, messages, schema(shown), max_tokens=budget, seed=self.config.seed,
                                on_token=on_token, stats=plan.meta)
        plan.repairs += rep
        if obj is None:
            return [], None
        try:
            steps, rep = normalize_steps(obj)
        except PlanError as exc:
            plan.repairs.append(Repair("json", f"{where}: {exc.message}"))
            return [], obj
        plan.repairs += rep
        return steps, obj

    def greedy_steps(self, texts: Sequence[str], tools: Sequence[Tool], start_id: int, prev: int | None,
                     subgoal_ids: Sequence[int | None] | None = None) -> list[PlanStep]:
        """One step per text: the best-ranked candidate for it, each depending on the previous step."""
        ids = [t.tool_id for t in tools]
        out: list[PlanStep] = []
        for i, text in enumerate(texts):
            ranked = self.selector.select(text, top_k=1, candidates=ids) if ids else []
            if not ranked:
                continue
            sid = start_id + len(out)
            out.append(PlanStep(sid, ranked[0].tool_id, {}, [prev] if prev is not None else [],
                                subgoal_ids[i] if subgoal_ids else None, text))
            prev = sid
        return out

    def finalize(self, plan: Plan, steps: list[PlanStep], c: PlanConstraints) -> None:
        """Drop steps outside the candidates, repair the DAG, enforce constraints, validate; report all."""
        allowed = set(plan.candidates)
        kept = []
        for s in steps:
            if s.tool_id in allowed:
                kept.append(s)
            else:
                plan.repairs.append(Repair("tool", f"dropped step {s.id}: {s.tool_id!r} is not a candidate tool", s.id))
        if not kept and plan.candidates:
            kept = self.greedy_steps([plan.goal], [self.catalog.get(t) for t in plan.candidates], 1, None)
            plan.repairs.append(Repair("fallback", "no usable step from the model; used the top retrieved tool"))
        if len(kept) > self.config.max_steps:  # a backend that ignores the schema (a remote server) can exceed it
            for s in kept[self.config.max_steps:]:
                plan.repairs.append(Repair("truncate", f"dropped step {s.id}: over the planner's max_steps="
                                                       f"{self.config.max_steps}", s.id))
            kept = kept[: self.config.max_steps]
        kept, rep = repair_dependencies(kept)
        plan.repairs += rep
        limit = min(self.config.max_steps, c.max_steps or self.config.max_steps)
        kept, rep = enforce_constraints(kept, dataclasses.replace(c, max_steps=limit))
        plan.repairs += rep
        plan.steps = kept
        report = validate_plan(kept, self.catalog, plan.candidates)
        plan.meta["validation"] = report.to_dict()
        plan.meta["constraint_violations"] = [v.__dict__ for v in check_plan_constraints(kept, c)]
        plan.meta["levels"] = parallel_levels(kept) if report.is_dag else []
        covered = {s.subgoal_id for s in kept}
        missing = [g.id for g in plan.subgoals if g.id not in covered]
        if missing and plan.subgoals:  # the model planned nothing (left) for these sub-goals
            plan.meta["subgoals_without_steps"] = missing
