"""`sage-tui data import metatool|seal-tools PATH --out DIR`: external benchmarks into our formats."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from sage_tui.commands._common import JsonOption, err, handle_errors, out, print_json
from sage_tui.commands.data import data_app


@data_app.command("import")
@handle_errors
def import_cmd(
    kind: Annotated[str, typer.Argument(help="metatool | seal-tools")],
    path: Annotated[Path, typer.Argument(help="The benchmark's data folder (kept where it is).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for catalog.jsonl and dataset files (keep it outside the project).")],
    json_out: JsonOption = False,
) -> None:
    """Convert a benchmark into a catalog + datasets that `sage-tui eval` reads unchanged (exit 3: malformed input, 4: missing files)."""
    from core.importers import run_import

    with err.status(f"importing {kind} from {path}…") if err.is_terminal else nullcontext():
        summary = run_import(kind, path, out_dir)
    if json_out:
        print_json(summary)
        return
    for f, n in summary["files"].items():
        out.print(f"{n:>7}  {Path(summary['out']) / f}")
    for note in summary["notes"]:
        err.print(f"[yellow]note:[/] {note}")
    ds = next((f for f in summary["files"] if f.startswith("tool_retrieval")), None)
    if ds:
        err.print(f"try: sage-tui eval --task tool_retrieval --catalog {Path(summary['out']) / 'catalog.jsonl'} --dataset {Path(summary['out']) / ds}")



def register(app: typer.Typer) -> None:
    """The command registers itself on `data_app` at import time (after `data` in COMMAND_MODULES)."""

