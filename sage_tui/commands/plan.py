"""`sage-tui plan "goal"`: a thin adapter over the plan session (core/planning/session.py): prints the
streamed tokens and the final plan as a tree; the session stores the run."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sage_tui.commands._common import (
    CatalogOption,
    DbOption,
    JsonOption,
    LoraOption,
    ModelOption,
    ServerOption,
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
    planner: Annotated[str, typer.Option(help="grounded (default: retrieval picks the tools, the model writes "
                                              "arguments) | hierarchical | hierarchical_per_subgoal | flat | "
                                              "greedy")] = "grounded",
    model: ModelOption = None,
    lora: LoraOption = None,
    server: ServerOption = None,
    selector: Annotated[str | None, typer.Option(help="Selector for candidate tools (default: two_stage for the "
                                                      "grounded planner, keyword for the others).")] = None,
    timing: Annotated[str, typer.Option(help="Timing decisions for the goal and each step: none | rule | llm | "
                                             "hybrid.")] = "hybrid",
    answer_directly: Annotated[bool, typer.Option("--answer-directly", help="No plan when the goal's timing decision "
                                                                             "is 'answer directly' (off by default: "
                                                                             "docs/PLANNING.md).")] = False,
    rewrite_clauses: Annotated[bool, typer.Option("--rewrite-clauses", help="Grounded: the model rewrites each clause "
                                                                           "as a plain command before retrieval (one "
                                                                           "call per clause; for an instruction "
                                                                           "model, docs/PLANNING.md).")] = False,
    query_map: Annotated[str | None, typer.Option("--query-map", help="auto | linear | none | a file: the query "
                                                                       "tower (auto) or linear map that moves the "
                                                                       "query embedding toward the tools such "
                                                                       "requests name (default: auto for "
                                                                       "embedding / two_stage; docs/SELECTION.md)."
                                                                       )] = None,
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
    from core.planning.events import StageEvent, TokenEvent
    from core.planning.session import PlanRequest, plan_goal

    request = PlanRequest(goal=goal, planner=planner, selector=selector, query_map=query_map, model=model, lora=lora, endpoint=server,
                          constraints=parse_constraints(constraints), timing=timing, tags=["cli"], answer_directly=answer_directly,
                          config=PlannerConfig(top_k=top_k, max_steps=max_steps, seed=seed,
                                               clause_rewrite=rewrite_clauses))
    live = err if not json_out and err.is_terminal else None

    def on_event(ev: Any) -> None:
        if live is None:
            return
        if isinstance(ev, TokenEvent):
            live.print(ev.text, end="", highlight=False)
        elif isinstance(ev, StageEvent) and ev.detail.startswith("model: merging"):
            live.print(f"[dim]first use: {ev.detail}[/]")

    outcome = plan_goal(request, open_store_opt(db), on_event, catalog=load_catalog(catalog))
    if json_out:
        print_json({"run_id": outcome.run_id, "status": outcome.status, **outcome.plan.to_dict(),
                    "timing": outcome.timing})
    else:
        _print_plan(outcome.plan, outcome.run_id, outcome.timing)
    if outcome.violations:  # the plan is still printed and stored (failed), but the command fails (exit 7, PLAN)
        from core.errors import PlanError

        raise PlanError("the plan violates its constraints even after repair: " + "; ".join(
            f"{v['constraint']} ({v['detail']})" for v in outcome.violations), hint="loosen --constraints")


def _print_plan(plan: Any, run_id: str, timing: list[dict[str, Any]]) -> None:
    from rich.tree import Tree

    tree = Tree(f"[bold]{plan.goal}[/]  [dim]({plan.planner}, run {run_id})[/]")
    rewrites = plan.meta.get("subgoal_rewrites") or {}  # grounded --rewrite-clauses: what each clause was read as
    groups = {g.id: tree.add(f"[cyan]{g.description}[/]" + (f"  [dim]→ {rewrites[str(g.id)]}[/]"
                                                             if str(g.id) in rewrites else "")) for g in plan.subgoals}
    for s in plan.steps:
        parent = groups.get(s.subgoal_id, tree)
        deps = f" ← {', '.join(map(str, s.depends_on))}" if s.depends_on else ""
        parent.add(f"[bold]{s.id}[/] {s.tool_id} {s.arguments}{deps}")
    out.print(tree)
    if plan.meta.get("answered_directly"):
        out.print(f"no tool needed: answer directly ({plan.meta['answered_directly']}); without --answer-directly it is planned anyway",
                  highlight=False)
    levels = plan.meta.get("levels") or []
    if levels:
        out.print("levels: " + "  |  ".join(", ".join(map(str, lv)) for lv in levels))
    for r in plan.repairs:
        out.print(f"[yellow]repair[/] {r.kind}: {r.detail}", highlight=False)
    for w in plan.warnings:
        out.print(f"[yellow]warning[/] {w}")
    for i in (plan.meta.get("validation") or {}).get("issues", []):
        out.print(f"[red]issue[/] {i['kind']}: {i['detail']}", highlight=False)
    for v in plan.meta.get("constraint_violations") or []:
        out.print(f"[red]violation[/] {v['constraint']}: {v['detail']}", highlight=False)
    for t in timing:
        where = "goal" if t["step_id"] is None else f"step {t['step_id']}"
        verdict = "call a tool" if t["should_call_tool"] else "answer directly"
        out.print(f"[dim]timing {where}: {verdict} ({t['confidence']:.2f}, {t['by']})[/]", highlight=False)
    out.print(f"[dim]{plan.meta.get('total_s', 0):.2f}s, {plan.meta.get('llm_calls', 0)} LLM calls[/]")


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_cmd)
