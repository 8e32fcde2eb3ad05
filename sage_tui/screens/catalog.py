"""Catalog browser: filter the tool catalog, see each tool's description and JSON Schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

if TYPE_CHECKING:
    from core.catalog import Catalog, Tool


def tool_matches(tool: Tool, terms: list[str]) -> bool:
    """Every term appears in the tool's id, name, category or description (a browsing filter)."""
    hay = f"{tool.tool_id} {tool.name} {tool.category} {tool.description}".lower()
    return all(t in hay for t in terms)


def tool_detail(tool: Tool) -> list[object]:
    head = Text.assemble((tool.name, "bold"), "  ", (tool.tool_id, "italic"), "\n", ("category: ", "dim"), tool.category)
    body = Text(f"\n{tool.description}\n\nreturns: {tool.returns}\nrequired: {', '.join(tool.required) or '-'}\n")
    from rich.json import JSON  # cheap to build on the UI thread (Syntax loads pygments)

    schema = JSON.from_data(tool.parameters, indent=2)
    return [head, body, schema]


class CatalogScreen(Screen[None]):
    SCOPE = "catalog"
    BINDINGS = [
        Binding("ctrl+f", "focus_search", "Search tools", id="catalog.search"),
        Binding("ctrl+y", "copy_id", "Copy tool id", id="catalog.copy"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.catalog: Catalog | None = None
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(classes="bar"):
            yield Input(placeholder="filter tools: words in id, name, category, description", id="catalog-search")
        with Horizontal():
            with Vertical(id="catalog-list", classes="pane") as v:
                v.border_title = "Tools"
                yield DataTable(id="catalog-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="catalog-detail", classes="pane") as d:
                d.border_title = "Schema"
                yield Static("select a tool", id="tool-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#catalog-table", DataTable).add_columns("tool", "category", "name")
        self.load_catalog()

    @work(thread=True, exclusive=True, group="catalog", exit_on_error=False)
    def load_catalog(self) -> None:
        catalog = self.app.get_catalog()  # type: ignore[attr-defined]
        self.app.call_from_thread(self._catalog_ready, catalog)

    def _catalog_ready(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.sub_title = f"{len(catalog)} tools · {len(catalog.categories())} categories"
        self._fill(self.query_one("#catalog-search", Input).value)

    def _fill(self, query: str) -> None:
        if self.catalog is None:
            return
        terms = query.lower().split()
        table = self.query_one("#catalog-table", DataTable)
        table.clear()
        self._shown = []
        for tool in self.catalog:
            if tool_matches(tool, terms):
                table.add_row(tool.tool_id, tool.category, tool.name, key=tool.tool_id)
                self._shown.append(tool.tool_id)
        self.query_one("#catalog-list").border_subtitle = f"{len(self._shown)} shown"
        if self._shown:
            self._show(self._shown[0])

    def _show(self, tool_id: str) -> None:
        if self.catalog is None:
            return
        from rich.console import Group

        self.query_one("#tool-detail", Static).update(Group(*tool_detail(self.catalog.get(tool_id))))

    @on(Input.Changed, "#catalog-search")
    def _search(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#catalog-search")
    def _to_table(self) -> None:
        self.query_one("#catalog-table", DataTable).focus()

    @on(DataTable.RowHighlighted, "#catalog-table")
    def _highlight(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self._show(event.row_key.value)

    def action_focus_search(self) -> None:
        self.query_one("#catalog-search", Input).focus()

    def action_copy_id(self) -> None:
        table = self.query_one("#catalog-table", DataTable)
        if self._shown and table.cursor_row < len(self._shown):
            tid = self._shown[table.cursor_row]
            self.app.copy_to_clipboard(tid)
            self.notify(f"copied {tid}")
