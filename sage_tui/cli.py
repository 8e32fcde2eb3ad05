"""`sage-tui`: the Typer CLI. With no sub-command it opens the Textual workstation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core import __version__
from sage_tui.commands import data, data_import, decide, doctor, plan, report, runs, select, train
from sage_tui.commands import eval as eval_cmd

app = typer.Typer(
    name="sage-tui",
    help="Terminal workstation for LLM-agent tool learning: tool selection, planning, timing, training, evaluation.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each command module exposes `register(app)`; plain imports keep every edge visible to import-linter.
COMMAND_MODULES = (data, data_import, runs, eval_cmd, report, plan, decide, train, select, doctor)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sage-tui {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    db: Annotated[Path | None, typer.Option("--db", help="Run store used by the app.", show_default=False)] = None,
) -> None:
    """Open the workstation when no sub-command is given."""
    if ctx.invoked_subcommand is None:
        try:
            from sage_tui.app import run_app
        except ModuleNotFoundError:
            typer.echo(ctx.get_help())
            raise typer.Exit() from None
        run_app(db=db)


for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    app()
