"""The plan DAG drawn in the terminal: one row per parallel level, nodes side by side, edges listed.

Levels, validation and repair come from core.planning.dag; this widget only draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from sage_tui.theme import theme_color

NODE_WIDTH = 30  # columns one node box needs (tool ids run to ~26 characters)
STATUS_COLOR = {"pending": "foreground-muted", "ok": "success", "repaired": "warning", "invalid": "error", "running": "accent"}


@dataclass
class Layout:
    levels: list[list[int]]
    issues: list[str]
    critical: list[int]


def layout_steps(steps: Sequence[object]) -> Layout:
    """Parallel levels of the steps (cycles broken by core's repair just for drawing), issues, critical path.

    Accepts PlanSteps or step dicts; call it from a worker thread (networkx)."""
    from core.errors import PlanError
    from core.planning.dag import critical_path, parallel_levels, repair_dependencies, validate_dag
    from core.planning.types import PlanStep

    steps = [s if isinstance(s, PlanStep) else PlanStep.from_dict(s) for s in steps]  # type: ignore[arg-type]

    issues = [i.detail for i in validate_dag(steps)]  # type: ignore[arg-type]
    try:
        levels = parallel_levels(steps)  # type: ignore[arg-type]
        critical = critical_path(steps)  # type: ignore[arg-type]
    except PlanError:
        fixed, _ = repair_dependencies(steps)  # type: ignore[arg-type]
        levels, critical = parallel_levels(fixed), []
    return Layout(levels, issues, critical)


class DagView(Widget, can_focus=True):
    """Focusable DAG; arrows move between nodes, enter selects one (NodeSelected)."""

    SCOPE = "plan DAG"
    BINDINGS = [
        Binding("left", "move(0,-1)", "Previous node in level", id="dag.left", show=False),
        Binding("right", "move(0,1)", "Next node in level", id="dag.right", show=False),
        Binding("up", "move(-1,0)", "Level above", id="dag.up", show=False),
        Binding("down", "move(1,0)", "Level below", id="dag.down", show=False),
        Binding("enter", "select", "Show node details", id="dag.select"),
    ]

    @dataclass
    class NodeSelected(Message):
        step_id: int

    selected: reactive[int | None] = reactive(None)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.steps: list[dict] = []
        self.status: dict[int, str] = {}
        self.subgoals: list[dict] = []
        self.layout_: Layout = Layout([], [], [])
        self.notice: RenderableType | None = None  # shown instead of "no plan yet" (e.g. an engine crash)

    def show_notice(self, notice: RenderableType | None) -> None:
        """Show `notice` while there is no plan (None: the default hint); the next set_steps clears it."""
        self.notice = notice
        self.refresh(layout=True)

    def set_steps(self, steps: Sequence[dict], status: dict[int, str] | None = None, layout: Layout | None = None,
                  subgoals: Sequence[dict] | None = None) -> None:
        """Draw step dicts {id, tool_id, depends_on, subgoal_id, ...} under the sub-goals {id, description};
        `layout` comes from layout_steps() in a worker."""
        self.steps = list(steps)
        self.notice = None
        self.status = dict(status or {})
        self.subgoals = list(subgoals or [])
        self.layout_ = layout if layout is not None else (layout_steps(self.steps) if self.steps else Layout([], [], []))
        ids = [i for lvl in self.layout_.levels for i in lvl]
        if self.selected not in ids:
            self.selected = ids[0] if ids else None
        self.refresh(layout=True)

    def _pos(self) -> tuple[int, int]:
        for r, lvl in enumerate(self.layout_.levels):
            if self.selected in lvl:
                return r, lvl.index(self.selected)
        return 0, 0

    def action_move(self, dr: int, dc: int) -> None:
        levels = self.layout_.levels
        if not levels:
            return
        r, c = self._pos()
        r = max(0, min(len(levels) - 1, r + dr))
        c = max(0, min(len(levels[r]) - 1, c + dc if dr == 0 else min(c, len(levels[r]) - 1)))
        self.selected = levels[r][c]
        self.post_message(self.NodeSelected(self.selected))

    def action_select(self) -> None:
        if self.selected is not None:
            self.post_message(self.NodeSelected(self.selected))

    def watch_selected(self) -> None:
        self.refresh(layout=True)

    def _color(self, name: str) -> str:
        return theme_color(self.app, name)

    def _subgoal_line(self) -> Text:
        line = Text("sub-goals ", style="bold")
        for n, g in enumerate(self.subgoals):
            line.append(("  " if n else "") + f"SG{g['id']} ", style=self._color("accent"))
            line.append(str(g.get("description", "")))
        return line

    def render(self) -> RenderableType:
        if not self.steps:
            if self.subgoals:
                return Group(self._subgoal_line(), Text("drafting steps…", style=self._color("foreground-muted")))
            if self.notice is not None:
                return self.notice
            return Text("no plan yet: type a goal and press enter", style=self._color("foreground-muted"))
        by_id = {s["id"]: s for s in self.steps}
        rows: list[RenderableType] = [self._subgoal_line()] if self.subgoals else []
        per_row = max(1, (self.size.width - 5) // NODE_WIDTH) if self.size.width else 4
        for n, level in enumerate(self.layout_.levels):
            for chunk_start in range(0, len(level), per_row):  # a wide level wraps onto more rows
                chunk = level[chunk_start:chunk_start + per_row]
                rows.append(self._level_row(f"L{n}" if chunk_start == 0 else "", chunk, by_id))
            if n + 1 < len(self.layout_.levels):
                nxt = self.layout_.levels[n + 1]
                edges = [f"#{d}→#{s}" for s in nxt for d in by_id[s]["depends_on"] if d in by_id]
                rows.append(Text("    │ " + "  ".join(edges) if edges else "    │", style=self._color("foreground-muted")))
        if self.layout_.issues:
            rows.append(Text("\n".join(f"! {i}" for i in self.layout_.issues), style=self._color("error")))
        return Group(*rows)

    def _level_row(self, label: str, level: Sequence[int], by_id: dict[int, dict]) -> RenderableType:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=4)
        for _ in level:
            grid.add_column()
        cells: list[RenderableType] = [Text(label, style="bold")]
        for sid in level:
            step = by_id.get(sid)
            if step is None:
                continue
            status = self.status.get(sid, "ok")
            color = self._color(STATUS_COLOR.get(status, "foreground"))
            deps = ",".join(f"#{d}" for d in step["depends_on"]) or "-"
            sg = f"SG{step['subgoal_id']} " if step.get("subgoal_id") is not None and self.subgoals else ""
            body = Text.assemble((f"#{sid} ", "bold"), (step["tool_id"], "bold"), "\n",
                                 (sg, self._color("accent")), (f"← {deps}  {status}", color))
            if sid in self.layout_.critical and len(self.layout_.critical) > 1:
                body.append("  ★", style=self._color("accent"))
            chosen = sid == self.selected
            cells.append(Panel(body, border_style=f"{'bold ' if chosen else ''}{self._color('accent') if chosen else color}", expand=False, box=_box(chosen)))
        grid.add_row(*cells)
        return grid


def _box(chosen: bool):  # noqa: ANN202
    from rich import box

    return box.HEAVY if chosen else box.ROUNDED
