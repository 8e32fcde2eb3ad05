"""`sage-tui select "query"`: ranked tool candidates with scores and why each one ranked."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer

from sage_tui.commands._common import CatalogOption, JsonOption, err, handle_errors, out, print_json


@handle_errors
def select_cmd(
    query: Annotated[str | None, typer.Argument(help="What the agent should do, in plain words.", show_default=False)] = None,
    selector: Annotated[list[str] | None, typer.Option("--selector", help="Selector name (see --list); repeat to compare.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="How many tools to show.")] = 5,
    query_map: Annotated[str | None, typer.Option("--query-map", help="auto | linear | none | a file, for selectors "
                                                                       "that embed the query (default: auto, as the "
                                                                       "planners use them; docs/SELECTION.md).")] = None,
    catalog: CatalogOption = None,
    list_: Annotated[bool, typer.Option("--list", help="List the registered selectors and exit.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Rank catalog tools for a query (exit 2: empty query or bad --top-k; 3: bad catalog; 4: unknown selector)."""
    from core.errors import UsageError
    from core.selection.registry import REGISTRY

    if list_:
        infos = REGISTRY.infos()
        if json_out:
            print_json({"selectors": [{"name": i.name, "description": i.description, "source": i.source, "error": i.error} for i in infos]})
            return
        from rich.table import Table

        t = Table(title="Selectors")
        for col in ("name", "source", "description"):
            t.add_column(col)
        for i in infos:
            t.add_row(i.name, i.source, i.description if not i.error else f"[red]failed to load: {i.error}[/]")
        out.print(t)
        return
    if query is None or not query.strip():
        raise UsageError("the query is empty", hint='sage-tui select "convert 20 USD to EUR"')
    if top_k <= 0:
        raise UsageError(f"--top-k must be positive, got {top_k}")
    from core.catalog import load_catalog
    from core.planning.registry import QUERY_MAP_SELECTORS, default_query_map
    from core.selection.registry import get_selector

    names = list(dict.fromkeys(selector or ["two_stage"]))
    for n in names:
        if n not in REGISTRY.names():
            REGISTRY.create(n)  # raises NotFoundError listing the known names
    cat = load_catalog(catalog)
    results = {}
    for n in names:
        with err.status(f"loading {n}…") if err.is_terminal else nullcontext():
            qmap = default_query_map(n, query_map) if n in QUERY_MAP_SELECTORS else None
            sel = get_selector(n, cat, **({"query_map": qmap} if qmap else {}))
        results[n] = sel.select(query, top_k)
    if json_out:
        print_json({"query": query, "top_k": top_k, "catalog": cat.source, "results": {n: [s.to_dict() for s in r] for n, r in results.items()}})
        return
    from rich.table import Table

    for n, rows in results.items():
        t = Table(title=f"{n}: {query}")
        t.add_column("#", justify="right")
        t.add_column("tool")
        t.add_column("score", justify="right")
        t.add_column("why")
        for s in rows:
            t.add_row(str(s.rank), s.tool_id, f"{s.score:.3f}", s.explanation)
        out.print(t)



def register(app: typer.Typer) -> None:
    app.command("select")(select_cmd)
