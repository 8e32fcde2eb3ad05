"""`sage-tui report`: the paper's tables, figures and runs.json manifest from stored runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sage_tui.commands._common import (
    DbOption,
    JsonOption,
    err,
    handle_errors,
    open_store_opt,
    out,
    print_json,
)


@handle_errors
def report_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write tables, figures and runs.json into.")],
    run: Annotated[list[str] | None, typer.Option("--run", help="Use this run (id or unique prefix); repeatable.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Use completed runs with this tag; repeatable.")] = None,
    compare: Annotated[list[str] | None, typer.Option(
        "--compare", metavar="PARENT_RUN",
        help="Use the completed method runs of this `train compare` (its parent run id); repeatable.")] = None,
    latest_per_method: Annotated[
        bool,
        typer.Option(
            "--latest-per-method",
            help="Keep only the newest run per experiment cell (method x budget x seed; task x variant). "
            "The default when neither --run nor --tag is given.",
        ),
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write Table 1, the paired differences (normal + bootstrap CIs), the ablation tables (LaTeX + Markdown), the
    paper's number macros (results.tex, run ids in comments), the findings (results.md), figures and runs.json."""
    from core.errors import UsageError
    from core.report import Selection, build_report

    store = open_store_opt(db)
    run = list(run or ())
    for parent in compare or ():
        pid = store.get_run(parent)["id"]  # NotFoundError (exit 4) when unknown
        kids = [r["id"] for r in store.list_runs(kind="train") if r.get("parent_id") == pid and r["status"] == "completed"]
        if not kids:
            raise UsageError(f"comparison {pid} has no completed method runs yet")
        run += kids
    selection = Selection(run_ids=tuple(run), tags=tuple(tag or ()), latest_per_method=latest_per_method)
    res = build_report(store, out_dir, selection)
    if json_out:
        print_json(res.to_json())
        return
    out.print(f"[bold]report[/] from {len(res.run_ids)} runs -> {res.out_dir}")
    for f in res.files:
        out.print(f"  {res.out_dir / f}")
    for fig, why in sorted(res.skipped.items()):
        err.print(f"[yellow]skipped figure[/] {fig}: {why}")


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
