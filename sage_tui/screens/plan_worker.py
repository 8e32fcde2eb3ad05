"""The plan worker's body (runs in a thread): calls the core planner, selector and timing decider and
reports progress only by posting typed messages. Heavy imports (llama_cpp, torch) happen here."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
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
_BACKENDS: dict[tuple[str | None, str | None], Any] = {}
_BACKENDS_LOCK = threading.Lock()


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


class TapBackend:
    """Wraps an LLM backend: streams tokens to the UI, honours cancellation and, only for planners without
    core's `on_progress` hook (`grow=True`), posts the steps parsed from each answer so the DAG still grows."""

    def __init__(self, inner: Any, post: Post, tokens: TokenCoalescer, *, grow: bool = True) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "backend")
        self.post = post
        self.tokens = tokens
        self.grow = grow
        self.draft: list[Any] = []
        self.calls = 0

    def info(self) -> dict[str, Any]:
        return self.inner.info()

    def complete(self, messages: Sequence[dict[str, str]], **kwargs: Any) -> Any:
        worker = get_current_worker()
        if worker.is_cancelled:
            raise InterruptedError("planning cancelled")
        user_cb = kwargs.pop("on_token", None)

        def on_token(tok: str) -> None:
            self.tokens(tok)
            if user_cb is not None:
                user_cb(tok)

        self.calls += 1
        self.post(PlanStage("generating", f"LLM call {self.calls}"))
        comp = self.inner.complete(messages, on_token=on_token, **kwargs)
        self.tokens("\n")
        self.tokens.flush()
        if self.grow:
            self._grow(comp.text)
        return comp

    def _grow(self, text: str) -> None:
        from core.errors import PlanError
        from core.planning.repair import extract_and_repair_plan
        from core.planning.types import PlanStep

        try:
            steps, _ = extract_and_repair_plan(text)
        except (PlanError, ValueError, TypeError, KeyError):
            return
        if not steps:
            return
        # draft ids: shift this call's ids after the ones already drawn (the planner renumbers the same way)
        base = max((s.id for s in self.draft), default=0)
        own = {s.id for s in steps}
        for s in steps:
            deps = [d + base if d in own else d for d in s.depends_on]
            self.draft.append(PlanStep(s.id + base, s.tool_id, s.arguments, deps, None, s.description))
        from sage_tui.widgets.dag import layout_steps

        self.post(PlanGraph([{**_step_dict(s), "status": "pending"} for s in self.draft], layout=layout_steps(self.draft)))


def _step_dict(s: Any) -> dict[str, Any]:
    return {"id": s.id, "tool_id": s.tool_id, "arguments": s.arguments, "depends_on": s.depends_on,
            "subgoal_id": s.subgoal_id, "description": s.description}


def accepts_on_progress(planner: Any) -> bool:
    """Whether `planner.plan` takes core's `on_progress` hook (partial plans after sub-goals / step batches)."""
    import inspect

    try:
        return "on_progress" in inspect.signature(planner.plan).parameters
    except (TypeError, ValueError):
        return False


class ProgressPoster:
    """`on_progress` for core planners: posts each partial plan (draft steps, status pending, and the
    sub-goals) as a PlanGraph with its layout computed here, in the worker thread."""

    def __init__(self, post: Post) -> None:
        self.post = post
        self.calls = 0

    def __call__(self, partial: Any) -> None:
        if get_current_worker().is_cancelled:
            raise InterruptedError("planning cancelled")
        from sage_tui.widgets.dag import layout_steps

        self.calls += 1
        steps = [{**_step_dict(s), "status": "pending"} for s in partial.steps]
        subgoals = [{"id": g.id, "description": g.description} for g in getattr(partial, "subgoals", [])]
        stage = str(partial.meta.get("stage", "")) if isinstance(getattr(partial, "meta", None), dict) else ""
        self.post(PlanGraph(steps, subgoals, layout=layout_steps(partial.steps), stage=stage))


def get_backend(app: Any, model: str | None, lora: str | None, endpoint: str | None = None) -> Any:
    """The app's injected backend (tests), a named `[[endpoints]]` entry or an http(s) URL (OpenAI-compatible),
    or llama.cpp with an optional LoRA (loaded once per model/adapter pair)."""
    if getattr(app, "llm_backend", None) is not None:
        return app.llm_backend
    if endpoint:
        ep = app.config.endpoint(endpoint)
        if ep is None:
            from core.errors import ConfigError

            raise ConfigError(f"no endpoint named {endpoint!r} in the config", path=str(app.config.source or "config.toml"))
        key: tuple[str | None, str | None] = (f"endpoint:{ep.name}:{ep.base_url}:{ep.model}", None)
        with _BACKENDS_LOCK:
            if key not in _BACKENDS:
                from core.llm.openai_compat import OpenAICompatibleBackend

                _BACKENDS[key] = OpenAICompatibleBackend(ep.base_url, model=ep.model, chat_format=ep.chat_format,
                                                         api_key=ep.api_key(), timeout_s=ep.timeout_s,
                                                         schema_style=ep.schema_style)
            return _BACKENDS[key]
    key = (model, lora)
    with _BACKENDS_LOCK:
        if key not in _BACKENDS:
            if model and model.startswith(("http://", "https://")):
                from core.llm.openai_compat import OpenAICompatibleBackend

                _BACKENDS[key] = OpenAICompatibleBackend(model)
            else:
                from core.llm.llamacpp import LlamaCppBackend

                _BACKENDS[key] = LlamaCppBackend(model, lora=lora)
        return _BACKENDS[key]


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


def plan_goal(app: Any, req: dict[str, Any], post: Post) -> None:
    """Plan `req["goal"]`, posting candidates, DAG updates, checks and timing; store a `plan` run."""
    from sage_tui.heap import bulk_load_once

    with bulk_load_once("plan-imports"):  # the first plan imports numpy, networkx, the planners: freeze them
        import importlib

        for mod in ("core.planning.base", "core.planning.registry", "core.planning.dag", "core.timing.decider"):
            importlib.import_module(mod)
    from core.errors import SageError

    t0 = time.perf_counter()
    tokens = TokenCoalescer(post)
    try:
        _plan(app, req, post, tokens, t0)
    except InterruptedError:
        tokens.flush()
    except SageError as exc:
        tokens.flush()
        post(PlanFailed(str(exc)))


def _plan(app: Any, req: dict[str, Any], post: Post, tokens: TokenCoalescer, t0: float) -> None:
    from core.planning.base import PlannerConfig
    from core.planning.registry import PLANNERS, make_planner, make_selector

    post(PlanStage("loading", "catalog and selector"))
    catalog = app.get_catalog()
    constraints = constraints_from_text(req.get("constraints") or "")
    constraints.check_tools(catalog)
    req["constraints_obj"] = constraints
    from sage_tui.heap import bulk_load_once

    with bulk_load_once(("selector", req.get("selector"), catalog.hash)):  # fitted once (core caches it)
        selector = make_selector(catalog, req.get("selector"))
    config = PlannerConfig()
    post(PlanStage("retrieving", "tool candidates"))
    post(PlanCandidates(selector.select(req["goal"], top_k=config.top_k)))
    backend = None
    hooked = accepts_on_progress(PLANNERS[req["planner"]])  # core reports partial plans itself
    if PLANNERS[req["planner"]].uses_llm:
        post(PlanStage("loading", "model"))
        with bulk_load_once(("backend", req.get("model"), req.get("lora"), req.get("endpoint"))):
            inner = get_backend(app, req.get("model"), req.get("lora"), req.get("endpoint"))
            if getattr(inner, "merge_pending", False):
                post(PlanStage("loading", "model: merging the adapter into the base once (~20 s)"))
            prepare = getattr(inner, "prepare", None)
            if callable(prepare):
                prepare()  # load (and merge) under the "loading" stage, not inside the first plan call
        backend = TapBackend(inner, post, tokens, grow=not hooked)
    planner = make_planner(req["planner"], catalog, selector=selector, backend=backend or object(), config=config)
    post(PlanStage("planning", req["planner"]))
    if hooked:
        plan = planner.plan(req["goal"], constraints=constraints, on_progress=ProgressPoster(post))
    else:
        plan = planner.plan(req["goal"], constraints=constraints)
    tokens.flush()
    with bulk_load_once(("warm", req.get("model"), req.get("lora"), req.get("endpoint"))):
        pass  # the first plan filled the model's lazy caches (vocabulary, regexes): freeze them once too
    validation = plan.meta.get("validation", {})
    bad_steps = {i.get("step_id") for i in validation.get("issues", []) if isinstance(i, dict)}
    repaired = {r.step_id for r in plan.repairs if r.step_id is not None}
    steps = []
    for s in plan.steps:
        status = "invalid" if s.id in bad_steps else "repaired" if s.id in repaired else "ok"
        steps.append({**_step_dict(s), "status": status})
    from sage_tui.widgets.dag import layout_steps

    post(PlanGraph(steps, [{"id": g.id, "description": g.description} for g in plan.subgoals],
                   layout=layout_steps(plan.steps), stage="final"))
    problems = [i.get("detail") or i.get("message") or str(i) for i in validation.get("issues", []) if isinstance(i, dict)]
    problems += [v.get("detail", str(v)) for v in plan.meta.get("constraint_violations", [])]
    missing = plan.meta.get("subgoals_without_steps") or []
    if missing:
        problems.append(f"no step for sub-goal{'s' if len(missing) > 1 else ''} {', '.join(f'SG{m}' for m in missing)}")
    post(PlanChecks(problems + list(plan.warnings), [f"{r.kind}: {r.detail}" for r in plan.repairs]))
    post(PlanStage("timing", req.get("timing") or ""))
    _timing(app, req, plan, selector, post)
    run_id = _store(app, req, plan, planner, time.perf_counter() - t0)
    post(PlanDone(plan.to_dict(), run_id, time.perf_counter() - t0))


def _timing(app: Any, req: dict[str, Any], plan: Any, selector: Any, post: Post) -> None:
    """Timing decisions (core.timing) for the goal and for each step."""
    from core.timing.decider import TimingDecider

    strategy = req.get("timing") or "hybrid"
    backend = None
    if strategy != "rule":
        lora = req.get("lora")
        if not req.get("endpoint"):
            from core.llm.models import default_timing_lora

            lora = default_timing_lora(req.get("model"), lora)  # the bundled timing adapter for the default model
        backend = get_backend(app, req.get("model"), lora, req.get("endpoint"))
    decider = TimingDecider(strategy, app.get_catalog(), selector=selector, backend=backend)

    def by(d: Any) -> str:
        return f"{strategy}:{'llm' if d.used_llm else 'rule'}" if strategy == "hybrid" else strategy

    d = decider.decide(plan.goal)
    post(PlanTiming(None, d.should_call_tool, d.confidence, d.reason, by(d), d.tool))
    for s in plan.steps:
        if get_current_worker().is_cancelled:
            return
        d = decider.decide(s.description or s.tool_id.replace("_", " "))
        post(PlanTiming(s.id, d.should_call_tool, d.confidence, d.reason, by(d), d.tool))


def _store(app: Any, req: dict[str, Any], plan: Any, planner: Any, seconds: float) -> str:
    """Store a `plan` run in the same shape as `sage-tui plan`."""
    store = app.store
    catalog = app.get_catalog()
    constraints = req.get("constraints_obj")
    config = {**planner.describe(), "goal": plan.goal, "constraints": constraints.to_dict() if constraints else {},
              "picked": {k: req.get(k) for k in ("model", "endpoint", "lora")}}
    run_id = store.create_run("plan", config, task="task_planning", method=req["planner"], name=plan.goal[:60],
                              catalog_hash=catalog.hash, tags=["tui"])
    store.log_event(run_id, "plan", payload=plan.to_dict())
    store.log_event(run_id, "validation", payload={"validation": plan.meta.get("validation"),
                                                   "repairs": [r.__dict__ for r in plan.repairs],
                                                   "violations": plan.meta.get("constraint_violations")})
    metrics = {k: float(v) for k, v in plan.meta.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    store.log_metrics(run_id, {**metrics, "steps": float(len(plan.steps)), "ui_seconds": seconds})
    store.finish_run(run_id, "completed")
    return run_id
