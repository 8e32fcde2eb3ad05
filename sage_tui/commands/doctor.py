"""`sage-tui doctor`: CPU features, llama.cpp's system_info and buffer choice, models and their SHA-256,
the store, and a 16-token smoke decode in an engine child. Exits non-zero with a hint when a check fails."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sage_tui.commands._common import DbOption, JsonOption, ModelOption, handle_errors, out, print_json


@handle_errors
def doctor_cmd(
    model: ModelOption = None,
    tokens: Annotated[int, typer.Option(help="Tokens to decode in the smoke test.")] = 16,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check this machine: CPU, llama.cpp, models, run store, and a smoke decode in a child process."""
    from rich.markup import escape

    from core.doctor import doctor_exit_code, run_doctor

    def show(c: Any) -> None:
        if json_out:
            return
        mark = "[green]ok[/]  " if c.ok else ("[yellow]warn[/]" if c.optional else "[red]FAIL[/]")
        out.print(f"{mark} [bold]{c.name:7s}[/] {escape(c.detail)}", highlight=False, soft_wrap=True)
        if not c.ok and c.hint:
            out.print(f"      [dim]hint: {escape(c.hint)}[/]", highlight=False, soft_wrap=True)
        if c.name == "engine" and c.data.get("system_info"):
            out.print(f"      [dim]system_info: {escape(c.data['system_info'])}[/]", highlight=False, soft_wrap=True)

    checks = run_doctor(db=db, model=model, n_tokens=tokens, on_check=show)
    code = doctor_exit_code(checks)
    if json_out:
        print_json({"ok": code == 0, "exit_code": code, "checks": [c.to_dict() for c in checks]})
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_cmd)
