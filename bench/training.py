"""Training-step throughput and the cost of one compare cell of a tier.

    nice -n 10 .venv/bin/python bench/training.py [--base bundled-gemma3-270m] [--steps 3]
        tokens/s of a training step with logits at every position vs only at supervised positions (same batches)
    nice -n 10 .venv/bin/python bench/training.py --tier medium_cpu [--steps 3] [--items 3] [--out FILE]
        per-item costs on the tier's real data (training step, base-model loss scoring, each evaluation kind,
        GGUF export, a plan through llama.cpp vs HF generate), wall and process CPU seconds (CPU seconds / threads
        approximates the wall time on a quiet box), the pool's token statistics, and the estimated seconds of
        every method's cell and of the whole `--seeds 3` comparison. Writes results/bench/tier-<preset>-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# this file is named like the `training` package: run from the project root, not from bench/
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def synthetic_dialogs(n: int) -> list[dict]:
    out = []
    for i in range(n):
        out.append(
            {
                "id": f"b{i}",
                "task": "tool_selection",
                "messages": [
                    {"role": "system", "content": "You are an agent. Choose the best tool for the request from the list."},
                    {
                        "role": "user",
                        "content": f"Request {i}: find flights from Berlin to Rome next week and compare prices. "
                        "Tools: flight_search, hotel_booking, currency_convert, weather_forecast, calendar_add.",
                    },
                    {"role": "assistant", "content": '{"tool": "flight_search"}'},
                ],
            }
        )
    return out


class Clock:
    """Wall and CPU seconds (this process and its reaped children, e.g. the llama.cpp engine child)."""

    def __enter__(self) -> Clock:
        self.w0, self.c0 = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w0, self._cpu() - self.c0

    @staticmethod
    def _cpu() -> float:
        import resource

        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _per(clock: Clock, n: int) -> dict[str, float]:
    return {"wall_s": clock.wall / n, "cpu_s": clock.cpu / n, "n": n}


def tier_costs(preset: str, steps: int, items: int) -> dict:
    """Measure the per-item costs of one compare cell of `preset` and estimate every method's cell."""
    import os
    import statistics

    import torch

    from core.catalog import load_catalog_cached
    from training.base_models import resolve_base_model
    from training.config import load_config
    from training.evaluate import (
        LlamaPlanGenerator,
        ModelScorer,
        _load,
        eval_plan_scored,
        eval_planning,
        eval_selection,
        eval_timing,
    )
    from training.formatting import encode_all
    from training.pipeline import export_gguf, load_training_samples

    cfg = load_config(preset)
    threads = cfg.train.threads or torch.get_num_threads()
    out: dict = {"preset": preset, "threads": threads, "load_avg_start": os.getloadavg()}
    from training.trainer import AgentSFTTrainer

    tr = AgentSFTTrainer(cfg, "/tmp/bench-tier", log=lambda s: None)
    with Clock() as c:
        tr.setup(resolve_base_model(cfg.model.base), reuse_base=True)
    out["setup"] = _per(c, 1)
    with Clock() as c:
        tr.setup(resolve_base_model(cfg.model.base), reuse_base=True)  # later methods: a copy of the kept base
    out["setup_reused"] = _per(c, 1)
    samples, _, _ = load_training_samples(cfg)
    with Clock() as c:
        enc = encode_all(samples, tr.tokenizer, max_len=cfg.model.max_seq_len, chat_format=cfg.model.chat_format)
    lens = sorted(len(e.input_ids) for e in enc)
    sup = [e.n_supervised for e in enc]
    out["pool"] = {"samples": len(samples), "encoded": len(enc), "dropped_over_max_len": len(samples) - len(enc),
                   "max_seq_len": cfg.model.max_seq_len, "tokens_mean": statistics.fmean(lens), "tokens_max": lens[-1],
                   "tokens_p90": lens[int(0.9 * (len(lens) - 1))], "supervised_mean": statistics.fmean(sup),
                   "supervised_share": sum(sup) / sum(lens), "encode_s": c.wall,
                   "by_task_tokens_mean": {t: statistics.fmean(len(e.input_ids) for e in enc if e.task == t)
                                           for t in sorted({e.task for e in enc})}}
    # training steps on batches as the trainer forms them (length-grouped, seeded)
    tr.plan(len(enc))
    with Clock() as c:
        tr.train(enc, max_steps=steps)
    tok_step = tr.state.tokens_seen / max(1, tr.state.step)
    out["train_step"] = {**_per(c, steps), "tokens_per_step": tok_step}
    # the levers: logits only at supervised positions (vs every position), on the same real batch
    from training.formatting import collate
    from training.loss import full_logits_loss, supervised_loss

    batch = collate(enc[: cfg.train.batch_size], tr.tokenizer.pad_token_id)
    lever = {}
    for name, fn in (("supervised_logits", supervised_loss), ("full_logits", full_logits_loss)):
        with Clock() as c:
            fn(tr.model, batch).backward()
            tr.optimizer.zero_grad(set_to_none=True)
        lever[name] = _per(c, 1)
    out["lever_logits"] = lever
    with Clock() as c:
        tr.per_sample_losses(enc[: 2 * items], batch_size=cfg.coreset.score_batch_size)
    out["base_loss_per_sample"] = _per(c, 2 * items)
    # evaluation, one item at a time as the evaluator does
    catalog = load_catalog_cached()
    from core.planning.registry import make_selector

    selector = make_selector(catalog, "keyword")
    scorer = ModelScorer(tr.model, tr.tokenizer, tr.device, cfg.model.chat_format)
    e = cfg.eval
    split = {"tool_selection": e.selection_split, "timing_judgment": e.timing_split,
             "task_planning": e.planning_split}

    def rows(task: str) -> list[dict]:
        return _load(task, split[task] or e.split, items)

    # the prefix-cache lever: share of each scored prompt that is the family's common token prefix
    from core.llm.prompts import timing_prompt
    from training.evaluate import planning_prompt

    def shared(prompts: list[list[int]]) -> float:
        n = min(len(p) for p in prompts)
        k = next((i for i in range(n) if len({p[i] for p in prompts}) > 1), n)
        return k / statistics.fmean(len(p) for p in prompts)

    tim_rows, plan_rows = _load("timing_judgment", e.timing_split or e.split, 20), _load("task_planning", e.planning_split or e.split, 20)
    tim_ids = [scorer.prompt_ids(timing_prompt(r["message"], [m for m in r.get("context") or [] if m.get("role") != "system"],
                                               [catalog.get(x.tool_id) for x in selector.select(r["message"], top_k=5)]))
               for r in tim_rows]
    from core.llm.prompts import steps_target

    plan_ids = [scorer.prompt_ids(planning_prompt(r, catalog)) + tr.tokenizer(steps_target(r["gold"]["steps"]) + scorer.end,
                                                                             add_special_tokens=False)["input_ids"]
                for r in plan_rows]
    out["prefix_share"] = {"eval_timing": shared(tim_ids), "eval_plan_scored": shared(plan_ids),
                           "timing_tokens_mean": statistics.fmean(map(len, tim_ids)),
                           "plan_scored_tokens_mean": statistics.fmean(map(len, plan_ids))}
    for name, task, fn in (
        ("eval_selection", "tool_selection", lambda s: eval_selection(scorer, s, catalog, s.get("candidate_tools") or [])),
        ("eval_timing", "timing_judgment", lambda s: eval_timing(scorer, s, catalog, selector)),
        ("eval_plan_scored", "task_planning", lambda s: eval_plan_scored(scorer, s, catalog)),
    ):
        rs = rows(task)
        with Clock() as c:
            for r in rs:
                fn(r)
        out[name] = _per(c, len(rs))
    adapter = tr.save_adapter("/tmp/bench-tier/adapter")
    with Clock() as c:
        gguf = export_gguf(cfg, adapter)
    out["export_gguf"] = _per(c, 1)
    plans = rows("task_planning")
    gen = LlamaPlanGenerator(gguf, catalog, planner=e.planner, max_tokens=e.max_new_tokens, threads=threads)
    toks = []
    with Clock() as c:
        for r in plans:
            toks.append(gen(r, catalog).get("completion_tokens", 0))
        gen.close()
    out["plan_llamacpp"] = {**_per(c, len(plans)), "completion_tokens": toks,
                            "note": "the adapter after a few steps; a trained one stops earlier (fewer tokens)"}
    with Clock() as c:
        eval_planning(scorer, plans[0], catalog, e.max_new_tokens)
    out["plan_hf_generate"] = _per(c, 1)
    out["load_avg_end"] = os.getloadavg()
    out["estimate"] = estimate(cfg, out, threads)
    return out


def reestimate(path: str) -> dict:
    """The estimate of a saved `--tier` result again (after QUIET_REF or the formula changed)."""
    from training.config import load_config

    res = json.loads(Path(path).read_text())
    res["estimate"] = estimate(load_config(res["preset"]), res, res["threads"])
    Path(path).write_text(json.dumps(res, indent=1))
    return res["estimate"]


# per-item wall seconds measured on this 2-core box when it was quiet (session 3, docs/TRAINING.md "Profile of one
# quick method"): a training step per 1,000 tokens (6.5 s at ~1,470 tokens), one evaluation item of each kind, the
# base-model loss of one sample, one llama.cpp plan of the shipped adapter; GGUF export and setup of a copied base
# scaled from this run's loaded measurements by the same ~10x load factor the other items show
QUIET_REF = {"train_step_per_1k_tokens": 6.5 / 1.47, "eval_selection": 1.7, "eval_timing": 0.9, "eval_plan_scored": 2.5,
             "plan_llamacpp": 2.5, "plan_hf_generate": 27.0, "base_loss_per_sample": 0.75, "export_gguf": 4.0,
             "setup_reused": 1.0, "setup": 10.0}


def estimate(cfg, m: dict, threads: int) -> dict:  # noqa: ANN001 - training.config.Config
    """Seconds per method's cell from the per-item costs: `as_measured_s` (this run's wall seconds, under whatever
    load the box had), `quiet_reference_s` (QUIET_REF: the same items measured on the quiet box), and
    `cpu_over_threads_s` (process CPU seconds / threads; inflated under contention by spinning OpenMP threads)."""
    import math

    n = m["pool"]["encoded"]
    bs, ratio, budget = cfg.train.batch_size, cfg.continual.replay_ratio, cfg.coreset.budget
    k = int(round(budget * n)) if budget < 1 else int(budget)
    per_task = n / 4
    chunks = 4

    def cont_steps(pool: int) -> int:  # 4 chunks; chunks 2..4 mixed with replay_ratio replayed samples
        c = pool / chunks
        return sum(math.ceil((c + (ratio * c if i else 0)) / bs) for i in range(chunks))

    steps = {"A": math.ceil(n / bs), "B1": math.ceil(k / bs), "B2": math.ceil(k / bs), "B3": math.ceil(k / bs),
             "C": cont_steps(n), "D": cont_steps(k), "R": math.ceil(k / bs)}
    e = cfg.eval
    n_eval = {"eval_selection": e.tool_selection, "eval_timing": e.timing_judgment, "eval_plan_scored": e.plan_scored}
    plan_key = "plan_llamacpp" if e.plan_backend in ("llamacpp", "auto") else "plan_hf_generate"
    # continual: after each chunk, token accuracy on the validation rows of every chunk seen (12 each): ~ scored items
    chunk_evals = sum(range(1, chunks + 1)) * 12
    out = {}
    tok_step = m["train_step"]["tokens_per_step"]
    quiet = {k: {"wall_s": v} for k, v in QUIET_REF.items()}
    quiet["train_step"] = {"wall_s": QUIET_REF["train_step_per_1k_tokens"] * tok_step / 1000}
    if e.prefix_cache:  # only the tokens after the shared prefix are run (measured share of the prompt + answer)
        share = m.get("prefix_share") or {"eval_timing": 120 / 297, "eval_plan_scored": 219 / 714}
        for key in ("eval_timing", "eval_plan_scored"):
            quiet[key] = {"wall_s": QUIET_REF[key] * (1 - share[key])}
    for kind, f in (("quiet_reference_s", lambda x: x["wall_s"]), ("cpu_over_threads_s", lambda x: x["cpu_s"] / threads),
                    ("as_measured_s", lambda x: x["wall_s"])):
        src = quiet if kind == "quiet_reference_s" else m
        evals = sum(f(src[k]) * v for k, v in n_eval.items()) + f(src[plan_key]) * max(0, e.task_planning) + f(src["export_gguf"])
        cells = {}
        for meth, st in steps.items():
            t = f(src["setup_reused"]) + st * f(src["train_step"]) + evals
            if meth in ("C", "D"):  # trainer.token_accuracy (no prefix cache); validation rows ~ half a plan prompt
                item = QUIET_REF["eval_plan_scored"] if kind == "quiet_reference_s" else f(m["eval_plan_scored"])
                t += chunk_evals * item * 0.5
            cells[meth] = round(t)
        # base-model losses of the pool: scored once (the first of B1/B3/D), then from the disk cache for every seed
        once = f(src["setup"]) + f(src["base_loss_per_sample"]) * n
        total = 3 * sum(cells.values()) + once
        out[kind] = {"cells": cells, "one_seed_s": round(sum(cells.values()) + once), "once_s": round(once),
                     "eval_per_cell_s": round(evals), "three_seeds_h": round(total / 3600, 2)}
    out["steps"] = steps
    out["per_task_pool"] = per_task
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="bundled-gemma3-270m")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tier", default="", help="a compare preset (medium_cpu, quick_cpu): measure one cell's costs")
    ap.add_argument("--items", type=int, default=3, help="--tier: evaluation items per kind")
    ap.add_argument("--out", default="", help="--tier: JSON output (default results/bench/tier-<preset>-<time>.json)")
    ap.add_argument("--reestimate", default="", help="recompute the estimate of a saved --tier JSON file")
    args = ap.parse_args()
    if args.reestimate:
        print(json.dumps(reestimate(args.reestimate), indent=1))
        return
    if args.tier:
        res = tier_costs(args.tier, args.steps, args.items)
        path = Path(args.out or f"results/bench/tier-{args.tier}-{time.strftime('%Y%m%d-%H%M%S')}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(res, indent=1))
        print(json.dumps(res["estimate"], indent=1))
        print(path)
        return
    import torch

    from training.base_models import resolve_base_model
    from training.config import config_from_dict
    from training.formatting import collate, encode_all
    from training.loss import full_logits_loss, supervised_loss
    from training.trainer import AgentSFTTrainer

    torch.set_num_threads(args.threads)
    cfg = config_from_dict({"model": {"base": args.base}, "train": {"batch_size": args.batch}})
    tr = AgentSFTTrainer(cfg, "/tmp/bench-training", log=lambda s: None)
    tr.setup(resolve_base_model(args.base))
    data = encode_all(synthetic_dialogs(args.batch * args.steps), tr.tokenizer, max_len=256)
    pad = tr.tokenizer.pad_token_id
    batches = [collate(data[i : i + args.batch], pad) for i in range(0, len(data), args.batch)]
    res = {}
    for name, fn in (("full_logits", full_logits_loss), ("supervised_logits", supervised_loss)):
        fn(tr.model, batches[0]).backward()  # warm-up
        tr.optimizer.zero_grad()
        tokens, t0 = 0, time.perf_counter()
        for b in batches:
            fn(tr.model, b).backward()
            tr.optimizer.zero_grad()
            tokens += int(b["attention_mask"].sum())
        dt = time.perf_counter() - t0
        res[name] = {"tokens_per_second": tokens / dt, "seconds_per_step": dt / len(batches)}
    a, b = tr.model, batches[0]
    diff = abs(float(full_logits_loss(a, b)) - float(supervised_loss(a, b)))
    res["speedup"] = res["supervised_logits"]["tokens_per_second"] / res["full_logits"]["tokens_per_second"]
    res["loss_abs_diff"] = diff
    res["tokens_per_batch"] = int(batches[0]["attention_mask"].sum())
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
