"""Build the report folder: tables (LaTeX + Markdown), paired differences, the paper's number macros
(results.tex) and findings (results.md), figures (PDF + PNG) and runs.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import __version__
from core.report import figdata, figures, paired, paper, tables
from core.report.aggregate import AblationSection, Row, ablation_sections, table1_rows
from core.report.select import Selection, child_evals, seed_of, select_runs
from core.report.specs import TABLE1_METRICS
from core.store import RunStore
from core.store.environment import latest_environment

TABLE_FILES = ("table1.tex", "table1.md", "paired.tex", "paired.md", "ablation.tex", "ablation.md", "results.tex",
               "results.md", "runs.json")
FIGURES = ("sample_efficiency", "forgetting", "knob_ablation", "selector_tradeoff", "plan_dag")
RUN_FIELDS = ("kind", "status", "task", "method", "name", "dataset_hash", "catalog_hash", "package_version", "parent_id", "started", "ended")


@dataclass
class ReportResult:
    out_dir: Path
    files: list[str]
    run_ids: list[str]
    skipped: dict[str, str] = field(default_factory=dict)  # figure -> why it was not drawn

    def to_json(self) -> dict[str, Any]:
        return {"out": str(self.out_dir), "files": self.files, "runs": self.run_ids, "skipped_figures": self.skipped}


def _rows_json(rows: list[Row]) -> dict[str, Any]:
    return {r.key: {"label": r.label, "cells": {k: c.to_json() for k, c in sorted(r.cells.items())}} for r in rows}


def _section_json(s: AblationSection) -> dict[str, Any]:
    return {"task": s.task, "component": s.component, "dataset": s.dataset, "n_samples": s.n_samples, "limit": s.limit, "rows": _rows_json(s.rows)}


def _run_json(store: RunStore, run: dict[str, Any]) -> dict[str, Any]:
    return {**{k: run.get(k) for k in RUN_FIELDS}, "config": run.get("config"), "seed": seed_of(run),
            "tags": sorted(run.get("tags") or []), "environment": latest_environment(store, run["id"])}


def _write(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))


def build_report(store: RunStore, out_dir: str | Path, selection: Selection | None = None) -> ReportResult:
    """Select runs, aggregate, and write the report folder. Reads the store only."""
    selection = selection or Selection()
    out = Path(out_dir)
    fig_dir = out / "figures"
    runs = select_runs(store, selection)
    rows, _sources = table1_rows(store, runs)
    sections = ablation_sections(store, runs)
    children = child_evals(store, {r["id"] for r in runs if r["kind"] == "train"})
    all_runs = {r["id"]: r for r in runs}
    pairs = paired.paired_sections(store, rows, all_runs, children)
    for kids in children.values():
        all_runs.update({k["id"]: k for k in kids})

    out.mkdir(parents=True, exist_ok=True)
    for name in TABLE_FILES:
        (out / name).unlink(missing_ok=True)
    for stem in FIGURES:
        for ext in ("pdf", "png"):
            (fig_dir / f"{stem}.{ext}").unlink(missing_ok=True)

    files: list[str] = []
    for name, text in (
        ("table1.tex", tables.table1_tex(rows)),
        ("table1.md", tables.table1_md(rows)),
        ("paired.tex", tables.paired_tex(pairs)),
        ("paired.md", tables.paired_md(pairs)),
        ("ablation.tex", tables.ablation_tex(sections)),
        ("ablation.md", tables.ablation_md(sections)),
        ("results.tex", paper.results_tex(rows, pairs, sections)),
        ("results.md", paper.results_md(rows, pairs, sections)),
    ):
        _write(out / name, text)
        files.append(name)

    figs: dict[str, Any] = {}
    skipped: dict[str, str] = {}

    def done(stem: str, written: list[str], data: Any) -> None:
        files.extend(f"figures/{w}" for w in written)
        figs[stem] = {"files": [f"figures/{w}" for w in written], "data": data}

    eff = figdata.sample_efficiency(store, runs)
    if eff:
        data = {m: [s.to_json() for s in ss] for m, ss in eff.items()}
        done("sample_efficiency", figures.sample_efficiency(eff, fig_dir), {"caption": figures.error_caption(eff), "metrics": data})
    else:
        skipped["sample_efficiency"] = "no training runs (A, B1-B3, R, C, D) with samples_used and acc@1, plan_nll or plan_token_acc"
    fg = figdata.forgetting(store, runs)
    if fg["first_chunk"] or fg["mean_seen"]:
        done("forgetting", figures.forgetting(fg, fig_dir), {k: [s.to_json() for s in v] for k, v in fg.items()})
    else:
        skipped["forgetting"] = "no A/C/D training runs with per-chunk accuracy (continual chunk events or chunk_acc/<chunk> metrics)"
    knobs = figdata.knob_ablation(store, runs)
    if knobs.panels:
        done("knob_ablation", figures.knob_ablation(knobs, fig_dir), knobs.to_json())
    else:
        skipped["knob_ablation"] = "no method trained at two settings or more of an ablation knob (loss_ratio, replay_ratio, buffer_size)"
    sec, pts = figdata.selector_tradeoff(sections)
    if sec is not None and pts:
        data = {"section": sec.key, "points": [p.__dict__ for p in pts]}
        done("selector_tradeoff", figures.selector_tradeoff(sec, pts, fig_dir), data)
    else:
        skipped["selector_tradeoff"] = "no tool_selection eval runs with acc@1 and latency_p50_ms"
    plan = figdata.example_plan(store, runs)
    if plan is not None:
        done("plan_dag", figures.plan_dag(plan[0], plan[1], fig_dir), {"run_id": plan[0], "plan": plan[1]})
    else:
        skipped["plan_dag"] = "no plan run with a stored plan"
    for stem, why in skipped.items():
        figs[stem] = {"skipped": why}

    manifest = {
        "sage_tui_version": __version__,
        "selection": selection.to_json(),
        "table1": {"metrics": [s.name for s in TABLE1_METRICS], "rows": _rows_json(rows)},
        "paired": [paired.section_json(p) for p in pairs],
        "ablation": [_section_json(s) for s in sections],
        "figures": figs,
        "runs": {rid: _run_json(store, r) for rid, r in sorted(all_runs.items())},
    }
    _write(out / "runs.json", json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")
    files.append("runs.json")
    return ReportResult(out_dir=out, files=sorted(files), run_ids=sorted(all_runs), skipped=skipped)
