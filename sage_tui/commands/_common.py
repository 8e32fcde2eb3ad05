"""Shared CLI plumbing: typed-error handling, --json output, stderr console, progress bars."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from core.errors import ExitCode, SageError

F = TypeVar("F", bound=Callable[..., Any])

# stdout is reserved for data (tables or --json); logs and progress go to stderr
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Run store SQLite file (default: $SAGE_TUI_DB or the user data dir).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else there.")]
CatalogOption = Annotated[
    Path | None, typer.Option("--catalog", help="Tool catalog JSONL (default: the bundled catalog).", show_default=False)
]
ModelOption = Annotated[
    str | None, typer.Option(help="GGUF path or preset (sage-gemma3-270m, gemma3-270m, qwen2.5-coder-1.5b).")
]
LoraOption = Annotated[
    str | None, typer.Option(help="GGUF LoRA adapter: a path, or an adapter name (a folder under assets/adapters/ "
                                  "or a training run id).")
]
ServerOption = Annotated[
    str | None, typer.Option(help="OpenAI-compatible server URL instead of the local llama.cpp engine.")
]


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def handle_errors(fn: F) -> F:
    """Turn typed SageErrors into a one-line message on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SageError as exc:
            from rich.markup import escape

            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None

    return wrapper  # type: ignore[return-value]


def is_tty() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress_bar(description: str, total: int | None = None, *, enabled: bool | None = None) -> Iterator[Callable[[int, int], None]]:
    """Yield `update(done, total)`; draws a rich progress bar on stderr only on a TTY."""
    if enabled is None:
        enabled = is_tty()
    if not enabled:
        yield lambda done, tot: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as prog:
        tid = prog.add_task(description, total=total)

        def update(done: int, tot: int) -> None:
            prog.update(tid, completed=done, total=tot)

        yield update


def open_store_opt(db: Path | None):  # -> RunStore
    from core.store import RunStore

    return RunStore(db)
