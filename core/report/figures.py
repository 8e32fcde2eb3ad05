"""Draw the report figures with matplotlib (Agg) as PDF and PNG, byte-reproducibly."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from core.report.aggregate import AblationSection
from core.report.figdata import KnobPanels, Series, TradeoffPoint, plan_edges, plan_subgoals

COLORS = {"A": "#4c4c4c", "B1": "#1f77b4", "B2": "#2ca02c", "B3": "#9467bd", "C": "#ff7f0e", "D": "#d62728", "R": "#8c564b"}
MARKERS = {"A": "o", "B1": "s", "B2": "^", "B3": "D", "C": "v", "D": "P", "R": "X"}
SHORT_LABELS = {
    "A": "A: SFT, all data", "B1": "B1: coreset (loss)", "B2": "B2: coreset (diversity)", "B3": "B3: coreset (hybrid)",
    "R": "R: random coreset (control)", "C": "C: continual replay", "D": "D: coreset + continual",
}
# metric -> (panel title, y label, is a rate in [0, 1])
EFFICIENCY_PANELS = {
    "acc@1": ("Tool selection", "acc@1 (higher is better)", True),
    "node_f1": ("Planning (generated plans)", "node F1 (higher is better)", True),
    "plan_nll": ("Planning likelihood", "gold-plan NLL per token (lower is better)", False),
}
ERROR_TEXT = {
    "std": "std over seeds",
    "ci95": "95 % CI over evaluation samples (one seed)",
    "none": "no bar: one seed without a stored CI",
}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "sage-tui"})
    return plt


def save(fig: Any, out_dir: Path, stem: str) -> list[str]:
    """Write `stem`.pdf and `stem`.png without dates, so identical data gives identical files."""
    plt = _plt()
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf, png = out_dir / f"{stem}.pdf", out_dir / f"{stem}.png"
    fig.savefig(pdf, format="pdf", metadata={"CreationDate": None, "ModDate": None}, bbox_inches="tight")
    fig.savefig(png, format="png", dpi=150, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return [pdf.name, png.name]


def _clamp_unit(ax: Any) -> None:
    """Accuracy axes never show values outside [0, 1] (margins may not push past them)."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(max(lo, -0.02), min(hi, 1.02))


def error_caption(data: dict[str, list[Series]]) -> str:
    """What the error bars are, from the kinds the drawn points use."""
    kinds = sorted({k for ss in data.values() for s in ss for k in s.extra.get("err_kind", [])}, key=list(ERROR_TEXT).index)
    texts = [ERROR_TEXT[k] + (" (points with >= 2 seeds)" if k == "std" and len(kinds) > 1 else "") for k in kinds]
    return "error bars: " + "; ".join(texts) if texts else ""


class _XAxis:
    """Training-sample axis: log2 when the sizes span 4x or more, else linear; sideways offsets in axis units."""

    def __init__(self, xs: list[float]) -> None:
        self.log = xs[0] > 0 and xs[-1] / xs[0] >= 4
        f = [self.fwd(x) for x in xs]
        self.lo, self.hi = f[0], f[-1]
        self.span = (self.hi - self.lo) or (1.0 if self.log else max(abs(xs[0]), 1.0))
        self.ticks: list[float] = []
        for x, fx in zip(xs, f, strict=True):  # thin out ticks that would print on top of each other
            if not self.ticks or fx - self.fwd(self.ticks[-1]) >= 0.12 * self.span:
                self.ticks.append(x)

    def fwd(self, x: float) -> float:
        return math.log2(x) if self.log else x

    def inv(self, v: float) -> float:
        return 2.0**v if self.log else v

    def shift(self, x: float, steps: float) -> float:
        return self.inv(self.fwd(x) + steps * 0.04 * self.span)

    def apply(self, ax: Any) -> None:
        if self.log:
            ax.set_xscale("log", base=2)
            ax.minorticks_off()
        ax.set_xticks(self.ticks, [f"{x:g}" for x in self.ticks])
        ax.set_xlim(self.inv(self.lo - 0.25 * self.span), self.inv(self.hi + 0.25 * self.span))


def _dodge(series: list[Series]) -> dict[tuple[str, float], float]:
    """Sideways offset (in steps) per (method, x) so methods at the same x sit side by side, in legend order."""
    at: dict[float, list[str]] = {}
    for s in series:
        for x in s.x:
            at.setdefault(x, []).append(s.label)
    return {(m, x): i - (len(ms) - 1) / 2 for x, ms in at.items() for i, m in enumerate(ms)}


def sample_efficiency(data: dict[str, list[Series]], out_dir: Path) -> list[str]:
    """One panel per metric: value against training samples used, every method; C/D (continual) hollow + dashed."""
    plt = _plt()
    metrics = [m for m in EFFICIENCY_PANELS if data.get(m)] + [m for m in sorted(data) if m not in EFFICIENCY_PANELS and data[m]]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.4 * len(metrics), 3.3), squeeze=False)
    xaxis = _XAxis(sorted({x for m in metrics for s in data[m] for x in s.x}))
    handles: dict[str, Any] = {}
    for ax, metric in zip(axes[0], metrics, strict=True):
        title, ylabel, unit = EFFICIENCY_PANELS.get(metric, (metric, metric, False))
        offsets = _dodge(data[metric])
        for s in data[metric]:
            continual = s.extra.get("regime") == "continual"
            color = COLORS.get(s.label, "#333333")
            h = ax.errorbar(
                [xaxis.shift(x, offsets[(s.label, x)]) for x in s.x], s.y, yerr=s.extra.get("err", s.y_std), color=color,
                marker=MARKERS.get(s.label, "o"), linestyle="--" if continual else "-", capsize=3, linewidth=1.3,
                markersize=6, markerfacecolor="white" if continual else color, markeredgewidth=1.3,
            )
            handles.setdefault(s.label, h)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("training samples used" + (" (log scale)" if xaxis.log else ""))
        xaxis.apply(ax)
        ax.grid(alpha=0.3)
        if unit:
            _clamp_unit(ax)
    order = [m for m in SHORT_LABELS if m in handles] + sorted(m for m in handles if m not in SHORT_LABELS)
    fig.legend([handles[m] for m in order], [SHORT_LABELS.get(m, m) for m in order], loc="upper center",
               bbox_to_anchor=(0.5, 0.0), ncol=min(4, len(order)), frameon=False, fontsize=8,
               title="solid, filled: standard fine-tuning; dashed, hollow: continual (task stream + replay)",
               title_fontsize=8)
    note = f"{error_caption(data)}; points at the same x are offset sideways"
    if len(note) > 110:
        note = note.replace("; points", "\npoints", 1)
    fig.suptitle(f"Sample efficiency: quality of the trained model vs training samples\n{note}", fontsize=9)
    fig.tight_layout()
    return save(fig, out_dir, "sample_efficiency")


def forgetting(data: dict[str, list[Series]], out_dir: Path) -> list[str]:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.4), sharey=True)
    panels = (("first_chunk", "accuracy on the first chunk"), ("mean_seen", "mean accuracy over chunks seen"))
    chunks: list[str] = []
    for ax, (key, title) in zip(axes, panels, strict=True):
        for s in data.get(key, []):
            f = s.extra.get("forgetting_mean")
            label = s.label if f is None else f"{s.label} (forgetting {f:.3f})"
            ax.plot(s.x, s.y, label=label, color=COLORS.get(s.label), marker=MARKERS.get(s.label, "o"), linewidth=1.5, markersize=5)
            lo = [y - e for y, e in zip(s.y, s.y_std, strict=True)]
            hi = [y + e for y, e in zip(s.y, s.y_std, strict=True)]
            ax.fill_between(s.x, lo, hi, color=COLORS.get(s.label), alpha=0.15, linewidth=0)
            if len(s.extra.get("chunks", [])) > len(chunks):
                chunks = s.extra["chunks"]
        ax.set_title(title)
        ax.set_xlabel("after training on chunk")
        ax.grid(alpha=0.3)
        if chunks:
            ax.set_xticks(range(len(chunks)), [f"{i}: {c}" for i, c in enumerate(chunks)], rotation=20, ha="right")
    axes[0].set_ylabel("accuracy")
    _clamp_unit(axes[0])
    axes[1].legend(frameon=False, fontsize=8)
    fig.suptitle("Forgetting across the task stream (mean ± std over seeds)", y=1.04)
    return save(fig, out_dir, "forgetting")


KNOB_TITLES = {"loss_ratio": "share of the budget picked by loss", "replay_ratio": "replay ratio",
               "buffer_size": "replay buffer size (dialogs)", "epochs": "passes over each chunk (epochs)"}
KNOB_PANELS = {**EFFICIENCY_PANELS, "plan_nll": ("Planning likelihood", "gold-plan NLL (lower is better)", False),
               "forgetting": ("Forgetting", "forgetting (lower is better)", False)}


def knob_ablation(data: KnobPanels, out_dir: Path) -> list[str]:
    """One row per ablation knob, one panel per metric: the value against the knob's setting for each method
    that ran it at several (its main setting ringed); A (all data, main comparison) as a dotted line."""
    plt = _plt()
    knobs = [k for k in KNOB_TITLES if k in data.panels] + sorted(k for k in data.panels if k not in KNOB_TITLES)
    ncols = max(len(data.panels[k]) for k in knobs)
    fig, grid = plt.subplots(len(knobs), ncols + 1, figsize=(3.3 * ncols + 2.6, 3.0 * len(knobs)), squeeze=False,
                             gridspec_kw={"width_ratios": [1.0] * ncols + [0.8]})
    for full_row, knob in zip(grid, knobs, strict=True):
        row, key = full_row[:-1], full_row[-1]  # the last column holds the row's legend
        key.axis("off")
        metrics = [m for m in KNOB_PANELS if m in data.panels[knob]] + \
            sorted(m for m in data.panels[knob] if m not in KNOB_PANELS)
        for ax in row[len(metrics):]:
            ax.set_visible(False)
        for ax, metric in zip(row, metrics, strict=False):
            title, ylabel, unit = KNOB_PANELS.get(metric, (metric, metric, False))
            xs: set[float] = set()
            for s in data.panels[knob][metric]:
                color = COLORS.get(s.label, "#333333")
                ax.errorbar(s.x, s.y, yerr=s.extra.get("err", s.y_std), color=color, marker=MARKERS.get(s.label, "o"),
                            capsize=3, linewidth=1.3, markersize=5, label=SHORT_LABELS.get(s.label, s.label))
                main = data.main.get(knob, {}).get(s.label)
                if main in s.x:
                    i = s.x.index(main)
                    ax.plot([main], [s.y[i]], marker="o", markersize=13, markerfacecolor="none", color=color,
                            linewidth=0, label=f"{s.label} main setting: mean of {s.n[i]} seeds")
                dx = 0.06 * ((max(s.x) - min(s.x)) or 1.0)
                for x, seeds in zip(s.x, s.extra.get("values", [[]] * len(s.x)), strict=True):
                    if len(seeds) > 1:  # each seed alone, beside the error bar: what a one-seed point compares with
                        at = x * 1.25 if knob == "buffer_size" else x + dx
                        ax.plot([at] * len(seeds), seeds, linestyle="none", marker="o", markersize=3.5, color=color,
                                markerfacecolor="white", label="one seed each (settings with several)")
                xs.update(s.x)
            ref = data.reference.get(metric)
            if ref is not None:
                ax.axhline(ref["mean"], color=COLORS.get(ref["label"], "#4c4c4c"), linestyle=":", linewidth=1.2,
                           label=f"{SHORT_LABELS.get(ref['label'], ref['label'])} ({ref['n']} seeds)")
            if knob == "buffer_size" and min(xs) > 0 and max(xs) / min(xs) >= 4:
                ax.set_xscale("log", base=2)
                ax.minorticks_off()
            ax.set_xticks(sorted(xs), [f"{x:g}" for x in sorted(xs)])
            ax.set_title(title)
            ax.set_xlabel(KNOB_TITLES.get(knob, knob))
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            ax.margins(x=0.12)
            if unit:
                _clamp_unit(ax)
        handles, labels = row[0].get_legend_handles_labels()
        by_label = dict(zip(labels, handles, strict=True))
        key.legend(by_label.values(), by_label.keys(), frameon=False, fontsize=7.5, loc="center left")
    fig.suptitle("Ablation knobs: one knob changed at a time, the rest at the method's main setting\n"
                 "error bars: std over seeds where a setting has several runs, else the one run's 95 % CI over "
                 "evaluation samples",
                 fontsize=9)
    fig.tight_layout()
    return save(fig, out_dir, "knob_ablation")


def selector_tradeoff(section: AblationSection, points: list[TradeoffPoint], out_dir: Path, metric: str = "acc@1") -> list[str]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for i, p in enumerate(points):
        ax.errorbar([p.latency_ms], [p.accuracy], yerr=[p.accuracy_std], fmt="o", capsize=3, color=f"C{i % 10}", markersize=6)
        ax.annotate(p.variant, (p.latency_ms, p.accuracy), textcoords="offset points", xytext=(6, 4), fontsize=8)
    lats = [p.latency_ms for p in points if p.latency_ms > 0]
    if lats and max(lats) / min(lats) > 20:
        ax.set_xscale("log")
    ax.set_xlabel("latency per query, p50 (ms)")
    ax.set_ylabel(f"tool selection {metric}")
    ax.set_title(f"Selector trade-off ({section.dataset}, {section.n_samples} samples)")
    ax.grid(alpha=0.3)
    ax.margins(x=0.25, y=0.15)
    _clamp_unit(ax)
    return save(fig, out_dir, "selector_tradeoff")


def _layers(g: Any, order: list[str]) -> tuple[list[list[str]], dict[tuple[str, str], list[str]]]:
    """Parallel levels (topological generations) with a dummy node wherever an edge skips a level.

    Returns the levels (each ordered by the mean row of its predecessors, to limit crossings) and,
    per edge, the chain of nodes it is drawn through, so long edges never cross a step's box.
    """
    import networkx as nx

    try:
        gens = [list(level) for level in nx.topological_generations(g)]
    except nx.NetworkXUnfeasible:  # a cyclic plan: one node per level in step order
        return [[n] for n in order], {(a, b): [a, b] for a, b in g.edges}
    level_of = {n: i for i, level in enumerate(gens) for n in level}
    routes: dict[tuple[str, str], list[str]] = {}
    preds: dict[str, list[str]] = {n: [] for n in g.nodes}
    for a, b in sorted(g.edges):
        chain = [a] + [f"_{a}>{b}@{k}" for k in range(level_of[a] + 1, level_of[b])] + [b]
        for k, d in enumerate(chain[1:-1], start=level_of[a] + 1):
            gens[k].append(d)
            preds[d] = []
        for u, v in zip(chain, chain[1:], strict=False):
            preds[v].append(u)
        routes[(a, b)] = chain
    rank = {n: i for i, n in enumerate(order)}
    row: dict[str, float] = {}
    for level in gens:
        def key(n: str) -> tuple[float, int, str]:
            ps = [row[p] for p in preds[n] if p in row]
            return (sum(ps) / len(ps) if ps else -1.0, rank.get(n, len(rank)), n)

        level.sort(key=key)
        for j, n in enumerate(level):
            row[n] = float(j)
    return gens, routes


def _clip(center: tuple[float, float], toward: tuple[float, float], half: tuple[float, float]) -> tuple[float, float]:
    """Where the segment from a box's center toward a point leaves the box (half width, half height)."""
    dx, dy = toward[0] - center[0], toward[1] - center[1]
    ts = [h / abs(d) for h, d in ((half[0], dx), (half[1], dy)) if d]
    t = min([1.0, *ts])
    return center[0] + t * dx, center[1] + t * dy


def plan_dag(run_id: str, plan: dict[str, Any], out_dir: Path) -> list[str]:
    """The example plan as a left-to-right DAG: columns are parallel levels (topological generations)."""
    import networkx as nx

    plt = _plt()
    nodes, edges = plan_edges(plan)
    g = nx.DiGraph()
    g.add_nodes_from(n for n, _ in nodes)
    g.add_edges_from(edges)
    labels = dict(nodes)
    levels, routes = _layers(g, [n for n, _ in nodes])
    pos = {}
    for x, level in enumerate(levels):
        for j, n in enumerate(level):
            pos[n] = (x * 3.0, -(j - (len(level) - 1) / 2) * 1.2)
    tallest = max(len(level) for level in levels)
    fig, ax = plt.subplots(figsize=(max(4.5, 2.6 * len(levels)), max(2.4, 0.9 * tallest + 1.4)))
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(-1.7, (len(levels) - 1) * 3.0 + 1.7)
    ax.set_ylim(min(ys) - 1.1, max(ys) + 0.7)
    ax.axis("off")
    sub_of, sub_names = plan_subgoals(plan)
    palette = ["#dbe9f8", "#fde2c8", "#d8f0d3", "#ecdff5", "#f9d6d5", "#fff3bf"]
    boxes = {}
    for n in labels:
        g = sub_of.get(n)
        boxes[n] = ax.text(
            *pos[n], labels[n], ha="center", va="center", fontsize=8, zorder=3,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "#e8f0fb" if g is None else palette[(g - 1) % len(palette)],
                  "edgecolor": "#1f4e8c"},
        )
    if sub_of:
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=palette[(g - 1) % len(palette)], edgecolor="#1f4e8c", label=f"sub-goal {g}: {sub_names.get(g, '')[:40]}")
                   for g in sorted(set(sub_of.values()))]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(2, len(handles)), frameon=False, fontsize=7)
    fig.canvas.draw()  # lay out the boxes so edges can end on their outlines
    inv = ax.transData.inverted()
    half = {}
    for n, t in boxes.items():
        (x0, y0), (x1, y1) = inv.transform(t.get_bbox_patch().get_window_extent())
        half[n] = (abs(x1 - x0) / 2 + 0.05, abs(y1 - y0) / 2 + 0.05)
    for (a, b), chain in sorted(routes.items()):
        pts = [pos[n] for n in chain]
        pts[0] = _clip(pos[a], pts[1], half[a])
        pts[-1] = _clip(pos[b], pts[-2], half[b])
        if len(pts) > 2:
            ax.plot([p[0] for p in pts[:-1]], [p[1] for p in pts[:-1]], color="#555555", linewidth=1.2, zorder=2)
        ax.annotate(
            "", xy=pts[-1], xytext=pts[-2], zorder=2,
            arrowprops={"arrowstyle": "-|>", "color": "#555555", "linewidth": 1.2, "shrinkA": 0, "shrinkB": 0},
        )
    for x in range(len(levels)):
        ax.text(x * 3.0, min(ys) - 0.8, f"level {x}", ha="center", va="center", fontsize=7, color="#777777")
    goal = str(plan.get("goal") or plan.get("instruction") or "")
    import textwrap

    title = f"Example plan ({run_id})" + ("\n" + "\n".join(textwrap.wrap(goal, 80)[:2]) if goal else "")
    ax.set_title(title, fontsize=9)
    return save(fig, out_dir, "plan_dag")
