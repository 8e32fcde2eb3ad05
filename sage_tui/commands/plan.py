"""`sage-tui plan "goal"`: hierarchical / flat / greedy plan as a dependency DAG; stores a run (kind "plan")."""

from __future__ import annotations

from typing import Annotated

import typer

from sage_tui.commands._common import (
    CatalogOption,
    DbOption,
    JsonOption,
    err,
    handle_errors,
    open_store_opt,
    out,
    print_json,
)


@handle_errors
def plan_cmd(
    goal: Annotated[str, typer.Argument(help="What the agent should achieve.")],
    constraints: Annotated[str | None, typer.Option(help="JSON object or .json/.toml file: max_steps, must_use, "
                                                         "must_not_use, sequential_only, max_parallel.")] = None,
    planner: Annotated[str, typer.Option(help="hierarchical | flat | greedy")] = "hierarchical",
    model: Annotated[str | None, typer.Option(help="GGUF path or preset (sage-gemma3-270m, gemma3-270m, qwen2.5-coder-1.5b).")] = None,
    lora: Annotated[str | None, typer.Option(help="GGUF LoRA adapter: a path, or an adapter name (a folder under "
                                                  "assets/adapters/ or a training run id).")] = None,
    server: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL instead of in-process llama.cpp.")] = None,
    selector: Annotated[str | None, typer.Option(help="Selector for candidate tools (default keyword).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="Candidate tools retrieved for the goal.")] = 8,
    max_steps: Annotated[int, typer.Option(help="Upper bound on plan steps.")] = 8,
    seed: Annotated[int, typer.Option(help="Decoding seed.")] = 0,
    catalog: CatalogOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Plan a goal into tool steps (goal -> sub-goals -> steps), validate and repair the DAG, store a run."""
    from core.catalog import load_catalog
    from core.planning.base import PlannerConfig
    from core.planning.constraints import parse_constraints
    from core.planning.registry import PLANNERS, make_planner, make_selector

    if planner not in PLANNERS:
        from core.errors import UsageError

        raise UsageError(f"unknown planner {planner!r}; expected one of {sorted(PLANNERS)}")
    cons = parse_constraints(constraints)
    cat = load_catalog(catalog)
    cons.check_tools(cat)
    backend = None
    if PLANNERS[planner].uses_llm:
        if server:
            from core.llm.openai_compat import OpenAICompatibleBackend

            backend = OpenAICompatibleBackend(server, model=model or "default")
        else:
            from core.llm.llamacpp import LlamaCppBackend
            from core.llm.models import resolve_adapter, resolve_model

            backend = LlamaCppBackend(resolve_model(model, resolve_adapter(lora) if lora else None))
            if backend.merge_pending:
                with err.status("first use: merging the LoRA adapter into the base model (~20 s, cached)"):
                    backend.prepare()
    p = make_planner(planner, cat, selector=make_selector(cat, selector), backend=backend,
                     config=PlannerConfig(top_k=top_k, max_steps=max_steps, seed=seed))
    store = open_store_opt(db)
    cfg = {**p.describe(), "goal": goal, "constraints": cons.to_dict()}
    run_id = store.create_run("plan", cfg, task="task_planning", method=planner, name=goal[:60],
                              catalog_hash=cat.hash)
    try:
        live = err if not json_out and err.is_terminal else None
        result = p.plan(goal, constraints=cons, on_token=(lambda t: live.print(t, end="", highlight=False)) if live else None)
        if live:
            live.print()
    except BaseException as exc:
        store.finish_run(run_id, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                         error=f"{type(exc).__name__}: {exc}")
        raise
    data = result.to_dict()
    store.log_event(run_id, "plan", payload=data)
    store.log_event(run_id, "validation", payload={"validation": result.meta.get("validation"),
                                                   "repairs": [r.__dict__ for r in result.repairs],
                                                   "violations": result.meta.get("constraint_violations")})
    store.log_metrics(run_id, {k: float(v) for k, v in result.meta.items() if isinstance(v, int | float)})
    violations = result.meta.get("constraint_violations") or []
    if violations:  # the plan is still printed and stored, but the command fails (exit 7, PLAN)
        store.finish_run(run_id, "failed", error="plan violates constraints: " + "; ".join(
            f"{v['constraint']}: {v['detail']}" for v in violations))
    else:
        store.finish_run(run_id, "completed")
    if json_out:
        print_json({"run_id": run_id, **data})
    else:
        _print_plan(result, run_id)
    if violations:
        from core.errors import PlanError

        raise PlanError("the plan violates its constraints even after repair: " + "; ".join(
            f"{v['constraint']} ({v['detail']})" for v in violations), hint="loosen --constraints")


def _print_plan(plan, run_id: str) -> None:  # noqa: ANN001 (core.planning.types.Plan)
    from rich.tree import Tree

    tree = Tree(f"[bold]{plan.goal}[/]  [dim]({plan.planner}, run {run_id})[/]")
    groups = {g.id: tree.add(f"[cyan]{g.description}[/]") for g in plan.subgoals}
    for s in plan.steps:
        parent = groups.get(s.subgoal_id, tree)
        deps = f" ← {', '.join(map(str, s.depends_on))}" if s.depends_on else ""
        parent.add(f"[bold]{s.id}[/] {s.tool_id} {s.arguments}{deps}")
    out.print(tree)
    levels = plan.meta.get("levels") or []
    out.print("levels: " + "  |  ".join(", ".join(map(str, lv)) for lv in levels))
    for r in plan.repairs:
        out.print(f"[yellow]repair[/] {r.kind}: {r.detail}", highlight=False)
    for w in plan.warnings:
        out.print(f"[yellow]warning[/] {w}")
    for i in (plan.meta.get("validation") or {}).get("issues", []):
        out.print(f"[red]issue[/] {i['kind']}: {i['detail']}", highlight=False)
    for v in plan.meta.get("constraint_violations") or []:
        out.print(f"[red]violation[/] {v['constraint']}: {v['detail']}", highlight=False)
    out.print(f"[dim]{plan.meta.get('total_s', 0):.2f}s, {plan.meta.get('llm_calls', 0)} LLM calls[/]")


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_cmd)
