"""Draw the report figures with matplotlib (Agg) as PDF and PNG, byte-reproducibly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.report.aggregate import AblationSection
from core.report.figdata import Series, TradeoffPoint, plan_edges, plan_subgoals

COLORS = {"A": "#4c4c4c", "B1": "#1f77b4", "B2": "#2ca02c", "B3": "#9467bd", "C": "#ff7f0e", "D": "#d62728"}
MARKERS = {"A": "o", "B1": "s", "B2": "^", "B3": "D", "C": "v", "D": "P"}


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


def sample_efficiency(series: list[Series], out_dir: Path, metric: str = "acc@1") -> list[str]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for s in series:
        ax.errorbar(
            s.x, s.y, yerr=s.y_std, label=s.label, color=COLORS.get(s.label), marker=MARKERS.get(s.label, "o"),
            capsize=3, linewidth=1.5, markersize=5,
        )
    ax.set_xlabel("training samples used")
    ax.set_ylabel(f"tool selection {metric}")
    ax.set_title("Sample efficiency (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(title="method", frameon=False)
    _clamp_unit(ax)
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
