"""One plan session: the single way a goal is planned, for the CLI and the TUI alike.

`plan_goal(request, store, on_event)` selects candidates once (constraints applied, so the candidates
shown are exactly the ones the planner uses), builds the backend through `core.llm.factory`, decides
timing for the goal (with `answer_directly`, an "answer directly" goal gets the empty plan of `direct_answer_plan`
unless `must_use` names tools), plans, decides timing for each step, and stores one `plan` run with one status rule: `completed`, or `failed` when
constraint violations remain after repair or when planning raised (an engine crash included; the error is
stored), or `interrupted` on cancel. Events go to `on_event` as they happen (core/planning/events.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.catalog import Catalog
from core.errors import SageError, UsageError
from core.planning.base import PlannerConfig
from core.planning.constraints import PlanConstraints
from core.planning.events import (
    CandidatesEvent,
    DoneEvent,
    FailedEvent,
    FinalPlanEvent,
    PartialPlanEvent,
    StageEvent,
    TimingEvent,
    TokenEvent,
)
from core.planning.types import Plan

EventSink = Callable[[Any], None]
TIMING_CHOICES = ("none", "rule", "llm", "hybrid")


class Cancelled(Exception):
    """The caller cancelled the session (its `is_cancelled` returned True)."""


@dataclass
class PlanRequest:
    """Everything that decides a plan run. `endpoint` is an `EndpointSpec` or URL (OpenAI-compatible server);
    `timing` "none" skips the timing decisions."""

    goal: str
    planner: str = "grounded"
    selector: str | None = None
    query_map: str | None = None  # "auto" | "none" | a map file, for a selector that embeds the query (None: its default)
    model: str | None = None
    lora: str | None = None
    endpoint: Any = None
    constraints: PlanConstraints = field(default_factory=PlanConstraints)
    config: PlannerConfig = field(default_factory=PlannerConfig)
    timing: str = "hybrid"
    # True: when the goal-level timing decision is "answer directly" (and must_use requires no tool), no plan is
    # drawn: the plan is empty and says why (plan.meta["answered_directly"]). Off by default: on the hand-written
    # test goals the hybrid decider said "answer directly" to 37 of 189 goals that need a tool (docs/PLANNING.md)
    answer_directly: bool = False
    tags: Sequence[str] = ()
    endpoint_name: str | None = None  # how the user picked the endpoint (a `[[endpoints]]` name), stored as such

    def picked(self) -> dict[str, Any]:
        ep = self.endpoint
        name = self.endpoint_name or (getattr(ep, "base_url", ep) if ep is not None else None)
        return {"model": self.model, "lora": self.lora, "endpoint": name}


@dataclass
class PlanOutcome:
    plan: Plan
    run_id: str
    status: str
    timing: list[dict[str, Any]]
    seconds: float

    @property
    def violations(self) -> list[dict[str, Any]]:
        return list(self.plan.meta.get("constraint_violations") or [])


class _EventBackend:
    """Wraps the LLM backend: a stage event and a cancellation check before each call, tokens as events."""

    def __init__(self, inner: Any, emit: EventSink, check: Callable[[], None]) -> None:
        self.inner = inner
        self.emit = emit
        self.check = check
        self.calls = 0
        self.name = getattr(inner, "name", "backend")

    def __getattr__(self, name: str) -> Any:  # info, supports_prefix_items, render, n_ctx, model ...
        return getattr(self.inner, name)

    def complete(self, messages: Sequence[dict[str, str]], **kwargs: Any) -> Any:
        self.check()
        user_cb = kwargs.pop("on_token", None)

        def on_token(tok: str) -> None:
            self.emit(TokenEvent(tok))
            if user_cb is not None:
                user_cb(tok)

        self.calls += 1
        self.emit(StageEvent("generating", f"LLM call {self.calls}"))
        comp = self.inner.complete(messages, on_token=on_token, **kwargs)
        self.emit(TokenEvent("\n"))
        return comp


def candidate_selections(selector: Any, catalog: Catalog, goal: str, top_k: int, c: PlanConstraints) -> list[Any]:
    """The selector's top-k for the goal with must_use tools first and must_not_use tools removed."""
    from core.selection.base import Selection

    ranked = selector.select(goal, top_k=top_k)
    by_id = {s.tool_id: s for s in ranked}
    out = []
    for tid in dict.fromkeys([*c.must_use, *(s.tool_id for s in ranked)]):
        if tid in c.must_not_use or tid not in catalog:
            continue
        out.append(by_id.get(tid) or Selection(tid, 0.0, 0, explanation="required by must_use"))
    for i, s in enumerate(out, start=1):
        s.rank = i
    return out


def used_selections(plan: Plan, goal_level: list[Any], picked: dict[str, Any] | None = None) -> list[Any]:
    """Selections for `plan.candidates` in order: the planner's own per-clause picks first, then the goal-level
    ones, else one that names the sub-goal it was retrieved for."""
    from core.selection.base import Selection

    by_id = {**{s.tool_id: s for s in goal_level}, **(picked or {})}
    why = {tid: g for g, tids in (plan.meta.get("subgoal_tools") or {}).items() for tid in tids}
    out = []
    for rank, tid in enumerate(plan.candidates, start=1):
        s = by_id.get(tid) or Selection(tid, 0.0, rank, explanation=f"retrieved for sub-goal {why.get(tid, '?')}")
        s.rank = rank
        out.append(s)
    return out


def plan_problems(plan: Plan) -> tuple[list[str], list[str]]:
    """Display strings: validation issues, constraint violations, sub-goals left without steps, warnings;
    and the repairs made."""
    validation = plan.meta.get("validation") or {}
    problems = [i.get("detail") or i.get("message") or str(i) for i in validation.get("issues", []) if isinstance(i, dict)]
    problems += [v.get("detail", str(v)) for v in plan.meta.get("constraint_violations") or []]
    missing = plan.meta.get("subgoals_without_steps") or []
    if missing:
        problems.append(f"no step for sub-goal{'s' if len(missing) > 1 else ''} {', '.join(f'SG{m}' for m in missing)}")
    return problems + list(plan.warnings), [f"{r.kind}: {r.detail}" for r in plan.repairs]


def plan_goal(request: PlanRequest, store: Any, on_event: EventSink | None = None, *, catalog: Catalog,
              selector: Any = None, backend: Any = None, timing_backend: Any = None, timing_selector: Any = None,
              is_cancelled: Callable[[], bool] | None = None) -> PlanOutcome:
    """Plan `request.goal` over `catalog` and store one `plan` run (see the module docstring). `selector` /
    `backend` / `timing_backend` are built from the request when None (tests and the app may inject them);
    the timing decider gets `timing_selector`, by default the selector it was fit with
    (`core.timing.decider.FIT_SELECTOR`), never the planner's.
    Raises the error that stopped planning after storing the run as failed/interrupted and emitting
    FailedEvent; returns the outcome otherwise (status "failed" when constraint violations remain)."""
    from core.planning.registry import PLANNERS, make_planner, make_selector

    emit: EventSink = on_event or (lambda _e: None)

    def check() -> None:
        if is_cancelled is not None and is_cancelled():
            raise Cancelled("planning cancelled")

    if request.planner not in PLANNERS:
        raise UsageError(f"unknown planner {request.planner!r}; expected one of {sorted(PLANNERS)}")
    if request.timing not in TIMING_CHOICES:
        raise UsageError(f"unknown timing strategy {request.timing!r}; expected one of {list(TIMING_CHOICES)}")
    t0 = time.perf_counter()
    c = request.constraints
    c.check_tools(catalog)
    emit(StageEvent("loading", "catalog and selector"))
    selector = selector or make_selector(catalog, request.selector or PLANNERS[request.planner].default_selector,
                                         query_map=request.query_map)
    emit(StageEvent("retrieving", "tool candidates"))
    selections = candidate_selections(selector, catalog, request.goal, request.config.top_k, c)
    emit(CandidatesEvent(selections))
    if PLANNERS[request.planner].uses_llm and backend is None:
        from core.llm.factory import make_backend

        backend = make_backend(request.model, request.lora, request.endpoint, "plan")  # built, not loaded yet
    planner = make_planner(request.planner, catalog, selector=selector,
                           backend=_EventBackend(backend, emit, check) if backend is not None else object(),
                           config=request.config)
    config = {**planner.describe(), "goal": request.goal, "constraints": c.to_dict(), "picked": request.picked(),
              "timing": request.timing}
    run_id = store.create_run("plan", config, task="task_planning", method=request.planner, name=request.goal[:60],
                              catalog_hash=catalog.hash, tags=list(request.tags))

    def failed() -> None:
        import sys

        exc = sys.exc_info()[1]
        status = "interrupted" if isinstance(exc, Cancelled | KeyboardInterrupt | InterruptedError) else "failed"
        error = str(exc) if isinstance(exc, SageError) else f"{type(exc).__name__}: {exc}"
        emit(FailedEvent(error, run_id, status, int(getattr(exc, "exit_code", 130 if status == "interrupted" else 1))))

    with store.finishing(run_id, before=failed, interrupts=(Cancelled, KeyboardInterrupt, InterruptedError),
                         log_errors=True):
        decider = _decider(request, catalog, timing_selector, timing_backend, emit)
        timing = []
        if decider is not None and request.answer_directly and not c.must_use:
            timing.append(_decide(decider, request, None, request.goal, emit, check))
        if timing and not timing[0]["should_call_tool"]:
            plan = direct_answer_plan(request.goal, request.planner, timing[0]["reason"])
            emit(FinalPlanEvent(plan, [], []))
        else:
            if backend is not None:
                _prepare(backend, emit)
            emit(StageEvent("planning", request.planner))

            def progress(partial: Plan) -> None:
                check()
                emit(PartialPlanEvent(partial))

            per_clause = getattr(planner, "retrieves_per_clause", False)
            plan = planner.plan(request.goal, constraints=c, candidates=None if per_clause else [s.tool_id for s in selections],
                                on_progress=progress)
            if per_clause:  # show the tools it retrieved per clause (the candidates it used), with where each came from
                emit(CandidatesEvent(used_selections(plan, selections, getattr(planner, "picked", {}))))
            problems, repairs = plan_problems(plan)
            emit(FinalPlanEvent(plan, problems, repairs))
            if decider is not None:
                texts = [(s.id, s.description or s.tool_id.replace("_", " ")) for s in plan.steps]
                timing += [_decide(decider, request, sid, text, emit, check)
                           for sid, text in ([] if timing else [(None, plan.goal)]) + texts]
        check()
        status = _store(store, run_id, plan, timing, time.perf_counter() - t0,
                        getattr(getattr(decider, "selector", None), "name", None))
    seconds = time.perf_counter() - t0
    emit(DoneEvent(plan, run_id, status, seconds))
    return PlanOutcome(plan, run_id, status, timing, seconds)


def _prepare(backend: Any, emit: EventSink) -> None:
    """Load the model (merging the adapter once) under the loading stage, not inside the first plan call."""
    emit(StageEvent("loading", "model"))
    if getattr(backend, "merge_pending", False):
        emit(StageEvent("loading", "model: merging the adapter into the base once (~20 s)"))
    prepare = getattr(backend, "prepare", None)
    if callable(prepare):
        prepare()


def direct_answer_plan(goal: str, planner: str, reason: str) -> Plan:
    """The empty plan of a goal the timing decision answers directly (no tool call is needed)."""
    return Plan(goal=goal, steps=[], planner=planner, meta={"answered_directly": reason, "llm_calls": 0})


def _decider(request: PlanRequest, catalog: Catalog, selector: Any, backend: Any, emit: EventSink) -> Any:
    """The timing decider for this request (None when the request says "none"), on `selector` or, when None,
    on the selector its rule was fit with (FIT_SELECTOR): the planner's retrieval scores are not what the rule's
    threshold was tuned on."""
    if request.timing == "none":
        return None
    from core.planning.registry import make_selector
    from core.timing.decider import FIT_SELECTOR, TimingDecider

    emit(StageEvent("timing", request.timing))
    if request.timing != "rule" and backend is None:
        from core.llm.factory import make_backend

        backend = make_backend(request.model, request.lora, request.endpoint, "timing")
    return TimingDecider(request.timing, catalog, selector=selector or make_selector(catalog, FIT_SELECTOR),
                         backend=backend)


def _decide(decider: Any, request: PlanRequest, step_id: int | None, text: str, emit: EventSink,
            check: Callable[[], None]) -> dict[str, Any]:
    """One timing decision (the goal's when `step_id` is None), emitted and returned as a stored record."""
    check()
    d = decider.decide(text)
    by = f"hybrid:{'llm' if d.used_llm else 'rule'}" if request.timing == "hybrid" else request.timing
    emit(TimingEvent(step_id, d, by))
    return {"step_id": step_id, "by": by, **d.to_dict()}


def _store(store: Any, run_id: str, plan: Plan, timing: list[dict[str, Any]], seconds: float,
           selector_name: str | None = None) -> str:
    """Events (plan, validation, timing), metrics and the final status; returns the status."""
    store.log_event(run_id, "plan", payload=plan.to_dict())
    violations = plan.meta.get("constraint_violations") or []
    store.log_event(run_id, "validation", payload={"validation": plan.meta.get("validation"),
                                                   "repairs": [r.__dict__ for r in plan.repairs],
                                                   "violations": violations})
    if timing:
        store.log_event(run_id, "timing", payload={"decisions": timing, "selector": selector_name})
    metrics = {k: float(v) for k, v in plan.meta.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    store.log_metrics(run_id, {**metrics, "steps": float(len(plan.steps)), "session_s": seconds})
    if violations:
        store.finish_run(run_id, "failed", error="plan violates constraints: " + "; ".join(
            f"{v['constraint']}: {v['detail']}" for v in violations))
        return "failed"
    store.finish_run(run_id, "completed")
    return "completed"
