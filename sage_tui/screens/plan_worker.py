"""The plan worker's body (runs in a thread): a thin adapter over the plan session (core/planning/session.py)
that turns its events into typed messages, the only thing it does with the UI. Heavy imports happen here."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.worker import get_current_worker

from sage_tui.messages import (
    PlanCandidates,
    PlanChecks,
    PlanDone,
    PlanFailed,
    PlanGraph,
    PlanStage,
    PlanTiming,
    PlanTokens,
)

Post = Callable[[Message], Any]


class TokenCoalescer:
    """Collects streamed tokens and posts them at most every `interval_s` (floods would stall the UI)."""

    def __init__(self, post: Post, interval_s: float = 0.05) -> None:
        self.post = post
        self.interval_s = interval_s
        self.buf: list[str] = []
        self.last = 0.0
        self.posts = 0

    def __call__(self, token: str) -> None:
        self.buf.append(token)
        now = time.monotonic()
        if now - self.last >= self.interval_s:
            self.flush()
            self.last = now

    def flush(self) -> None:
        if self.buf:
            self.post(PlanTokens("".join(self.buf)))
            self.posts += 1
            self.buf.clear()


def _step_dict(s: Any) -> dict[str, Any]:
    return {"id": s.id, "tool_id": s.tool_id, "arguments": s.arguments, "depends_on": s.depends_on,
            "subgoal_id": s.subgoal_id, "description": s.description}


def constraints_from_text(text: str) -> Any:
    """`max_steps=5 must_use=a,b must_not_use=c sequential_only=true max_parallel=2` (or JSON / a file path)
    -> typed PlanConstraints; ConfigError names the bad key."""
    from core.errors import ConfigError
    from core.planning.constraints import PlanConstraints, parse_constraints

    text = text.strip()
    if not text or text.startswith("{") or text.endswith((".json", ".toml")):
        return parse_constraints(text or None)
    d: dict[str, Any] = {}
    for part in text.replace(";", " ").split():
        key, sep, val = part.partition("=")
        if not sep:
            raise ConfigError(f"expected key=value, got {part!r}", path="constraints")
        if key in ("max_steps", "max_parallel"):
            if not val.isdigit():
                raise ConfigError("expected a positive integer", path="constraints", field=key)
            d[key] = int(val)
        elif key == "sequential_only":
            d[key] = val.lower() in ("1", "true", "yes", "on")
        else:
            d[key] = [v for v in val.split(",") if v]
    return PlanConstraints.from_dict(d, source="constraints")


def get_backend(app: Any, model: str | None, lora: str | None, endpoint: str | None = None,
                purpose: str = "plan") -> Any:
    """The app's injected backend (tests), else the factory's: a named `[[endpoints]]` entry, an http(s) URL, or
    the local engine with an optional LoRA (for `purpose="timing"` the bundled timing adapter by default)."""
    if getattr(app, "llm_backend", None) is not None:
        return app.llm_backend
    from core.llm.factory import make_backend

    return make_backend(model, lora, endpoint_spec(app, endpoint), purpose)


def endpoint_spec(app: Any, name: str | None) -> Any:
    """The `[[endpoints]]` entry called `name` as a core EndpointSpec (None for no name); ConfigError if unknown."""
    if not name:
        return None
    ep = app.config.endpoint(name)
    if ep is None:
        from core.errors import ConfigError

        raise ConfigError(f"no endpoint named {name!r} in the config", path=str(app.config.source or "config.toml"))
    from core.llm.factory import EndpointSpec

    return EndpointSpec(ep.base_url, model=ep.model, chat_format=ep.chat_format, api_key=ep.api_key(),
                        timeout_s=ep.timeout_s, schema_style=ep.schema_style)


def plan_goal(app: Any, req: dict[str, Any], post: Post) -> None:
    """Plan `req["goal"]` through the plan session, posting candidates, DAG updates, checks and timing; the
    session stores the `plan` run (failed, with the error, when the engine dies)."""
    from sage_tui.heap import bulk_load_once

    with bulk_load_once("plan-imports"):  # the first plan imports numpy, networkx, the planners: freeze them
        import importlib

        for mod in ("core.planning.base", "core.planning.registry", "core.planning.dag", "core.timing.decider",
                    "core.planning.session"):
            importlib.import_module(mod)
    from core.errors import SageError
    from core.planning.session import Cancelled

    tokens = TokenCoalescer(post)
    try:
        _plan(app, req, post, tokens)
    except (Cancelled, InterruptedError):
        tokens.flush()
    except SageError as exc:
        tokens.flush()
        post(PlanFailed(str(exc), **_failure_details(exc)))


def _failure_details(exc: Exception) -> dict[str, Any]:
    """Engine crash facts for the failure panel (signal, model, log tail)."""
    from core.errors import EngineCrashed

    if not isinstance(exc, EngineCrashed):
        return {}
    return {"signal": exc.signal_name, "model": exc.model, "log_tail": exc.log_tail}


def _plan(app: Any, req: dict[str, Any], post: Post, tokens: TokenCoalescer) -> None:
    from core.planning import events as ev
    from core.planning.base import PlannerConfig
    from core.planning.registry import PLANNERS, make_selector
    from core.planning.session import PlanRequest
    from core.planning.session import plan_goal as session_plan
    from sage_tui.heap import bulk_load_once
    from sage_tui.widgets.dag import layout_steps

    post(PlanStage("loading", "catalog and selector"))
    catalog = app.get_catalog()
    constraints = constraints_from_text(req.get("constraints") or "")
    constraints.check_tools(catalog)
    with bulk_load_once(("selector", req.get("selector"), catalog.hash)):  # fitted once (core caches it)
        selector = make_selector(catalog, req.get("selector"))
    request = PlanRequest(goal=req["goal"], planner=req["planner"], selector=req.get("selector"),
                          model=req.get("model"), lora=req.get("lora"), endpoint=endpoint_spec(app, req.get("endpoint")),
                          constraints=constraints, config=PlannerConfig(clause_rewrite=bool(req.get("rewrite_clauses"))), timing=req.get("timing") or "hybrid",
                          tags=["tui"], endpoint_name=req.get("endpoint"), answer_directly=bool(req.get("answer_directly")))
    injected = getattr(app, "llm_backend", None)

    def on_event(e: Any) -> None:
        if isinstance(e, ev.TokenEvent):
            tokens(e.text)
            return
        tokens.flush()
        if isinstance(e, ev.StageEvent):
            post(PlanStage(e.stage, e.detail))
        elif isinstance(e, ev.CandidatesEvent):
            post(PlanCandidates(e.selections))
        elif isinstance(e, ev.PartialPlanEvent):
            p = e.plan
            post(PlanGraph([{**_step_dict(s), "status": "pending"} for s in p.steps],
                           [{"id": g.id, "description": g.description} for g in p.subgoals],
                           layout=layout_steps(p.steps), stage=str(p.meta.get("stage", ""))))
        elif isinstance(e, ev.FinalPlanEvent):
            _post_final(e, post)
        elif isinstance(e, ev.TimingEvent):
            d = e.decision
            post(PlanTiming(e.step_id, d.should_call_tool, d.confidence, d.reason, e.by, d.tool))
        elif isinstance(e, ev.DoneEvent):
            post(PlanDone(e.plan.to_dict(), e.run_id, e.seconds))
        elif isinstance(e, ev.FailedEvent) and e.run_id:
            post(PlanStage("stored", f"run {e.run_id} ({e.status})"))

    with bulk_load_once(("backend", req.get("model"), req.get("lora"), req.get("endpoint"))):
        backend = injected
        if backend is None and PLANNERS[req["planner"]].uses_llm:
            backend = get_backend(app, req.get("model"), req.get("lora"), req.get("endpoint"))
    session_plan(request, app.store, on_event, catalog=catalog, selector=selector, backend=backend,
                 timing_backend=injected, is_cancelled=lambda: get_current_worker().is_cancelled)


def _post_final(ev: Any, post: Post) -> None:
    """The final DAG with each step's status (invalid / repaired / ok), then the checks panel."""
    from sage_tui.widgets.dag import layout_steps

    plan = ev.plan
    validation = plan.meta.get("validation", {})
    bad_steps = {i.get("step_id") for i in validation.get("issues", []) if isinstance(i, dict)}
    repaired = {r.step_id for r in plan.repairs if r.step_id is not None}
    steps = [{**_step_dict(s), "status": "invalid" if s.id in bad_steps else "repaired" if s.id in repaired else "ok"}
             for s in plan.steps]
    post(PlanGraph(steps, [{"id": g.id, "description": g.description} for g in plan.subgoals],
                   layout=layout_steps(plan.steps), stage="final"))
    post(PlanChecks(ev.problems, ev.repairs))
