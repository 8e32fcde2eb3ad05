"""Planning/timing benchmark: plan latency p50/p95, binding vs raw llama.cpp tokens/s, timing throughput.

    .venv/bin/python bench/planning.py [--limit 20] [--threads 1] [--model gemma3-270m] [--llama-bench PATH]

Raw llama.cpp numbers come from `llama-bench` built from the source the binding vendors
(bench/build_llama_bench.sh). Results go to bench/results/planning-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def bench_plans(catalog, samples, backend, planners) -> dict:
    from core.metrics.planning import gold_steps, plan_metrics
    from core.planning.registry import make_planner, make_selector

    sel = make_selector(catalog)
    out = {}
    for name in planners:
        p = make_planner(name, catalog, selector=sel, backend=backend)
        lat, metrics, calls, toks = [], [], [], []
        parts: dict[str, list[float]] = {k: [] for k in ("prompt_tokens", "reused_prompt_tokens", "sampled_tokens",
                                                         "forced_tokens", "prompt_s", "forward_s", "regex_s")}
        for s in samples:
            t0 = time.perf_counter()
            plan = p.plan(s["instruction"], candidates=s.get("candidate_tools"))
            lat.append(time.perf_counter() - t0)
            metrics.append(plan_metrics(plan.steps, gold_steps(s), catalog, plan.candidates))
            calls.append(plan.meta.get("llm_calls", 0))
            toks.append(plan.meta.get("completion_tokens", 0))
            for k, v in parts.items():
                v.append(float(plan.meta.get(k, 0.0)))
        mean = {k: statistics.fmean(m[k] for m in metrics) for k in metrics[0]}
        out[name] = {"n": len(samples), "p50_s": pct(lat, 0.5), "p95_s": pct(lat, 0.95), "mean_llm_calls":
                     statistics.fmean(calls), "mean_completion_tokens": statistics.fmean(toks), "metrics": mean,
                     "mean_breakdown": {k: statistics.fmean(v) for k, v in parts.items()}}
        print(f"plan {name:12s} p50 {out[name]['p50_s']:.2f}s  p95 {out[name]['p95_s']:.2f}s  "
              f"struct-exec {mean['structural_executability']:.2f}  node_f1 {mean['node_f1']:.3f}  "
              f"exact {mean['exact_match']:.3f}", flush=True)
    return out


def binding_tps(llm, n_prompt: int, n_gen: int, reps: int) -> dict:
    """Prompt processing (pp) and generation (tg) tokens/s through llama-cpp-python, like llama-bench."""
    bos = llm.token_bos()
    prompt = [bos] + [min(1000 + i, llm.n_vocab() - 1) for i in range(n_prompt - 1)]
    pp, tg = [], []
    for _ in range(reps):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        pp.append(n_prompt / (time.perf_counter() - t0))
        llm.reset()
        llm.eval([bos])
        t0 = time.perf_counter()
        for _ in range(n_gen):
            tok = llm.sample(top_k=1)
            llm.eval([tok])
        tg.append(n_gen / (time.perf_counter() - t0))
    return {"pp_tps": statistics.median(pp), "tg_tps": statistics.median(tg)}


def raw_tps(exe: str, model: str, threads: int, n_prompt: int, n_gen: int, reps: int) -> dict:
    res = subprocess.run([exe, "-m", model, "-t", str(threads), "-p", str(n_prompt), "-n", str(n_gen),
                          "-r", str(reps), "-o", "json"], capture_output=True, text=True, check=True)
    rows = json.loads(res.stdout)
    out = {}
    for r in rows:
        key = "pp_tps" if r.get("n_prompt", 0) > 0 and r.get("n_gen", 0) == 0 else "tg_tps"
        out[key] = float(r["avg_ts"])
    return out


def bench_timing(catalog, samples, backend, strategies) -> dict:
    from core.planning.registry import make_selector
    from core.timing.decider import TimingDecider

    sel = make_selector(catalog)
    out = {}
    for s in strategies:
        d = TimingDecider(s, catalog, selector=sel, backend=backend)
        t0 = time.perf_counter()
        used = correct = 0
        for x in samples:
            r = d.decide(x["message"], x.get("context") or [])
            used += r.used_llm
            correct += r.should_call_tool == x["gold"]["should_call_tool"]
        secs = time.perf_counter() - t0
        out[s] = {"n": len(samples), "decisions_per_s": len(samples) / secs, "llm_rate": used / len(samples),
                  "accuracy": correct / len(samples)}
        print(f"timing {s:7s} {out[s]['decisions_per_s']:8.2f}/s  llm_rate {out[s]['llm_rate']:.2f}  "
              f"acc {out[s]['accuracy']:.3f}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--lora", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--decoding", default="guided", choices=["guided", "gbnf"])
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--timing-limit", type=int, default=40)
    ap.add_argument("--split", default="test")
    ap.add_argument("--planners", default="hierarchical,flat,greedy")
    ap.add_argument("--llama-bench", default=None, help="llama-bench executable (default: the cache-dir build)")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: plan,tps,timing")
    args = ap.parse_args()

    from core.catalog import load_catalog
    from core.datasets import default_dataset_path, load_dataset
    from core.llm.llamacpp import LlamaCppBackend, default_threads
    from core.llm.models import resolve_model
    from core.paths import cache_dir

    threads = args.threads or default_threads()
    resolved = resolve_model(args.model, args.lora)
    backend = LlamaCppBackend(resolved, n_threads=threads, decoding=args.decoding)
    skip = set(filter(None, args.skip.split(",")))
    result: dict = {"model": resolved.to_dict(), "threads": threads, "decoding": args.decoding, "host_cpus": os.cpu_count(),
                    "loadavg_start": os.getloadavg()}
    print(f"model {resolved.name}  threads {threads}  decoding {args.decoding}  load {os.getloadavg()[0]:.2f}", flush=True)
    if "plan" not in skip:
        ds = load_dataset(default_dataset_path("task_planning", args.split), task="task_planning")
        samples = ds.samples[: args.limit]
        result["planning"] = bench_plans(load_catalog(), samples, backend, args.planners.split(","))
        result["planning_dataset"] = {"path": ds.path, "sha256": ds.sha256, "n": len(samples)}
    if "tps" not in skip:
        n_p, n_g, reps = 128, 32, 3
        b = binding_tps(backend.llama, n_p, n_g, reps)
        result["binding"] = b
        exe = args.llama_bench or str(cache_dir() / "llama-bench" / "build" / "bin" / "llama-bench")
        if shutil.which(exe) or Path(exe).is_file():
            raw = raw_tps(exe, str(resolved.path), threads, n_p, n_g, reps)
            result["raw"] = raw
            result["ratio"] = {k: b[k] / raw[k] for k in raw if k in b}
            print(f"binding/raw  pp {b['pp_tps']:.1f}/{raw.get('pp_tps', 0):.1f} = {result['ratio'].get('pp_tps', 0):.2f}"
                  f"  tg {b['tg_tps']:.1f}/{raw.get('tg_tps', 0):.1f} = {result['ratio'].get('tg_tps', 0):.2f}", flush=True)
        else:
            print(f"binding pp {b['pp_tps']:.1f} tok/s, tg {b['tg_tps']:.1f} tok/s; no llama-bench at {exe} "
                  "(run bench/build_llama_bench.sh)", flush=True)
    if "timing" not in skip:
        ds = load_dataset(default_dataset_path("timing_judgment", args.split), task="timing_judgment")
        result["timing"] = bench_timing(load_catalog(), ds.samples[: args.timing_limit], backend, ["rule", "llm", "hybrid"])
        base = result["timing"]["rule"]["decisions_per_s"]
        for s, v in result["timing"].items():
            print(f"timing throughput {s}/rule = {v['decisions_per_s'] / base:.3f}")
    result["loadavg_end"] = os.getloadavg()
    out = ROOT / "bench" / "results" / f"planning-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
