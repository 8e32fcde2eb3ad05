"""Grounded planner: retrieval decides the tools, the model writes arguments and dependencies.

Measured on goals people write (docs/PLANNING.md): the bundled 270M model picks the wrong tool among a
clause's top retrieved tools more often than the retrieval rank does (24 vs 33 of 43 dev clauses), and its
own sub-goals leave intents without steps. So here:

1. the goal is split into action clauses by rules (`intent_clauses`: sentence and clause boundaries, a
   clause with fewer than two content words joins the next one);
2. each clause gets the selector's best tool over the whole catalog (or the caller's candidate pool), retrieved
   on the clause's action (`action_query`: a condition such as "if it rains" dropped, "email X" read as "send an
   email to X"; `clause_query="raw"` retrieves on the words as written), each
   tool's clause score plus `goal_weight` x its score for the whole goal (a clause like "switch it on in
   staging" after "create a feature flag" leans on the goal's topic); a tool already used by an earlier clause
   gives way to the clause's next one or, failing that, is dropped. With `choose_k`, the model picks among the clause's top k instead
   (measured: worse with both bundled models, kept for the ablation). A clause whose best tool scores below the
   selector's floor (`SCORE_FLOOR`) keeps no step unless nothing else would, and a booking gets the search it
   picks from as the step before it (`search_before_book`);
3. one constrained LLM call writes every step's arguments and `depends_on`, the decoding schema fixing step k
   to sub-goal k's tool, exactly one step per sub-goal (`one_step_per_subgoal`), required arguments first;
   with `deps="dataflow"` a dependency stays only where the clause refers back to an earlier result. Without
   a backend, or when the call yields nothing usable, steps keep empty arguments and chain on pronoun
   references.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np

from core.catalog import Tool
from core.llm.base import TokenCallback
from core.llm.prompts import steps_all_prompt, tagged_steps_schema
from core.planning.base import BasePlanner
from core.planning.clauses import action_query, intent_clauses, typed_mentions
from core.planning.constraints import PlanConstraints
from core.planning.contact_lookup import LOOKUP_TOOL, add_contact_lookups
from core.planning.typed_arguments import fix_typed_arguments
from core.planning.types import Plan, PlanStep, Repair, SubGoal
from core.selection.base import Selection, StageScore

_REFERS_BACK = re.compile(r"\b(it|them|that|those|these|the copy|the results?|the list|the (?:new|same) one|there)\b",
                          re.I)
RUNNER_UP_RATIO = 0.8  # a clause whose best tool is taken may use its runner-up when it scores >= 80 % of the best


CLAUSE_REASON, REWRITE_REASON = "best for the clause", "via the rewrite"  # how a pick's explanation starts
SEARCH_REASON = "the search a booking picks from"
# a clause whose best tool scores below this keeps no step (unless no clause would keep one), per selector: the
# floor is on the selector's own scale (two_stage: a z-score fusion); PlannerConfig.min_score overrides
SCORE_FLOOR = {"two_stage": 2.0}


def _runner_up(ranked: list[Any], taken: list[str]) -> Any:
    """The best tool of a ranking not taken yet, when it scores >= RUNNER_UP_RATIO of the ranking's best."""
    nxt = next((s for s in ranked if s.tool_id not in taken), None)
    return nxt if nxt is not None and nxt.score >= RUNNER_UP_RATIO * ranked[0].score else None


class GroundedPlanner(BasePlanner):
    name = "grounded"
    uses_llm = True
    retrieves_per_clause = True  # the plan session lets it retrieve over the whole catalog, then shows its picks
    default_selector = "two_stage"  # when none is named: retrieval decides the tools here

    def _draft(self, goal: str, tools: list[Tool], c: PlanConstraints, plan: Plan,
               on_token: TokenCallback | None) -> list[PlanStep]:
        limit = min(self.config.max_steps, c.max_steps or self.config.max_steps)
        clauses = intent_clauses(goal, min(limit, self.config.max_subgoals))
        chosen = self._choose(goal, clauses, c, plan)
        plan.subgoals = [SubGoal(i, t) for i, (t, _) in enumerate(chosen, start=1)]
        ids = [tid for _, tid in chosen]
        plan.candidates = list(dict.fromkeys([*ids, *plan.candidates]))
        plan.meta["subgoal_tools"] = {str(i): [tid] for i, tid in enumerate(ids, start=1)}
        self.progress(plan, [], "subgoals")
        has_llm = callable(getattr(self.backend, "complete", None))
        steps = self._fill(goal, plan, ids, limit, on_token) if has_llm and ids else []
        pool = getattr(self, "_pool", None)
        if steps and self.config.contact_lookup and LOOKUP_TOOL not in c.must_not_use \
                and (pool is None or LOOKUP_TOOL in pool):
            steps, rep = add_contact_lookups(steps, self.catalog, goal, limit)
            if rep:
                plan.repairs += rep
                plan.candidates = list(dict.fromkeys([*plan.candidates, LOOKUP_TOOL]))
        if not steps:
            steps = self._chain(plan, ids)
        self.progress(plan, steps, "steps")
        return steps

    def _choose(self, goal: str, clauses: list[str], c: PlanConstraints, plan: Plan) -> list[tuple[str, str]]:
        """(clause, tool) per clause that keeps a tool: the best one not taken by an earlier clause. With
        `clause_rewrite`, plan.meta["subgoal_rewrites"] maps each kept clause's sub-goal id to its rewrite."""
        pool = getattr(self, "_pool", None)
        self.picked: dict[str, Any] = {}  # tool id -> its Selection for the clause (the "why" a UI shows)
        taken: list[str] = []
        out: list[tuple[str, str]] = []
        k = self.config.choose_k
        weighted = self.config.goal_weight > 0 and clauses != [goal]
        goal_scores = {s.tool_id: s.score for s in self.selector.select(typed_mentions(goal), top_k=50, candidates=pool)} \
            if weighted else {}
        queries = [action_query(t) for t in clauses] if self.config.clause_query == "action" else list(clauses)
        rewrites = self._rewrites(goal, queries, plan) if self.config.clause_rewrite else [""] * len(clauses)
        own_all: list[list[Any]] = []  # each clause's ranking on its own words (differs from ranked_all with a rewrite)
        ranked_all = []
        for q, rw in zip(queries, rewrites, strict=True):
            merged, own = self._ranked_best(q, rw, goal_scores, max(3, k or 0, self.config.rerank_k), pool)
            ranked_all.append([s for s in merged if s.tool_id not in c.must_not_use])
            own_all.append([s for s in own if s.tool_id not in c.must_not_use])
        best_retrieved = [r[0].score if r else 0.0 for r in ranked_all]  # what the floor reads
        if self.config.rerank_k:
            ranked_all = [self._reranked(q, r) for q, r in zip(queries, ranked_all, strict=True)]
        models = self._model_picks(goal, clauses, ranked_all, k, plan) if k else None
        floor = self.config.min_score if self.config.min_score is not None else \
            SCORE_FLOOR.get(getattr(self.selector, "name", ""), 0.0)
        for i, (text, ranked) in enumerate(zip(clauses, ranked_all, strict=True)):
            if not ranked:
                continue
            pick = ranked[0]
            if models is not None:
                chosen = models[i]
                if chosen is None:  # the model: no listed tool does this clause
                    continue
                pick = next(s for s in ranked if s.tool_id == chosen)
                if pick.tool_id in taken:
                    continue
                ranked = [pick]
            if pick.tool_id in taken:
                nxt = _runner_up(ranked, taken)
                if nxt is None:  # a rewrite may add a tool, never cost the clause its own
                    nxt = _runner_up(own_all[i], taken)
                if nxt is None:
                    continue
                pick = nxt
            level = max(pick.score, best_retrieved[i]) if self.config.rerank_k else pick.score
            if level < floor and (out or any(b >= floor for b in best_retrieved[i + 1:])):
                continue  # a weak match is more often wrong than right; keep it only when nothing else is left
            taken.append(pick.tool_id)
            pick.clause = text
            pick.explanation = f"{CLAUSE_REASON} {text!r}" + (f"; {pick.explanation}" if pick.explanation else "")
            self.picked[pick.tool_id] = pick
            out.append((text, pick.tool_id))
            if rewrites[i]:
                plan.meta.setdefault("subgoal_rewrites", {})[str(len(out))] = rewrites[i]
        return self._searches_first(out, taken, c, pool, plan) if self.config.search_before_book else out

    def _reranked(self, query: str, ranked: list[Any]) -> list[Any]:
        """The clause's top `rerank_k` reordered by retrieval score + `rerank_weight` x the reranker's score (a
        "rerank" stage on each; the retrieval score stays the Selection's score); the rest follow unchanged."""
        from core.selection.embedding import name_description

        k = self.config.rerank_k
        head, rest = ranked[:k], ranked[k:]
        if len(head) < 2:
            return ranked
        rr, enc = self._reranker()
        ce = rr.scores(query, [name_description(self.catalog.get(s.tool_id)) for s in head], enc)
        order = np.argsort(-ce)
        for r, j in enumerate(order, start=1):
            head[j].stages = [*head[j].stages, StageScore("rerank", float(ce[j]), r)]
        key = {id(s): s.score + self.config.rerank_weight * float(x) for s, x in zip(head, ce, strict=True)}
        return sorted(head, key=lambda s: -key[id(s)]) + rest

    def _reranker(self) -> tuple[Any, Any]:
        """(the bundled reranker, the numpy encoder it runs on), loaded once per planner."""
        if getattr(self, "_rr", None) is None:
            from core.selection.encoder import load_encoder
            from core.selection.reranker import bundled_reranker_path, load_reranker

            emb = getattr(self.selector, "embedding", self.selector)
            enc = getattr(emb, "encoder", None)
            self._rr = (load_reranker(bundled_reranker_path()), enc if hasattr(enc, "encode_pairs") else load_encoder())
        return self._rr

    def _searches_first(self, out: list[tuple[str, str]], taken: list[str], c: PlanConstraints,
                        pool: list[str] | None, plan: Plan) -> list[tuple[str, str]]:
        """Each booking (`<x>_book`) preceded by its catalog's `<x>_search` when no clause picked that search: one
        books what a search found. plan.meta["fed_by_previous"] lists the (1-based) sub-goals whose step takes
        the previous step's result."""
        res: list[tuple[str, str]] = []
        moved: dict[str, str] = {}  # sub-goal id before -> after the insertions (for plan.meta["subgoal_rewrites"])
        for n, (text, tid) in enumerate(out, start=1):
            search = tid[: -len("_book")] + "_search" if tid.endswith("_book") else ""
            if search and search not in taken and search not in c.must_not_use and self.catalog.maybe(search) \
                    and (pool is None or search in pool):
                taken.append(search)
                ranked = self.selector.select(text, top_k=50, candidates=pool)  # its rank and stages for the clause
                sel = next((r for r in ranked if r.tool_id == search), None) or Selection(search, 0.0, 0)
                sel.explanation, sel.clause = f"{SEARCH_REASON} ({tid})", text
                self.picked[search] = sel
                res.append((f"find options to book: {text}", search))
                plan.meta.setdefault("fed_by_previous", []).append(len(res) + 1)
            res.append((text, tid))
            moved[str(n)] = str(len(res))
        if "subgoal_rewrites" in plan.meta:
            plan.meta["subgoal_rewrites"] = {moved[k]: v for k, v in plan.meta["subgoal_rewrites"].items()}
        return res

    def _rewrites(self, goal: str, clauses: list[str], plan: Plan) -> list[str]:
        """Each clause as a plain command written by the model ("" where it gives none, or without a model);
        kept in plan.meta["clause_rewrites"]."""
        from core.llm.prompts import REWRITE_SCHEMA, rewrite_prompt
        from core.planning.llm_call import call_json

        if not callable(getattr(self.backend, "complete", None)):
            return [""] * len(clauses)
        out = []
        for text in clauses:
            msgs = rewrite_prompt(text, goal if self.config.rewrite_context else None)
            obj, rep, _ = call_json(self.backend, msgs, REWRITE_SCHEMA, max_tokens=40,
                                    seed=self.config.seed, on_token=None, stats=plan.meta)
            plan.repairs += rep
            cmd = obj.get("command") if isinstance(obj, dict) else None
            out.append(cmd.strip() if isinstance(cmd, str) and cmd.strip().lower() != text.strip().lower() else "")
        plan.meta["clause_rewrites"] = dict(zip(clauses, out, strict=True))
        return out

    def _ranked_best(self, text: str, rewrite: str, goal_scores: dict[str, float], top_k: int,
                     pool: list[str] | None) -> tuple[list[Any], list[Any]]:
        """(fused ranking, the clause's own ranking): `_ranked` for the clause; with a rewrite, each tool's fused
        score is the better of its clause score and its rewrite score (a tool missing from one list counts that
        list's lowest). Measured on the dev goals: the better of the two gained, their sum did not
        (docs/PLANNING.md, session 9). Without a rewrite both are the same list."""
        if not rewrite:
            ranked = self._ranked(text, goal_scores, top_k, pool)
            return ranked, ranked
        own, alt = self._ranked(text, goal_scores, 50, pool), self._ranked(rewrite, goal_scores, 50, pool)
        if not own or not alt:
            return (own or alt)[:top_k], own[:top_k]
        own_top = [copy.copy(s) for s in own[:top_k]]
        s_own, s_alt = {s.tool_id: s.score for s in own}, {s.tool_id: s.score for s in alt}
        lo_own, lo_alt = min(s_own.values()), min(s_alt.values())
        merged = {s.tool_id: s for s in alt} | {s.tool_id: s for s in own}
        for tid, sel in merged.items():
            a, b = s_own.get(tid, lo_own), s_alt.get(tid, lo_alt)
            sel.score = max(a, b)
            if b > a:
                sel.rewrite = rewrite
                sel.explanation = f"{REWRITE_REASON} {rewrite!r}" + (f"; {sel.explanation}" if sel.explanation else "")
        return sorted(merged.values(), key=lambda s: -s.score)[:top_k], own_top

    def _ranked(self, text: str, goal_scores: dict[str, float], top_k: int, pool: list[str] | None) -> list[Any]:
        """The selector's ranking for a clause; with the goal's scores (its top 50), each tool's score +
        `goal_weight` x its score for the whole goal (tools outside that list get its lowest)."""
        if not goal_scores:
            return self.selector.select(text, top_k=top_k, candidates=pool)
        floor = min(goal_scores.values())
        ranked = self.selector.select(text, top_k=50, candidates=pool)
        for s in ranked:
            s.score += self.config.goal_weight * goal_scores.get(s.tool_id, floor)
        return sorted(ranked, key=lambda s: -s.score)[:top_k]

    def _model_picks(self, goal: str, clauses: list[str], ranked: list[list[Any]], k: int,
                     plan: Plan) -> list[str | None] | None:
        """The model's tool per clause among its top `k` retrieved (None: "none"); None when there is no model
        or its answer is unusable (the retrieval rank then decides, reported as a repair)."""
        from core.llm.prompts import NONE_PICK, choose_prompt, choose_schema
        from core.planning.llm_call import call_json

        if not callable(getattr(self.backend, "complete", None)) or not any(ranked):
            return None
        keep = [(i, r[:k]) for i, r in enumerate(ranked) if r]
        options = [[s.tool_id for s in r] for _, r in keep]
        messages = choose_prompt(goal, [clauses[i] for i, _ in keep],
                                 [[self.catalog.get(t) for t in ids] for ids in options])
        positional = bool(getattr(self.backend, "supports_prefix_items", False))
        obj, rep, _ = call_json(self.backend, messages, choose_schema(options, positional=positional),
                                max_tokens=16 * k * len(options), seed=self.config.seed, on_token=None,
                                stats=plan.meta)
        plan.repairs += rep
        picks = obj.get("picks") if isinstance(obj, dict) else None
        if not isinstance(picks, list) or len(picks) != len(options):
            plan.repairs.append(Repair("fallback", "tool choice: no usable answer from the model; retrieval rank "
                                                   "decides"))
            return None
        out: list[str | None] = [None] * len(clauses)
        for (i, _), ids, p in zip(keep, options, picks, strict=True):
            out[i] = p if p in ids else (ids[0] if p != NONE_PICK else None)
        return out

    def _fill(self, goal: str, plan: Plan, ids: list[str], limit: int, on_token: TokenCallback | None) -> list[PlanStep]:
        """One call: arguments and dependencies for the fixed tools (sub-goal k may only use tool k)."""
        subs = [g.description for g in plan.subgoals]
        tools = [self.catalog.get(t) for t in dict.fromkeys(ids)]
        allowed = {i: [tid] for i, tid in enumerate(ids, start=1)}

        def schema(shown: list[Tool]) -> dict[str, Any]:
            return one_step_per_subgoal(require_arguments(tagged_steps_schema(
                shown, min(limit, len(ids)), len(ids), first_id=self.first_id(1),
                allowed={g: [t for t in v if t in {x.tool_id for x in shown}] or v for g, v in allowed.items()}),
                self.catalog), ids)

        today = self.config.today
        new, obj = self.llm_steps(lambda ts, d: steps_all_prompt(goal, ts, subs, d, today=today), schema, tools,
                                  self.config.max_tokens // 2 * max(1, len(ids)), plan, on_token, "arguments",
                                  keep=ids)
        if not new:
            return []
        from core.planning.hierarchical import HierarchicalPlanner

        tags = HierarchicalPlanner._subgoal_tags(obj, len(new))
        steps = HierarchicalPlanner.assign_subgoals(new, tags, len(ids), plan)
        by_goal: dict[int, PlanStep] = {}
        for s in steps:  # one step per sub-goal: its fixed tool, the first the model wrote
            if s.subgoal_id is not None and s.tool_id == ids[s.subgoal_id - 1]:
                by_goal.setdefault(s.subgoal_id, s)
        old_to_new = {s.id: g for g, s in by_goal.items()}
        out = []
        for g in range(1, len(ids) + 1):
            s = by_goal.get(g)
            if s is None:
                plan.repairs.append(Repair("fallback", f"sub-goal {g}: no step from the model; {ids[g - 1]} with no "
                                                       "arguments"))
                out.append(PlanStep(g, ids[g - 1], {}, [g - 1] if g > 1 and _refers_back(plan, g) else [], g,
                                    plan.subgoals[g - 1].description))
                continue
            deps = sorted({old_to_new[d] for d in s.depends_on if d in old_to_new and old_to_new[d] < g})
            if self.config.deps == "dataflow":  # an edge needs data to flow: the clause refers back ("share it")
                deps = (deps or [g - 1]) if g > 1 and _refers_back(plan, g) else []
            out.append(PlanStep(g, s.tool_id, s.arguments, deps, g, s.description or plan.subgoals[g - 1].description))
        if self.config.typed_arguments:
            plan.repairs += fix_typed_arguments(out, self.catalog, goal)
        return out

    def _chain(self, plan: Plan, ids: list[str]) -> list[PlanStep]:
        """Steps with no arguments; a clause that refers back ("add it", "share them") depends on the previous."""
        return [PlanStep(g, tid, {}, [g - 1] if g > 1 and _refers_back(plan, g) else [], g,
                         plan.subgoals[g - 1].description) for g, tid in enumerate(ids, start=1)]


def one_step_per_subgoal(schema: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """Positional schemas only: exactly one step per sub-goal, in order, step k with sub-goal k's tool, so the
    model writes arguments and dependencies and cannot end the list early (it used to stop after two of three
    sub-goals, leaving steps without arguments). Returns the schema, changed in place."""
    steps = schema["properties"]["steps"]
    pos = steps.get("prefixItems")
    if not pos or len(pos) < len(ids):
        return schema
    for k, (p, tid) in enumerate(zip(pos, ids, strict=False), start=1):
        shapes = [sh for sh in p.get("anyOf", []) if sh["properties"]["tool_id"]["enum"] == [tid]]
        if not shapes:
            return schema  # the budget dropped this tool from the prompt: keep the looser schema
        for sh in shapes:
            sh["properties"]["subgoal"] = {"enum": [k]}
        p["anyOf"] = shapes
    steps["prefixItems"] = pos[: len(ids)]
    steps["minItems"] = steps["maxItems"] = len(ids)
    return schema


def require_arguments(schema: dict[str, Any], catalog: Any) -> dict[str, Any]:
    """Every step shape's `arguments` must hold its tool's required parameters, written first (schema order),
    then any optional ones (`x-required-first`, core/llm/json_regex.py). Returns the schema, changed in place."""
    from core.llm.json_regex import REQUIRED_FIRST

    steps = schema["properties"]["steps"]
    for pos in steps.get("prefixItems") or [steps.get("items")]:
        for shape in (pos or {}).get("anyOf", []):
            tool = catalog.maybe(shape["properties"]["tool_id"]["enum"][0])
            args = shape["properties"]["arguments"]
            req = [k for k in args.get("properties", {}) if tool and k in set(tool.parameters.get("required") or [])]
            if req:
                props = args["properties"]
                args["properties"] = {k: props[k] for k in [*req, *(k for k in props if k not in req)]}
                args["required"] = req
                args[REQUIRED_FIRST] = True
    return schema


def _refers_back(plan: Plan, g: int) -> bool:
    """Sub-goal g takes the previous step's result: its clause refers back ("share it"), or it is a booking
    after the search added for it."""
    return g in plan.meta.get("fed_by_previous", ()) or bool(_REFERS_BACK.search(plan.subgoals[g - 1].description))
