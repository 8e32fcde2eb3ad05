"""`sage-tui decide "message"`: call a tool now or answer directly (rule | llm | hybrid)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sage_tui.commands._common import (
    CatalogOption,
    JsonOption,
    ModelOption,
    err,
    handle_errors,
    out,
    print_json,
)


def _load_context(path: Path | None) -> list[dict]:
    from core.errors import DataError, NotFoundError

    if path is None:
        return []
    if not path.is_file():
        raise NotFoundError(f"context file not found: {path}")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
    msgs = obj.get("messages", obj.get("context")) if isinstance(obj, dict) else obj
    if not isinstance(msgs, list) or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in msgs):
        raise DataError("expected a list of chat messages ({role, content})", path=str(path), field="messages")
    return msgs


@handle_errors
def decide_cmd(
    message: Annotated[str, typer.Argument(help="The user's message.")],
    context: Annotated[Path | None, typer.Option(help="JSON file: a list of chat messages (or {\"messages\": [...]}).")] = None,
    strategy: Annotated[str, typer.Option(help="rule | llm | hybrid")] = "hybrid",
    model: ModelOption = None,
    lora: Annotated[str | None, typer.Option(help="GGUF LoRA adapter: a path, or an adapter name (a folder under "
                                                  "assets/adapters/ or a training run id). Default with the default "
                                                  "model: gemma3-270m-sage-timing.")] = None,
    server: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL instead of the local llama.cpp "
                                                    "engine (the vote is then parsed from a generated answer).")] = None,
    catalog: CatalogOption = None,
    json_out: JsonOption = False,
) -> None:
    """Decide whether the agent should call a tool now, with confidence and reason."""
    from core.catalog import load_catalog
    from core.planning.registry import make_selector
    from core.timing.decider import STRATEGIES, TimingDecider

    if strategy not in STRATEGIES:
        from core.errors import UsageError

        raise UsageError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    ctx = _load_context(context)
    cat = load_catalog(catalog)
    backend = None
    if strategy != "rule":  # the bundled timing adapter unless a model or adapter is named
        from core.llm.factory import make_backend

        backend = make_backend(model, lora, server, "timing")
    from core.timing.decider import MAX_MESSAGE_CHARS

    decider = TimingDecider(strategy, cat, selector=make_selector(cat), backend=backend)
    d = decider.decide(message, ctx)
    llm_key = decider.calibration.key if backend is not None else None
    n = len(" ".join(message.split()))
    warnings = [f"message truncated from {n} to {MAX_MESSAGE_CHARS} characters"] if n > MAX_MESSAGE_CHARS else []
    for w in warnings:
        err.print(f"[yellow]warning[/] {w}")
    if json_out:
        print_json({**d.to_dict(), "llm": llm_key, "warnings": warnings})
        return
    verdict = "[bold green]call a tool[/]" if d.should_call_tool else "[bold]answer directly[/]"
    out.print(f"decision:   {verdict}" + (f" ({d.tool})" if d.tool else ""))
    out.print(f"confidence: {d.confidence:.2f}")
    out.print(f"reason:     {d.reason}", highlight=False)
    out.print(f"strategy:   {d.strategy}" + (" (LLM consulted)" if d.used_llm else ""))
    if llm_key:
        out.print(f"llm:        {llm_key}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("decide")(decide_cmd)
