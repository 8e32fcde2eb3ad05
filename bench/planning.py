"""Planning/timing benchmark: plan latency p50/p95, binding vs raw llama.cpp tokens/s, timing throughput.

    .venv/bin/python bench/planning.py [--limit 20] [--threads 1] [--model sage-gemma3-270m] [--llama-bench PATH]
        [--planners hierarchical,flat,greedy,hierarchical_per_subgoal@OTHER_LORA.gguf,hierarchical~draft=0]
        [--baseline hierarchical~draft=0~positional=0]

A planner spec is `NAME[@LORA][~KEY=VALUE...]`; the `~` options give that arm its own backend (and llama.cpp
contexts): `draft` (prompt-lookup draft tokens, 0 = off), `positional` (0 = the earlier step schema with
sampled ids), `threads`, `threads_batch`, `flash` (1 = flash attention), `merged` (1 = base + LoRA merged into one
GGUF, core/llm/merge_lora.py); `sgk` is a planner option (`PlannerConfig.subgoal_top_k`; the arm still gets
its own backend, since arms sharing one reuse each other's cached prompts). `--baseline SPEC` prints every
arm's p50/p95 as a ratio of that arm's, measured in the same run.

Raw llama.cpp numbers come from `llama-bench` built from the source the binding vendors
(bench/build_llama_bench.sh). Results go to results/bench/planning-<timestamp>.json.
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
    from core.metrics.stats import percentile

    return percentile(xs, q)


def bench_plans(catalog, samples, backend, planners, backend_for=None) -> dict:
    """Plan every sample with every planner, interleaved (sample 1 with each planner, then sample 2, ...), so
    load drift on a shared box hits all planners alike. The first planner call per planner also loads its
    context (KV-cached system prompt), as in the product.

    A planner spec `name@LORA` (LORA = a GGUF LoRA path, or `none` for the base model) runs that planner on
    the same base model with another adapter (`backend_for(LORA)`): e.g. the previous adapter with the
    per-sub-goal planner next to the new one, under the same load."""
    from core.metrics.planning import gold_steps, plan_metrics
    from core.planning.registry import make_planner, make_selector

    sel = make_selector(catalog)
    keys = ("prompt_tokens", "reused_prompt_tokens", "sampled_tokens", "forced_tokens", "prompt_s", "forward_s",
            "regex_s", "forward_calls", "draft_tokens", "accepted_draft_tokens")
    made = {}
    for spec in planners:
        from core.planning.base import PlannerConfig

        name, lora, opts = parse_spec(spec)
        own = bool(opts)  # any option, planner options included, gets its own backend: arms that share one
        # reuse each other's KV cache for identical prompts (same goal, same sub-goal prompt), which made a
        # planner-only variant look 30 % faster than it is (subgoal_top_k=2: p50 x0.70 shared, x0.96 own contexts)
        cfg = PlannerConfig(**{PLANNER_OPTS[k]: int(opts.pop(k)) for k in list(opts) if k in PLANNER_OPTS})
        be = backend_for(lora, opts, spec) if lora or own else backend
        made[spec] = make_planner(name, catalog, selector=sel, backend=be, config=cfg)
    acc = {name: {"lat": [], "metrics": [], "calls": [], "toks": [], "trunc": [], "parts": {k: [] for k in keys}}
           for name in planners}
    load = []
    for s in samples:
        load.append(os.getloadavg()[0])
        for name, p in made.items():
            a = acc[name]
            t0 = time.perf_counter()
            plan = p.plan(s["instruction"], candidates=s.get("candidate_tools"))
            a["lat"].append(time.perf_counter() - t0)
            a["metrics"].append(plan_metrics(plan.steps, gold_steps(s), catalog, plan.candidates))
            a["calls"].append(plan.meta.get("llm_calls", 0))
            a["toks"].append(plan.meta.get("completion_tokens", 0))
            a["trunc"].append(float(any(r.kind == "truncate" and "max_tokens" in r.detail for r in plan.repairs)))
            for k, v in a["parts"].items():
                v.append(float(plan.meta.get(k, 0.0)))
    out = {}
    for name in planners:
        a = acc[name]
        mean = {k: statistics.fmean(m[k] for m in a["metrics"]) for k in a["metrics"][0]}
        out[name] = {"n": len(samples), "p50_s": pct(a["lat"], 0.5), "p95_s": pct(a["lat"], 0.95),
                     "mean_llm_calls": statistics.fmean(a["calls"]),
                     "mean_completion_tokens": statistics.fmean(a["toks"]), "metrics": mean,
                     "truncated_rate": statistics.fmean(a["trunc"]),
                     "mean_breakdown": {k: statistics.fmean(v) for k, v in a["parts"].items()},
                     "latencies_s": [round(x, 3) for x in a["lat"]],
                     "per_sample": [{"id": smp.get("id"), **{k: round(float(v), 6) for k, v in m.items()}}
                                    for smp, m in zip(samples, a["metrics"], strict=True)]}
        print(f"plan {name:24s} p50 {out[name]['p50_s']:.2f}s  p95 {out[name]['p95_s']:.2f}s  "
              f"calls {out[name]['mean_llm_calls']:.1f}  struct-exec {mean['structural_executability']:.2f}  "
              f"node_f1 {mean['node_f1']:.3f}  edge_f1 {mean['edge_f1']:.3f}  exact {mean['exact_match']:.3f}",
              flush=True)
    bench_plans.load1_per_sample = [round(x, 2) for x in load]  # type: ignore[attr-defined]
    return out


PLANNER_OPTS = {"sgk": "subgoal_top_k"}  # planner (not backend) options of a spec: `~sgk=3`


def parse_spec(spec: str) -> tuple[str, str | None, dict[str, str]]:
    """`NAME[@LORA][~KEY=VALUE...]` -> (planner name, LoRA or None, backend options)."""
    head, *mods = spec.split("~")
    name, _, lora = head.partition("@")
    opts = dict(m.split("=", 1) for m in mods)
    unknown = set(opts) - {"draft", "positional", "threads", "threads_batch", "flash", "merged", *PLANNER_OPTS}
    if unknown:
        raise SystemExit(f"unknown option(s) {sorted(unknown)} in planner spec {spec!r}")
    return name, lora or None, opts


def paired_quality(planning: dict, baseline: str) -> dict:
    """Per metric: mean of (arm - baseline) over the same goals, normal 95% CI, goals better / worse."""
    from core.metrics.stats import paired_diff

    base = planning[baseline]["per_sample"]
    out: dict = {}
    for name, v in planning.items():
        if name == baseline:
            continue
        out[name] = {}
        for k in base[0]:
            if k == "id":
                continue
            pd = paired_diff([a[k] for a in v["per_sample"]], [b[k] for b in base])
            out[name][k] = {"diff": pd["diff"], "ci": [pd["low"], pd["high"]], "better": pd["better"],
                            "worse": pd["worse"], "n": pd["n"]}
        sv = out[name]["step_validity"]
        print(f"paired {name:40s} - {baseline}: step_validity {sv['diff']:+.3f} [{sv['ci'][0]:+.3f},"
              f"{sv['ci'][1]:+.3f}] ({sv['better']} better / {sv['worse']} worse of {sv['n']})", flush=True)
    return out


def print_ratios(planning: dict, baseline: str) -> dict:
    """p50/p95 of every arm over the baseline arm's (same run)."""
    b = planning[baseline]
    out = {}
    for name, v in planning.items():
        out[name] = {"p50": v["p50_s"] / b["p50_s"], "p95": v["p95_s"] / b["p95_s"]}
        print(f"ratio {name:40s} / {baseline}: p50 {out[name]['p50']:.3f}  p95 {out[name]['p95']:.3f}", flush=True)
    return out


def binding_tps(llm, n_prompt: int, n_gen: int, reps: int) -> dict:
    """Prompt processing (pp) and generation (tg) tokens/s through llama-cpp-python, like llama-bench.

    Like llama-bench: KV cache cleared per rep, one warm-up, tg decodes one token at a time without
    sampling (`tg_tps`); `tg_sample_tps` also runs greedy sampling per token (what generation costs)."""
    bos = llm.token_bos()
    prompt = [bos] + [min(1000 + i, llm.n_vocab() - 1) for i in range(n_prompt - 1)]
    llm.reset()
    llm.eval(prompt[:8])  # warm-up (llama-bench runs one too)
    pp, tg, tgs = [], [], []
    for _ in range(reps):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        pp.append(n_prompt / (time.perf_counter() - t0))
        llm.reset()
        t0 = time.perf_counter()
        tok = bos
        for i in range(n_gen):
            llm.eval([tok])
            tok = 1000 + (i * 7919) % 20000
        tg.append(n_gen / (time.perf_counter() - t0))
        llm.reset()
        llm.eval([bos])
        t0 = time.perf_counter()
        for _ in range(n_gen):
            tok = llm.sample(top_k=1)
            llm.eval([tok])
        tgs.append(n_gen / (time.perf_counter() - t0))
    return {"pp_tps": statistics.median(pp), "tg_tps": statistics.median(tg), "tg_sample_tps": statistics.median(tgs),
            "pp_samples": pp, "tg_samples": tg, "tg_sample_samples": tgs}


def raw_tps(exe: str, model: str, threads: int, n_prompt: int, n_gen: int, reps: int) -> dict:
    res = subprocess.run([exe, "-m", model, "-t", str(threads), "-p", str(n_prompt), "-n", str(n_gen),
                          "-r", str(reps), "-o", "json",
                          # the binding's settings (llama-cpp-python defaults): flash attention off, batch 512
                          "-fa", "off", "-b", "512", "-ub", "512"], capture_output=True, text=True, check=True)
    rows = json.loads(res.stdout)
    out: dict = {}
    for r in rows:
        key = "pp_tps" if r.get("n_prompt", 0) > 0 and r.get("n_gen", 0) == 0 else "tg_tps"
        out[key] = float(r["avg_ts"])
        out[key.replace("_tps", "_samples")] = [float(x) for x in r.get("samples_ts") or []]
        out.setdefault("info", {k: r.get(k) for k in ("build_commit", "cpu_info", "backends", "n_threads", "n_batch",
                                                     "n_ubatch", "type_k", "flash_attn", "use_mmap", "model_type")})
    return out


def tps_rounds(llm, exe: str | None, model: str, threads: int, n_p: int, n_g: int, reps: int, rounds: int) -> dict:
    """Binding and llama-bench interleaved `rounds` times (same model, threads, sizes), so load drift hits both;
    the ratio is computed per round and summarised by the median, with the load average per round."""
    per = []
    for i in range(rounds):
        la0 = os.getloadavg()[0]
        b = binding_tps(llm, n_p, n_g, reps)
        raw = raw_tps(exe, model, threads, n_p, n_g, reps) if exe else {}
        row = {"round": i, "load1_start": la0, "load1_end": os.getloadavg()[0], "binding": b, "raw": raw,
               "ratio": {k: b[k] / raw[k] for k in ("pp_tps", "tg_tps") if raw.get(k)}}
        per.append(row)
        r = row["ratio"]
        print(f"  round {i}: load {la0:.2f}  binding pp {b['pp_tps']:.1f} tg {b['tg_tps']:.1f} (sampled "
              f"{b['tg_sample_tps']:.1f})" + (f"  raw pp {raw['pp_tps']:.1f} tg {raw['tg_tps']:.1f}  ratio pp "
                                             f"{r['pp_tps']:.2f} tg {r['tg_tps']:.2f}" if raw else ""), flush=True)
    med = {}
    for k in ("pp_tps", "tg_tps"):
        med[f"binding_{k}"] = statistics.median(x["binding"][k] for x in per)
        if exe:
            med[f"raw_{k}"] = statistics.median(x["raw"][k] for x in per)
            med[f"ratio_{k}"] = statistics.median(x["ratio"][k] for x in per)
            med[f"ratio_{k}_min"] = min(x["ratio"][k] for x in per)
            med[f"ratio_{k}_max"] = max(x["ratio"][k] for x in per)
    med["binding_tg_sample_tps"] = statistics.median(x["binding"]["tg_sample_tps"] for x in per)
    return {"rounds": per, "median": med}


def bench_timing(catalog, samples, backend, strategies) -> dict:
    from core.planning.registry import make_selector
    from core.timing.decider import TimingDecider

    sel = make_selector(catalog)
    out = {}
    for s in strategies:
        if hasattr(backend, "_timing_vote_cache"):  # the vote memo (core/timing/llm_vote.py) would make a later
            del backend._timing_vote_cache  # strategy's LLM calls free: each strategy pays for its own
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
    ap.add_argument("--model", default="sage-gemma3-270m")
    ap.add_argument("--lora", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--decoding", default="guided", choices=["guided", "gbnf"])
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--timing-limit", type=int, default=40)
    ap.add_argument("--split", default="test")
    ap.add_argument("--planners", default="hierarchical,flat,greedy")
    ap.add_argument("--baseline", default=None, help="planner spec the others are compared with (added if absent)")
    ap.add_argument("--llama-bench", default=None, help="llama-bench executable (default: the cache-dir build)")
    ap.add_argument("--n-prompt", type=int, default=128, help="tps: prompt tokens (llama-bench -p)")
    ap.add_argument("--n-gen", type=int, default=32, help="tps: generated tokens (llama-bench -n)")
    ap.add_argument("--tps-reps", type=int, default=3, help="tps: repetitions per round (llama-bench -r)")
    ap.add_argument("--tps-rounds", type=int, default=1, help="tps: binding/llama-bench rounds, interleaved")
    ap.add_argument("--tps-n-ctx", type=int, default=0,
                    help="tps: binding context size (default: the backend's, 2048; llama-bench uses n_prompt+n_gen)")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: plan,tps,timing")
    ap.add_argument("--tag", default="", help="suffix of the result file name (e.g. -quiet)")
    args = ap.parse_args()

    from core.catalog import load_catalog
    from core.datasets import default_dataset_path, load_dataset
    from core.llm.factory import make_backend
    from core.llm.llamacpp import default_threads
    from core.llm.models import resolve_model
    from core.paths import cache_dir

    threads = args.threads or default_threads()
    resolved = resolve_model(args.model, args.lora)
    backend = make_backend(resolved, isolation="inprocess", cache=False, n_threads=threads, decoding=args.decoding)
    skip = set(filter(None, args.skip.split(",")))
    result: dict = {"model": resolved.to_dict(), "threads": threads, "decoding": args.decoding, "host_cpus": os.cpu_count(),
                    "loadavg_start": os.getloadavg()}
    print(f"model {resolved.name}  threads {threads}  decoding {args.decoding}  load {os.getloadavg()[0]:.2f}", flush=True)
    if "plan" not in skip:
        ds = load_dataset(default_dataset_path("task_planning", args.split), task="task_planning")
        samples = ds.samples[: args.limit]
        others: dict = {}

        def backend_for(lora: str | None, opts: dict[str, str], spec: str):
            key = spec.split("@")[-1] if lora else spec  # one backend (own contexts) per LoRA + options
            if key not in others:
                base = "gemma3-270m" if args.model in ("gemma3-270m", "sage-gemma3-270m") else args.model
                r = resolve_model(base, None if lora == "none" else lora) if lora else resolved
                others[key] = make_backend(
                    r, isolation="inprocess", cache=False, n_threads=int(opts.get("threads", threads)),
                    n_threads_batch=int(opts["threads_batch"]) if "threads_batch" in opts else None,
                    flash_attn=opts.get("flash") == "1", decoding=args.decoding,
                    draft_tokens=int(opts["draft"]) if "draft" in opts else None,
                    positional=opts.get("positional", "1") != "0", context_tag=key,
                    merge_lora=opts.get("merged") == "1" if "merged" in opts else None)
                result.setdefault("other_models", {})[key] = {**r.to_dict(), **others[key].info()}
            return others[key]

        planners = args.planners.split(",")
        if args.baseline and args.baseline not in planners:
            planners.insert(0, args.baseline)
        result["planning"] = bench_plans(load_catalog(), samples, backend, planners, backend_for)
        result["backend"] = backend.info()
        if args.baseline:
            result["baseline"] = args.baseline
            result["ratios"] = print_ratios(result["planning"], args.baseline)
            result["paired_quality"] = paired_quality(result["planning"], args.baseline)
        result["planning_dataset"] = {"path": ds.path, "sha256": ds.sha256, "n": len(samples)}
        result["planning_load1_per_sample"] = getattr(bench_plans, "load1_per_sample", [])
    if "tps" not in skip:
        n_p, n_g, reps = args.n_prompt, args.n_gen, args.tps_reps
        exe = args.llama_bench or str(cache_dir() / "llama-bench" / "build" / "bin" / "llama-bench")
        have = bool(shutil.which(exe) or Path(exe).is_file())
        import llama_cpp

        result["binding_system_info"] = llama_cpp.llama_print_system_info().decode(errors="replace")
        result["tps_config"] = {"n_prompt": n_p, "n_gen": n_g, "reps": reps, "rounds": args.tps_rounds,
                                "llama_bench": exe if have else None}
        llm = backend.llama
        if args.tps_n_ctx:  # e.g. 256: the binding with llama-bench's small context (it uses n_prompt + n_gen)
            from core.llm.llamacpp import load_llama

            llm = load_llama(str(resolved.path), None, args.tps_n_ctx, threads)
        result["tps_config"]["n_ctx_binding"] = llm.n_ctx()
        t = tps_rounds(llm, exe if have else None, str(resolved.path), threads, n_p, n_g, reps, args.tps_rounds)
        result["tps"] = t
        m = t["median"]
        b = {"pp_tps": m["binding_pp_tps"], "tg_tps": m["binding_tg_tps"], "tg_sample_tps": m["binding_tg_sample_tps"]}
        result["binding"] = b
        if have:
            result["raw"] = {"pp_tps": m["raw_pp_tps"], "tg_tps": m["raw_tg_tps"]}
            result["raw_info"] = t["rounds"][0]["raw"].get("info")
            result["ratio"] = {"pp_tps": m["ratio_pp_tps"], "tg_tps": m["ratio_tg_tps"]}
            print(f"binding/raw (median of {args.tps_rounds} rounds)  pp {b['pp_tps']:.1f}/{m['raw_pp_tps']:.1f} = "
                  f"{m['ratio_pp_tps']:.2f} [{m['ratio_pp_tps_min']:.2f}-{m['ratio_pp_tps_max']:.2f}]  tg "
                  f"{b['tg_tps']:.1f}/{m['raw_tg_tps']:.1f} = {m['ratio_tg_tps']:.2f} "
                  f"[{m['ratio_tg_tps_min']:.2f}-{m['ratio_tg_tps_max']:.2f}]", flush=True)
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
    out = ROOT / "results" / "bench" / f"planning-{time.strftime('%Y%m%d-%H%M%S')}{args.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
