"""Plan quality beside the no-LLM baseline, with 95 % CIs, on the hand-written set (first) and others.

    .venv/bin/python bench/plan_quality.py [--split handwritten] [--subset dev|test|all] [--limit N]
        [--arms greedy,hierarchical,flat] [--selector keyword] [--model sage-gemma3-270m] [--tag -x]

An arm is `PLANNER[~selector=NAME][~sgk=K][~sr=K][~top_k=K][~choose=K][~model=NAME][~gw=W][~deps=model|dataflow][~today=TEXT][~direct=rule|hybrid|llm][~rw=0|1][~rwc=0|1][~cq=raw|action][~qm=auto|none|FILE][~ms=FLOOR][~sbb=0|1][~ta=0|1][~rk=K][~rkw=W]` (`qm`: the selector's query map, default
the planners' (`core.planning.registry.DEFAULT_QUERY_MAP`); `rw`: PlannerConfig.clause_rewrite; `rwc`: PlannerConfig.rewrite_context; `cq`:
PlannerConfig.clause_query; `direct`: the goal-level timing
decision first, as the plan session does; "answer directly" gives the empty plan, its time counted; `sr`: retrieval per
sub-goal, PlannerConfig.subgoal_retrieval; `choose`: the model picks among a clause's top K, PlannerConfig.choose_k;
`model`: this arm's model instead of --model; `gw`: PlannerConfig.goal_weight; `ms`: PlannerConfig.min_score; `sbb`:
PlannerConfig.search_before_book; `ta`: PlannerConfig.typed_arguments; `cl`: PlannerConfig.contact_lookup; `rk` / `rkw`: PlannerConfig.rerank_k / rerank_weight; `deps`: PlannerConfig.deps; `today`: PlannerConfig.today, e.g.
`today=Wednesday 2025-10-15`, the hand-written set's reference date). The hand-written set is split once, by id, into a
design subset (`dev`: ids divisible by 5, used to choose between pipeline variants) and the report subset
(`test`: the rest, never used for a choice). The planner retrieves its own candidates (no gold list).
Per arm: node / edge F1, executability, exact plan, step (argument) validity, latency p50/p95, each mean with
its 95 % CI, and the paired difference vs the first arm (greedy by default). Arms run interleaved per goal.
Results go to results/bench/plan-quality-<timestamp><tag>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
METRICS = ("node_f1", "edge_f1", "executability", "exact_match", "step_validity")
# with the hand-written set's alternatives (tools its author accepted as equally right, written with the gold):
ALT_METRICS = ("node_f1_alt", "exact_match_alt")


def parse_arm(spec: str) -> tuple[str, dict[str, str]]:
    name, *opts = spec.split("~")
    return name, dict(o.split("=", 1) for o in opts)


def pct(xs: list[float], q: float) -> float:
    from core.metrics.stats import percentile

    return percentile(xs, q)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", default="handwritten")
    ap.add_argument("--dataset", default=None, help="a task_planning JSONL instead of the split (e.g. an import)")
    ap.add_argument("--catalog", default=None, help="the catalog the dataset's tools come from (default: bundled)")
    ap.add_argument("--subset", default="test", choices=["dev", "test", "all"])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--min-steps", type=int, default=0, help="keep goals whose gold plan has at least this many steps")
    ap.add_argument("--arms", default="greedy,hierarchical,flat")
    ap.add_argument("--selector", default=None, help="default selector of every arm (default: the planner's)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()

    from core.catalog import load_catalog
    from core.datasets import default_dataset_path, load_dataset
    from core.handwritten import gold_with_alternatives, in_subset
    from core.llm.factory import make_backend
    from core.metrics.planning import argument_accuracy, gold_steps, plan_metrics
    from core.metrics.stats import mean_ci, paired_diff, wilson
    from core.planning.base import PlannerConfig
    from core.planning.registry import PLANNERS, make_planner, make_selector
    from core.planning.session import direct_answer_plan
    from core.planning.types import PlanStep

    catalog = load_catalog(Path(args.catalog) if args.catalog else None)
    ds = load_dataset(args.dataset or default_dataset_path("task_planning", args.split), task="task_planning")
    samples = [s for s in ds.samples if in_subset(s["id"], args.subset) and len(s["gold"]["steps"]) >= args.min_steps]
    samples = samples[: args.limit] if args.limit else samples
    arms = [a for a in args.arms.split(",") if a]
    selectors: dict[tuple[str, str | None], object] = {}
    planners = {}
    deciders: dict[str, object] = {}  # arm -> the timing decider that may answer its goals directly
    backends: dict[str | None, object] = {}  # one engine per model, shared by the arms that use it
    for spec in arms:
        name, opts = parse_arm(spec)
        sel_name = opts.get("selector", args.selector) or PLANNERS[name].default_selector
        sel_key = (sel_name, opts.get("qm"))
        if sel_key not in selectors:
            selectors[sel_key] = make_selector(catalog, sel_name, query_map=opts.get("qm"))
        cfg = PlannerConfig(top_k=int(opts.get("top_k", 8)),
                            subgoal_top_k=int(opts["sgk"]) if "sgk" in opts else None,
                            subgoal_retrieval=int(opts["sr"]) if "sr" in opts else None,
                            choose_k=int(opts["choose"]) if "choose" in opts else None,
                            **({"goal_weight": float(opts["gw"])} if "gw" in opts else {}),
                            **({"deps": opts["deps"]} if "deps" in opts else {}),
                            **({"today": opts["today"]} if "today" in opts else {}),
                            **({"clause_rewrite": opts["rw"] == "1"} if "rw" in opts else {}),
                            **({"rewrite_context": opts["rwc"] == "1"} if "rwc" in opts else {}),
                            **({"clause_query": opts["cq"]} if "cq" in opts else {}),
                            **({"min_score": float(opts["ms"])} if "ms" in opts else {}),
                            **({"search_before_book": opts["sbb"] == "1"} if "sbb" in opts else {}),
                            **({"typed_arguments": opts["ta"] == "1"} if "ta" in opts else {}),
                            **({"contact_lookup": opts["cl"] == "1"} if "cl" in opts else {}),
                            **({"rerank_k": int(opts["rk"])} if "rk" in opts else {}),
                            **({"rerank_weight": float(opts["rkw"])} if "rkw" in opts else {}))
        model = opts.get("model", args.model)
        if PLANNERS[name].uses_llm and model not in backends:
            backends[model] = make_backend(model, None, None, "plan")
        backend = backends[model] if PLANNERS[name].uses_llm else None
        planners[spec] = make_planner(name, catalog, selector=selectors[sel_key], backend=backend, config=cfg)
        if "direct" in opts:
            from core.timing.decider import FIT_SELECTOR, TimingDecider

            tb = make_backend(model, None, None, "timing") if opts["direct"] != "rule" else None
            # as the plan session: the decider ranks on the selector it was fit with, not the planner's
            deciders[spec] = TimingDecider(opts["direct"], catalog, selector=make_selector(catalog, FIT_SELECTOR),
                                           backend=tb)
    per: dict[str, list[dict]] = {a: [] for a in arms}
    where = args.dataset or args.split
    print(f"{len(samples)} goals ({where}/{args.subset}), arms {arms}, load {os.getloadavg()[0]:.2f}", flush=True)
    for p in planners.values():  # untimed warm-up: engine start and model load stay out of the latencies
        if samples:
            p.plan(samples[0]["instruction"], candidates=samples[0].get("candidate_tools"))
    for dec in deciders.values():
        if samples:
            dec.decide(samples[0]["instruction"])  # type: ignore[attr-defined]
    for i, s in enumerate(samples, 1):
        gold = gold_steps(s)
        for spec, p in planners.items():
            t0 = time.perf_counter()
            d = deciders[spec].decide(s["instruction"]) if spec in deciders else None
            plan = direct_answer_plan(s["instruction"], spec, d.reason) if d is not None and not d.should_call_tool \
                else p.plan(s["instruction"], candidates=s.get("candidate_tools"))
            secs = time.perf_counter() - t0
            m = plan_metrics(plan.steps, gold, catalog, plan.candidates)
            alt_gold = [PlanStep.from_dict(x) for x in gold_with_alternatives(s, [st.tool_id for st in plan.steps])]
            m_alt = plan_metrics(plan.steps, alt_gold, catalog, plan.candidates)
            m |= {"node_f1_alt": m_alt["node_f1"], "exact_match_alt": m_alt["exact_match"]}
            hit, total = argument_accuracy(plan.steps, alt_gold)
            covered = len({st.tool_id for st in gold} & set(plan.candidates)) / max(1, len({st.tool_id for st in gold}))
            per[spec].append({"id": s["id"], **{k: m[k] for k in (*METRICS, *ALT_METRICS)}, "seconds": secs,
                              "candidate_recall": covered, "arg_hits": hit, "arg_total": total,
                              "pred": [st.tool_id for st in plan.steps],
                              "gold": [st.tool_id for st in gold],
                              "repairs": sorted({r.kind for r in plan.repairs})})
        if i % 10 == 0 or i == len(samples):
            line = "  ".join(f"{a}: nF1 {statistics.fmean(r['node_f1'] for r in per[a]):.3f}" for a in arms)
            print(f"[{i}/{len(samples)}] {line}", flush=True)
    base = arms[0]
    summary = {}
    for a in arms:
        rows = per[a]
        summary[a] = {k: dict(zip(("mean", "ci95"), mean_ci([r[k] for r in rows]), strict=True))
                      for k in (*METRICS, *ALT_METRICS, "candidate_recall")}
        hits, tot = sum(r["arg_hits"] for r in rows), sum(r["arg_total"] for r in rows)
        # gold argument values matched on the steps with the right tool (pooled over values, Wilson 95 %)
        summary[a]["argument_accuracy"] = {"mean": hits / tot if tot else 0.0, "n": tot,
                                           "ci95": list(wilson(hits, tot)) if tot else None}
        secs = [r["seconds"] for r in rows]
        summary[a]["latency"] = {"p50": statistics.median(secs), "p95": pct(secs, 0.95)}
        if a != base:
            summary[a]["vs_" + base] = {k: paired_diff([r[k] for r in rows], [r[k] for r in per[base]])
                                        for k in (*METRICS, *ALT_METRICS)}
    for a in arms:
        s = summary[a]
        cells = "  ".join(f"{k} {s[k]['mean']:.3f}±{s[k]['ci95']:.3f}" for k in METRICS)
        print(f"{a:40s} {cells}  args {s['argument_accuracy']['mean']:.3f} (n {s['argument_accuracy']['n']})  "
              f"p50 {s['latency']['p50']:.2f}s p95 {s['latency']['p95']:.2f}s", flush=True)
        if a != base:
            d = s["vs_" + base]["node_f1"]
            print(f"{'':40s} node_f1 vs {base}: {d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]", flush=True)
    out = ROOT / "results" / "bench" / f"plan-quality-{time.strftime('%Y%m%d-%H%M%S')}{args.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"split": args.split, "dataset": args.dataset, "catalog": args.catalog,
                               "subset": args.subset, "n": len(samples), "arms": arms,
                               "model": args.model or "default", "summary": summary, "per_sample": per,
                               "loadavg": os.getloadavg()}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
