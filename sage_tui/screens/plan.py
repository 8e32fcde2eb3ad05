"""Plan screen: a goal in, and live: streamed model output, ranked tools, the DAG as it grows, timing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Log, Select, Static

from sage_tui.messages import (
    PlanCandidates,
    PlanChecks,
    PlanDone,
    PlanFailed,
    PlanGraph,
    PlanStage,
    PlanTiming,
    PlanTokens,
)
from sage_tui.screens._runs import fmt_value
from sage_tui.theme import theme_color
from sage_tui.widgets.dag import DagView

MODEL_PRESETS = ["sage-gemma3-270m", "gemma3-270m", "qwen2.5-coder-1.5b"]
# core.planning.registry.PLANNERS (not imported here: it pulls networkx into the first paint); a test checks it
PLANNERS = ["grounded", "hierarchical", "flat", "greedy", "hierarchical_per_subgoal"]
ENDPOINT_PREFIX = "endpoint:"


def model_options(cfg: Any) -> list[tuple[str, str]]:
    """The model picker: the presets, then every `[[endpoints]]` entry of the config (value `endpoint:NAME`)."""
    opts = [(m, m) for m in MODEL_PRESETS]
    opts += [(f"endpoint: {e.name}", f"{ENDPOINT_PREFIX}{e.name}") for e in getattr(cfg, "endpoints", [])]
    return opts


def adapter_options() -> list[tuple[str, str]]:
    """Fine-tuned GGUF LoRA adapters by name (shipped, then the user's trained runs, newest first)."""
    from core.llm.models import list_adapters

    return [(a.label(), str(a.path)) for a in list_adapters()]


def model_label(req: dict[str, Any]) -> str:
    """What answers this plan, for the model-output pane's title: `endpoint local-llama`, `gemma3-270m +
    gemma3-270m-sage`, `default model`."""
    if req.get("endpoint"):
        return f"endpoint {req['endpoint']}"
    model = req.get("model") or "default model"
    model = Path(model).name if model.endswith(".gguf") else model
    lora = req.get("lora")
    if lora:
        p = Path(lora)
        lora = p.parent.parent.name if p.parent.name == "adapter" else p.parent.name if p.name == "adapter.gguf" else p.name
    return f"{model} + {lora}" if lora else model


def candidate_why(s: Any) -> str:
    """The candidates table's "why", shortest evidence first (the column is narrow): for a tool the planner
    picked for a clause, the rewrite that found it, the matched terms, then the clause; else the matched terms,
    or the selector's explanation."""
    terms = ", ".join(s.matched_terms[:5])
    clause, rewrite = getattr(s, "clause", ""), getattr(s, "rewrite", "")
    if not clause:
        return terms or s.explanation
    parts = [f"rewrite {rewrite!r}"] if rewrite else []
    return " · ".join([*parts, *([terms] if terms else []), f"clause {clause!r}"])


def wrap_stream(text: str, col: int, width: int) -> tuple[str, int]:
    """Insert line breaks into streamed `text` so no line exceeds `width`, given that the current line already
    holds `col` characters; returns (text, new column)."""
    out: list[str] = []
    for i, part in enumerate(text.split("\n")):
        if i:
            out.append("\n")
            col = 0
        while col + len(part) > width:
            cut = max(0, width - col)
            out.append(part[:cut] + "\n")
            part, col = part[cut:], 0
        out.append(part)
        col += len(part)
    return "".join(out), col


class PlanScreen(Screen[None]):
    SCOPE = "plan"
    BINDINGS = [
        Binding("ctrl+r", "plan", "Plan the goal", id="plan.run"),
        Binding("ctrl+t", "plan_anyway", "Plan even if no tool is needed", id="plan.anyway", show=False,
                tooltip="Plan the goal even when the timing decision says to answer it directly"),
        Binding("ctrl+x", "cancel", "Cancel planning", id="plan.cancel"),
        Binding("ctrl+e", "export", "Export plan JSON", id="plan.export"),
        Binding("ctrl+g", "focus_goal", "Edit goal", id="plan.goal", show=False),
        Binding("ctrl+d", "focus_dag", "Focus the DAG", id="plan.dag"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.plan: dict[str, Any] | None = None
        self.steps: list[Any] = []
        self.status: dict[int, str] = {}
        self.timing: dict[int | None, PlanTiming] = {}
        self.started = 0.0
        self.graph_sizes: list[int] = []  # steps in each DAG update of the current plan (drafts, then final)
        self._stream_col = 0  # column of the model output's last line (for wrapping)

    def compose(self) -> ComposeResult:
        cfg = self.app.config  # type: ignore[attr-defined]
        yield Header()
        with Vertical(id="plan-top"):
            with Horizontal(classes="bar"):
                yield Input(placeholder="goal, e.g. find flights to Lisbon next Friday and add the cheapest to my calendar", id="goal")
            with Horizontal(classes="bar compact-row"):
                yield Input(compact=True, placeholder="constraints: max_steps=5 must_use=a,b must_not_use=c sequential_only=true", id="constraints")
                yield Select([(p, p) for p in PLANNERS], value=cfg.planner if cfg.planner in PLANNERS else "grounded", allow_blank=False, compact=True, id="planner")
            with Horizontal(classes="bar compact-row", id="model-row"):
                options = model_options(cfg)
                model = cfg.default_model if cfg.default_model in MODEL_PRESETS else None
                yield Select(options, prompt="model: default", compact=True, value=model or Select.NULL, id="model")
                yield Select(adapter_options(), prompt="adapter: none", compact=True, id="adapter")
                yield Input(compact=True, placeholder="other model: GGUF path or http(s) URL", id="model-custom", value=cfg.default_model if cfg.default_model and not model else "")
                yield Input(compact=True, placeholder="other LoRA: GGUF path", id="lora")
        with Horizontal(id="plan-main"):
            with Vertical(id="plan-center"):
                with VerticalScroll(id="dag-pane", classes="pane") as d:
                    d.border_title = "Plan DAG"
                    yield DagView(id="dag")
                with Vertical(id="candidates", classes="pane") as c:
                    c.border_title = "Tool candidates (why each ranks)"
                    yield DataTable(id="cand-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="plan-right"):
                with Vertical(id="timing-pane", classes="pane") as t:
                    t.border_title = "Timing: call a tool now?"
                    yield DataTable(id="timing-table", cursor_type="row")
                with VerticalScroll(id="node-detail", classes="pane") as n:
                    n.border_title = "Step"
                    yield Static("select a node (ctrl+d, arrows, enter)", id="node-info")
                with VerticalScroll(id="checks-pane", classes="pane") as k:
                    k.border_title = "Validation & repairs"
                    yield Static("", id="checks")
                with Vertical(id="stream-pane", classes="pane") as s:
                    s.border_title = "Model output"
                    yield Log(id="stream", highlight=False)
        yield Footer()

    def on_mount(self) -> None:
        cand = self.query_one("#cand-table", DataTable)
        for label, width in (("#", 2), ("tool", 26), ("category", 13), ("score", 6), ("stages", 14), ("why", 40)):
            cand.add_column(label, width=width)
        timing = self.query_one("#timing-table", DataTable)
        for label, width in (("for", 4), ("decision", 9), ("conf", 4), ("by", 11), ("reason", 40)):
            timing.add_column(label, width=width, key=label)
        self.query_one("#goal", Input).focus()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_timing_reason)

    def _fit_timing_reason(self) -> None:
        """The reason column takes what the timing pane has left (no horizontal scrolling to read it)."""
        table = self.query_one("#timing-table", DataTable)
        fixed = sum(c.get_render_width(table) for k, c in table.columns.items() if k != "reason")
        room = table.scrollable_content_region.width - fixed - 2 * table.cell_padding - 2
        column = table.columns.get("reason")  # type: ignore[call-overload]
        if column is not None and room >= 16 and column.width != room:
            column.width = room
            table.refresh(layout=True)

    # ---- inputs -------------------------------------------------------------------------------
    def plan_request(self) -> dict[str, Any]:
        picked = self.query_one("#model", Select).value
        picked = picked if isinstance(picked, str) else None
        custom = self.query_one("#model-custom", Input).value.strip()
        adapter = self.query_one("#adapter", Select).value
        lora = self.query_one("#lora", Input).value.strip() or (adapter if isinstance(adapter, str) else None)
        endpoint = picked[len(ENDPOINT_PREFIX):] if picked and picked.startswith(ENDPOINT_PREFIX) and not custom else None
        model = custom or (None if endpoint else picked)
        if lora and model is None and not endpoint:
            model = "gemma3-270m"  # the adapters are trained on (and exported against) the bundled Gemma
        cfg = self.app.config  # type: ignore[attr-defined]
        return {
            "goal": self.query_one("#goal", Input).value.strip(),
            "constraints": self.query_one("#constraints", Input).value.strip(),
            "model": model,
            "endpoint": endpoint,
            "lora": None if endpoint else lora,
            "planner": str(self.query_one("#planner", Select).value),
            "selector": cfg.selector,
            "timing": cfg.timing,
            "answer_directly": cfg.answer_directly,
            "rewrite_clauses": cfg.rewrite_clauses,
        }

    @on(Input.Submitted, "#goal")
    @on(Input.Submitted, "#constraints")
    def _submitted(self) -> None:
        self.action_plan()

    def action_plan_anyway(self) -> None:
        self.action_plan(always=True)

    def action_plan(self, always: bool = False) -> None:
        req = self.plan_request()
        if always:
            req["answer_directly"] = False
        if not req["goal"]:
            self.notify("type a goal first", severity="warning")
            self.query_one("#goal", Input).focus()
            return
        self._reset()
        self.query_one("#stream-pane").border_title = f"Model output · {model_label(req)}"
        self.started = time.monotonic()
        self.sub_title = "planning…"
        self.run_planner(req)

    def _reset(self) -> None:
        self.plan, self.steps, self.status, self.timing = None, [], {}, {}
        self.graph_sizes = []
        self.query_one("#cand-table", DataTable).clear()
        self.query_one("#timing-table", DataTable).clear()
        self.query_one("#checks", Static).update("")
        self.query_one("#stream", Log).clear()
        self._stream_col = 0
        self.query_one("#stream-pane").border_subtitle = ""
        self.query_one("#node-info", Static).update("")
        self.query_one(DagView).set_steps([])

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def run_planner(self, req: dict[str, Any]) -> None:
        from sage_tui.screens.plan_worker import plan_goal

        plan_goal(self.app, req, self.post_message)  # posts Plan* messages only

    def action_cancel(self) -> None:
        cancelled = self.workers.cancel_group(self, "plan")
        if cancelled:
            self.sub_title = "cancelled"
            self.notify("planning cancelled")

    # ---- worker messages ------------------------------------------------------------------------
    def on_plan_stage(self, msg: PlanStage) -> None:
        if msg.stage == "generating":  # one per LLM call: on the stream pane, not the header (no re-layout)
            self.query_one("#stream-pane").border_subtitle = msg.detail
            return
        self.sub_title = f"{msg.stage}… {msg.detail}".strip()

    def on_plan_tokens(self, msg: PlanTokens) -> None:
        """Append a coalesced chunk, hard-wrapped at the pane width (Log lines do not wrap by themselves)."""
        log = self.query_one("#stream", Log)
        width = max(20, log.size.width - log.styles.scrollbar_size_vertical - 1)  # room for the scrollbar to come
        text, self._stream_col = wrap_stream(msg.text, self._stream_col, width)
        log.write(text)

    def on_plan_candidates(self, msg: PlanCandidates) -> None:
        table = self.query_one("#cand-table", DataTable)
        table.clear()
        cat = self.app._catalog  # type: ignore[attr-defined]
        for s in msg.selections:
            tool = cat.maybe(s.tool_id) if cat is not None else None
            stages = " ".join(f"{st.stage[:3]}#{st.rank}" for st in s.stages if st.stage != "fused")
            stages = stages or "-"
            why = candidate_why(s)
            table.add_row(str(s.rank), s.tool_id, tool.category if tool else "", f"{s.score:.3f}", stages, why, key=s.tool_id)
        self.query_one("#candidates").border_subtitle = f"{len(msg.selections)} tools"

    def on_plan_graph(self, msg: PlanGraph) -> None:
        self.steps = list(msg.steps)
        self.graph_sizes.append(len(self.steps))
        self.status = {int(s["id"]): s.get("status", "ok") for s in msg.steps}
        dag = self.query_one(DagView)
        dag.set_steps(self.steps, self.status, msg.layout, subgoals=msg.sub_goals)
        draft = " · draft" if msg.stage in ("", "subgoals", "steps") else ""
        n, levels = len(self.steps), len(dag.layout_.levels)
        self.query_one("#dag-pane").border_subtitle = (f"{n} step{'' if n == 1 else 's'} · "
                                                       f"{levels} level{'' if levels == 1 else 's'}{draft}")

    def on_plan_checks(self, msg: PlanChecks) -> None:
        text = Text()
        for p in msg.problems:
            text.append(f"✗ {p}\n", style=theme_color(self.app, "error"))
        for r in msg.repairs:
            text.append(f"↻ {r}\n", style=theme_color(self.app, "warning"))
        if not msg.problems and not msg.repairs:
            text.append("✓ valid DAG, every tool known, arguments match schemas", style=theme_color(self.app, "success"))
        self.query_one("#checks", Static).update(text)

    def on_plan_timing(self, msg: PlanTiming) -> None:
        """Decisions arrive goal first, then by step id: append a row (or update the step's row in place)."""
        self.timing[msg.step_id] = msg
        table = self.query_one("#timing-table", DataTable)
        key = "goal" if msg.step_id is None else f"#{msg.step_id}"
        decision = Text("call tool" if msg.should_call_tool else "answer", style="bold" if msg.should_call_tool else "")
        cells = (key, decision, f"{msg.confidence:.2f}", msg.strategy, msg.reason)
        if key in table.rows:
            for col, value in zip(table.columns, cells, strict=True):
                table.update_cell(key, col, value)
        else:
            table.add_row(*cells, key=key)

    def on_plan_done(self, msg: PlanDone) -> None:
        self.plan = msg.plan
        stored = f" · stored {msg.run_id}" if msg.run_id else ""
        n = len(msg.plan.get("steps", []))
        self.sub_title = f"done in {msg.seconds:.1f}s · {n} step{'' if n == 1 else 's'}{stored}"
        dag = self.query_one(DagView)
        direct = msg.plan.get("meta", {}).get("answered_directly")
        if direct:  # the timing decision answered the goal directly: say so where the plan would be
            from rich.markup import escape

            self.sub_title = f"done in {msg.seconds:.1f}s · no tool needed{stored}"
            dag.show_notice(Text.from_markup(f"[bold]No tool needed: answer directly.[/]\n\n{escape(direct)}\n\n"
                                             f"[dim]{escape(self._key('plan.anyway', 'ctrl+t'))} plans it anyway.[/]"))
        dag.focus()
        dag.action_select()

    def _key(self, binding_id: str, default: str) -> str:
        """The key a binding of this screen is on now (the user's keymap applied)."""
        from sage_tui.keymap import effective_key

        return next((effective_key(self.app, b) for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id),
                    default)

    def on_plan_failed(self, msg: PlanFailed) -> None:
        from rich.markup import escape

        retry = self._key("plan.run", "ctrl+r")
        if msg.signal or msg.model:  # the engine child died: say what happened where the plan would be
            self.sub_title = f"engine crashed ({msg.signal or 'exited'})"
            lines = [f"[bold red]The inference engine crashed[/] ({escape(msg.signal or 'exited')}, model "
                     f"{escape(msg.model or '?')}). The app is fine; the run is stored as failed.",
                     f"[b]{escape(retry)}[/] retries in a fresh engine.  If it repeats: [b]sage-tui doctor[/]; on CPUs "
                     "with AMX try SAGE_TUI_EXTRA_BUFTS=off."]
            if msg.log_tail:
                lines.append("[dim]" + escape(msg.log_tail[-600:]) + "[/]")
            self.query_one(DagView).show_notice(Text.from_markup("\n\n".join(lines)))
            self.query_one("#checks", Static).update(f"[red]engine crashed ({escape(msg.signal or 'exited')})[/]: "
                                                     f"{escape(retry)} retries")
        else:
            self.sub_title = "failed"
        self.notify(msg.error, title="planning failed", severity="error", timeout=12)

    @on(DagView.NodeSelected)
    def _node(self, msg: DagView.NodeSelected) -> None:
        step = next((s for s in self.steps if s["id"] == msg.step_id), None)
        if step is None:
            return
        cat = self.app._catalog  # type: ignore[attr-defined]
        tool = cat.maybe(step["tool_id"]) if cat is not None else None
        info = {
            "step": step["id"],
            "tool": step["tool_id"],
            "sub_goal": step.get("subgoal_id"),
            "description": step.get("description", ""),
            "arguments": step.get("arguments", {}),
            "depends_on": step["depends_on"],
            "status": self.status.get(step["id"], "ok"),
        }
        t = self.timing.get(step["id"])
        if t is not None:
            info["timing"] = {"call_now": t.should_call_tool, "confidence": round(t.confidence, 3), "reason": t.reason, "by": t.strategy}
        if tool is not None:
            info["tool_schema"] = {"description": tool.description, "parameters": tool.parameters, "returns": tool.returns}
        from rich.json import JSON

        self.query_one("#node-info", Static).update(JSON(json.dumps(info, default=fmt_value), indent=2))

    # ---- actions --------------------------------------------------------------------------------
    def action_export(self) -> None:
        if not self.plan:
            self.notify("no plan to export yet", severity="warning")
            return
        from core.paths import cache_dir

        out = Path(cache_dir()) / "plans" / f"plan-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.plan, indent=2, default=str))
        self.notify(f"plan written to {out}", title="exported")

    def action_focus_goal(self) -> None:
        self.query_one("#goal", Input).focus()

    def action_focus_dag(self) -> None:
        self.query_one(DagView).focus()
