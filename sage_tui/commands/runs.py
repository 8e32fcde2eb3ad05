"""`sage-tui runs list|show|export|export-jsonl|import`: the run store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sage_tui.commands._common import DbOption, JsonOption, handle_errors, open_store_opt, out, print_json

runs_app = typer.Typer(help="List, inspect and export stored runs.", no_args_is_help=True)


@runs_app.command("list")
@handle_errors
def list_runs(
    kind: Annotated[str | None, typer.Option(help="eval / plan / train / bench / ...")] = None,
    status: Annotated[str | None, typer.Option(help="running / completed / failed / interrupted")] = None,
    method: Annotated[str | None, typer.Option(help="A, B1, B2, B3, C, D")] = None,
    task: Annotated[str | None, typer.Option(help="Task type.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only runs with this tag.")] = None,
    limit: Annotated[int, typer.Option(help="Most recent N runs.")] = 50,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Most recent runs first, with their summary metrics."""
    store = open_store_opt(db)
    store.reap_stale_runs()
    runs = store.list_runs(kind=kind, status=status, method=method, task=task, tag=tag, limit=limit)
    for r in runs:
        r["metrics"] = store.final_metrics(r["id"])
    if json_out:
        print_json({"runs": runs})
        return
    from rich.table import Table

    t = Table(title=f"Runs in {store.path}")
    for col in ("id", "kind", "status", "task", "method", "started", "metrics"):
        t.add_column(col, overflow="fold")
    for r in runs:
        ms = ", ".join(f"{k}={v:.3g}" for k, v in list(r["metrics"].items())[:4])
        t.add_row(r["id"], r["kind"], r["status"], r["task"] or "", r["method"] or "", (r["started"] or "")[:19], ms)
    out.print(t)


@runs_app.command("show")
@handle_errors
def show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    failures: Annotated[int, typer.Option(help="Show up to N failed samples.")] = 5,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """A run's config, metrics, events, artifacts and failed samples."""
    store = open_store_opt(db)
    store.reap_stale_runs()
    run = store.get_run(run_id)
    data = {
        "run": run,
        "metrics": store.final_metrics(run["id"]),
        "events": store.events(run["id"])[-20:],
        "artifacts": store.artifacts(run["id"]),
        "failures": store.sample_results(run["id"], failures_only=True)[:failures],
    }
    if json_out:
        print_json(data)
        return
    from rich.pretty import Pretty
    from rich.table import Table

    out.print(f"[bold]{run['id']}[/]  {run['kind']}  [bold]{run['status']}[/]  {run['started']} -> {run['ended'] or '…'}")
    if run.get("error"):
        out.print(f"[red]error:[/] {run['error']}")
    out.print(Pretty(run["config"]))
    t = Table(title="metrics")
    t.add_column("name")
    t.add_column("value", justify="right")
    for k, v in data["metrics"].items():
        t.add_row(k, f"{v:.4f}")
    out.print(t)
    for e in data["events"]:
        out.print(f"{e['time'][11:19]} {e['level']:<7} {e['message']}")
    for a in data["artifacts"]:
        out.print(f"artifact {a['kind']}: {a['path']}")
    for f in data["failures"]:
        out.print(f"[red]fail[/] {f['sample_id']}: {json.dumps({k: v for k, v in f.items() if k != 'sample_id'})[:200]}")


@runs_app.command("export")
@handle_errors
def export(
    run_ids: Annotated[list[str], typer.Argument(help="Run ids to export (default: all).")] = None,  # type: ignore[assignment]
    out_file: Annotated[Path | None, typer.Option("--out", help="Write JSONL here instead of stdout.")] = None,
    db: DbOption = None,
) -> None:
    """Export runs with all metrics, events, artifacts and per-sample results as JSONL."""
    store = open_store_opt(db)
    runs = [store.get_run(r) for r in run_ids] if run_ids else store.list_runs()
    lines = []
    for r in runs:
        lines.append(
            json.dumps(
                {
                    "run": r,
                    "metrics": store.metrics(r["id"]),
                    "events": store.events(r["id"]),
                    "artifacts": store.artifacts(r["id"]),
                    "samples": store.sample_results(r["id"]),
                },
                default=str,
            )
        )
    text = "".join(line + "\n" for line in lines)
    if out_file:
        out_file.write_text(text)
        typer.echo(f"wrote {len(lines)} runs to {out_file}", err=True)
    else:
        typer.echo(text, nl=False)


@runs_app.command("export-jsonl")
@handle_errors
def export_jsonl(
    out_file: Annotated[Path, typer.Option("--out", help="JSONL file to write (replaced atomically).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Dump the whole store as diffable, deterministic JSONL: a header line, then per run (in id order) the
    run's line and its metrics, events, artifacts and samples lines. `runs import` reads it back."""
    from core.store.jsonl_io import export_jsonl as dump

    store = open_store_opt(db)
    counts = dump(store, out_file)
    if json_out:
        print_json({"out": str(out_file), "counts": counts})
        return
    typer.echo(f"wrote {out_file}: " + ", ".join(f"{n} {t}" for t, n in counts.items()), err=True)


@runs_app.command("import")
@handle_errors
def import_jsonl(
    in_file: Annotated[Path, typer.Argument(help="A dump written by `sage-tui runs export-jsonl`.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add the rows of a `runs export-jsonl` dump that the store lacks, in one transaction. Importing twice adds
    nothing; a stored run or sample that differs from the file is kept as stored (listed as a conflict); a bad
    line stops the import before anything is written (exit 3, naming file, line and field)."""
    from core.store.jsonl_io import import_jsonl as load

    store = open_store_opt(db)
    res = load(store, in_file)
    if json_out:
        print_json({"db": str(store.path), **res})
        return
    typer.echo(f"imported into {store.path}: added " + ", ".join(f"{n} {t}" for t, n in res["added"].items())
               + f"; already stored {sum(res['skipped'].values())} rows", err=True)
    if res["conflicts"]:
        typer.echo(f"kept as stored (the file differs): {', '.join(res['conflicts'][:10])}"
                   + (f" and {len(res['conflicts']) - 10} more" if len(res["conflicts"]) > 10 else ""), err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
