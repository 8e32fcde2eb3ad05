"""Engine benchmark: what the child process and the buffer-type choice cost, measured in one run.

    .venv/bin/python bench/engine.py [--limit 20] [--split test] [--model sage-gemma3-270m] [--tps-reps 5]

1. Plan latency, in-process llama.cpp vs the engine child (`core/llm/engine/`), hierarchical planner, the same
   goals interleaved (in-process then child per goal, after one warm-up plan each): p50/p95 and the child/
   in-process ratio (target <= 1.10).
2. Tokens/s with llama.cpp's extra buffer types (weight repack) on and off, in-process: prompt processing of
   `--n-prompt` tokens and greedy decoding of `--n-gen` tokens, `--tps-reps` rounds alternating on/off.
Results go to results/bench/engine-<timestamp><tag>.json.
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


def pct(xs: list[float], q: float) -> float:
    from core.metrics.stats import percentile

    return percentile(xs, q)


def plan_latency(model: str, goals: list[str], threads: int) -> dict:
    from core.catalog import load_catalog
    from core.llm.engine.client import EngineProcess
    from core.llm.factory import make_backend
    from core.planning.registry import make_planner, make_selector

    catalog = load_catalog()
    selector = make_selector(catalog, None)
    engine = EngineProcess()
    arms = {"inprocess": make_backend(model, isolation="inprocess", cache=False, n_threads=threads,
                                      context_tag="bench-in"),
            "child": make_backend(model, isolation="child", cache=False, n_threads=threads, context_tag="bench-child",
                                  engine=engine)}
    planners = {k: make_planner("hierarchical", catalog, selector=selector, backend=b) for k, b in arms.items()}
    times: dict[str, list[float]] = {k: [] for k in arms}
    same = 0
    try:
        for b in arms.values():
            b.prepare()
        for p in planners.values():  # warm-up: fills caches (vocabulary, regexes) on both sides
            p.plan(goals[0])
        for g in goals:
            plans = {}
            for k, p in planners.items():
                t0 = time.perf_counter()
                plans[k] = p.plan(g)
                times[k].append(time.perf_counter() - t0)
            same += [s.tool_id for s in plans["inprocess"].steps] == [s.tool_id for s in plans["child"].steps]
            print(f"{times['inprocess'][-1]:6.2f}s in-process  {times['child'][-1]:6.2f}s child  {g[:60]}", flush=True)
    finally:
        engine.close()
    out = {k: {"p50": statistics.median(v), "p95": pct(v, 0.95), "mean": statistics.fmean(v), "n": len(v)}
           for k, v in times.items()}
    out["ratio_p50_child_vs_inprocess"] = out["child"]["p50"] / out["inprocess"]["p50"]
    out["ratio_p95_child_vs_inprocess"] = out["child"]["p95"] / out["inprocess"]["p95"]
    out["same_tools"] = f"{same}/{len(goals)}"
    return out


def tokens_per_s(model: str, threads: int, n_prompt: int, n_gen: int, reps: int) -> dict:
    """Prompt and decode speed with extra buffer types on vs off (alternating rounds, same process)."""
    from core.llm.llamacpp import load_llama
    from core.llm.models import resolve_model

    path = str(resolve_model(model).path)
    llms = {on: load_llama(path, None, n_prompt + n_gen + 8, threads, tag=f"tps-{on}", extra_bufts=on)
            for on in (True, False)}
    rec: dict[bool, dict[str, list[float]]] = {on: {"pp": [], "tg": []} for on in llms}
    prompt = list(range(1000, 1000 + n_prompt))
    for _ in range(reps):
        for on, llm in llms.items():
            llm.reset()
            t0 = time.perf_counter()
            llm.eval(prompt)
            t1 = time.perf_counter()
            for _ in range(n_gen):
                tok = int(llm.scores[llm.n_tokens - 1].argmax())
                llm.eval([tok])
            t2 = time.perf_counter()
            rec[on]["pp"].append(n_prompt / (t1 - t0))
            rec[on]["tg"].append(n_gen / (t2 - t1))
    out = {("extra_bufts_on" if on else "extra_bufts_off"): {k: statistics.median(v) for k, v in r.items()}
           for on, r in rec.items()}
    out["ratio_off_vs_on"] = {k: out["extra_bufts_off"][k] / out["extra_bufts_on"][k] for k in ("pp", "tg")}
    out.update(n_prompt=n_prompt, n_gen=n_gen, reps=reps)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="sage-gemma3-270m")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--split", default="test")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--n-prompt", type=int, default=256)
    ap.add_argument("--n-gen", type=int, default=64)
    ap.add_argument("--tps-reps", type=int, default=5)
    ap.add_argument("--skip", default="", help="comma list: plan,tps")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()

    from core.datasets import default_dataset_path, load_dataset
    from core.doctor import check_cpu
    from core.llm.llamacpp import default_threads

    threads = args.threads or default_threads()
    skip = set(filter(None, args.skip.split(",")))
    cpu = check_cpu()
    result: dict = {"cpu": cpu.data, "threads": threads, "model": args.model, "loadavg_start": os.getloadavg()}
    print(cpu.detail, flush=True)
    if "tps" not in skip:
        result["tokens_per_s"] = tps = tokens_per_s(args.model, threads, args.n_prompt, args.n_gen, args.tps_reps)
        print(json.dumps(tps, indent=1), flush=True)
    if "plan" not in skip:
        ds = load_dataset(default_dataset_path("task_planning", args.split), task="task_planning")
        goals = [s["instruction"] for s in ds.samples[: args.limit]]
        result["plan_latency"] = lat = plan_latency(args.model, goals, threads)
        print(json.dumps(lat, indent=1), flush=True)
    result["loadavg_end"] = os.getloadavg()
    out = ROOT / "results" / "bench" / f"engine-{time.strftime('%Y%m%d-%H%M%S')}{args.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
