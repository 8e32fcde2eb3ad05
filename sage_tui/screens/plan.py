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
from sage_tui.widgets.dag import DagView

MODEL_PRESETS = ["sage-gemma3-270m", "gemma3-270m", "qwen2.5-coder-1.5b"]
PLANNERS = ["hierarchical", "flat", "greedy"]


class PlanScreen(Screen[None]):
    SCOPE = "plan"
    BINDINGS = [
        Binding("ctrl+r", "plan", "Plan the goal", id="plan.run"),
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

    def compose(self) -> ComposeResult:
        cfg = self.app.config  # type: ignore[attr-defined]
        yield Header()
        with Vertical(id="plan-top"):
            with Horizontal(classes="bar"):
                yield Input(placeholder="goal, e.g. find flights to Lisbon next Friday and add the cheapest to my calendar", id="goal")
            with Horizontal(classes="bar"):
                yield Input(compact=True, placeholder="constraints: max_steps=5 must_use=a,b must_not_use=c", id="constraints")
                model = cfg.default_model if cfg.default_model in MODEL_PRESETS else None
                yield Select([(m, m) for m in MODEL_PRESETS], prompt="model: default", compact=True, value=model or Select.NULL, id="model")
                yield Input(compact=True, placeholder="other model: GGUF path or http(s)://host/v1", id="model-custom", value=cfg.default_model if cfg.default_model and not model else "")
                yield Input(compact=True, placeholder="LoRA adapter (GGUF)", id="lora")
                yield Select([(p, p) for p in PLANNERS], value=cfg.planner if cfg.planner in PLANNERS else "hierarchical", allow_blank=False, compact=True, id="planner")
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
        for label, width in (("#", 2), ("tool", 22), ("category", 13), ("score", 6), ("stages", 14), ("why", 40)):
            cand.add_column(label, width=width)
        timing = self.query_one("#timing-table", DataTable)
        for label, width in (("for", 4), ("decision", 9), ("conf", 4), ("by", 11), ("reason", 40)):
            timing.add_column(label, width=width)
        self.query_one("#goal", Input).focus()

    # ---- inputs -------------------------------------------------------------------------------
    def plan_request(self) -> dict[str, Any]:
        model = self.query_one("#model", Select).value
        custom = self.query_one("#model-custom", Input).value.strip()
        cfg = self.app.config  # type: ignore[attr-defined]
        return {
            "goal": self.query_one("#goal", Input).value.strip(),
            "constraints": self.query_one("#constraints", Input).value.strip(),
            "model": custom or (model if isinstance(model, str) else None),
            "lora": self.query_one("#lora", Input).value.strip() or None,
            "planner": str(self.query_one("#planner", Select).value),
            "selector": cfg.selector,
            "timing": cfg.timing,
        }

    @on(Input.Submitted, "#goal")
    @on(Input.Submitted, "#constraints")
    def _submitted(self) -> None:
        self.action_plan()

    def action_plan(self) -> None:
        req = self.plan_request()
        if not req["goal"]:
            self.notify("type a goal first", severity="warning")
            self.query_one("#goal", Input).focus()
            return
        self._reset()
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
        self.sub_title = f"{msg.stage}… {msg.detail}".strip()

    def on_plan_tokens(self, msg: PlanTokens) -> None:
        self.query_one("#stream", Log).write(msg.text)

    def on_plan_candidates(self, msg: PlanCandidates) -> None:
        table = self.query_one("#cand-table", DataTable)
        table.clear()
        cat = self.app._catalog  # type: ignore[attr-defined]
        for s in msg.selections:
            tool = cat.maybe(s.tool_id) if cat is not None else None
            stages = " ".join(f"{st.stage[:3]}#{st.rank}" for st in s.stages if st.stage != "fused")
            stages = stages or "-"
            why = ", ".join(s.matched_terms[:5]) or s.explanation
            table.add_row(str(s.rank), s.tool_id, tool.category if tool else "", f"{s.score:.3f}", stages, why, key=s.tool_id)
        self.query_one("#candidates").border_subtitle = f"{len(msg.selections)} tools"

    def on_plan_graph(self, msg: PlanGraph) -> None:
        self.steps = list(msg.steps)
        self.graph_sizes.append(len(self.steps))
        self.status = {int(s["id"]): s.get("status", "ok") for s in msg.steps}
        self.query_one(DagView).set_steps(self.steps, self.status, msg.layout)
        self.query_one("#dag-pane").border_subtitle = f"{len(self.steps)} steps · {len(self.query_one(DagView).layout_.levels)} levels"

    def on_plan_checks(self, msg: PlanChecks) -> None:
        text = Text()
        for p in msg.problems:
            text.append(f"✗ {p}\n", style=self.app.theme_variables.get("error", ""))
        for r in msg.repairs:
            text.append(f"↻ {r}\n", style=self.app.theme_variables.get("warning", ""))
        if not msg.problems and not msg.repairs:
            text.append("✓ valid DAG, every tool known, arguments match schemas", style=self.app.theme_variables.get("success", ""))
        self.query_one("#checks", Static).update(text)

    def on_plan_timing(self, msg: PlanTiming) -> None:
        self.timing[msg.step_id] = msg
        table = self.query_one("#timing-table", DataTable)
        table.clear()
        for sid, t in sorted(self.timing.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
            label = "goal" if sid is None else f"#{sid}"
            decision = Text("call tool" if t.should_call_tool else "answer", style="bold" if t.should_call_tool else "")
            table.add_row(label, decision, f"{t.confidence:.2f}", t.strategy, t.reason)

    def on_plan_done(self, msg: PlanDone) -> None:
        self.plan = msg.plan
        stored = f" · stored {msg.run_id}" if msg.run_id else ""
        self.sub_title = f"done in {msg.seconds:.1f}s · {len(msg.plan.get('steps', []))} steps{stored}"
        dag = self.query_one(DagView)
        dag.focus()
        dag.action_select()

    def on_plan_failed(self, msg: PlanFailed) -> None:
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
