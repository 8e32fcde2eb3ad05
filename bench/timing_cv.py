"""Honest cross-validated tuning of the timing decider on the validation split + MetaTool Task1.

    .venv/bin/python bench/timing_cv.py --metatool /tmp/mine/metatool                 # shipped default model
    .venv/bin/python bench/timing_cv.py --metatool DIR --model qwen2.5-coder-1.5b --vote-tools 0 --until 12:35
    .venv/bin/python bench/timing_cv.py --metatool DIR --cv-only --write                 # no new LLM scoring
    .venv/bin/python bench/timing_cv.py --metatool DIR --combiner sum --objective balanced --cv-only  # session 3

The fitting and statistics live in core/timing/fit.py, the score cache in core/timing/score_cache.py; this
script scores, prints and writes.

1. Score cache: per sample the selector's top score (the rule's tool_score input), the rule features and
   the LLM true/false margin (core/timing/llm_vote.py `vote_margin`, vote prompt variant `--vote-tools`),
   appended to <cache dir>/<dataset>-<sha>__<model key>__<variant>__<selector>.jsonl (default cache dir: the
   user cache dir's timing-cache/, `--cache-dir` to change), one line per sample as it is scored: an
   interrupted run resumes, a rerun costs nothing. MetaTool is scored in a fixed shuffled order, so a partly
   scored set is a random subset. Rows hold ids, labels and numbers only.
2. 5-fold stratified CV on MetaTool (fixed seed): each fold is tuned on validation + the other 4 folds with the
   selection rules of core/timing/fit.py (rule scale x threshold, class-balanced Platt a, b, hybrid band x
   weight) and predicts the held-out fold; pooled out-of-fold accuracy with Wilson 95% CIs, paired hybrid-rule
   and hybrid-llm differences (normal CI + exact McNemar p), the hybrid's LLM-consult rate, settings per fold.
   Mode "tuned" tunes the rule too; mode "product_rule" keeps TimingConfig's rule (what the product runs).
   2a. `--combiner sum` (session 3): inside the band `logit P_rule - logit t + w * logit P_llm >= 0`, band x w
   chosen by pooled or balanced accuracy (core/timing/fit.py `tune`).
   2b. `--combiner stacked` (default, session 4): inside the band a three-weight logistic combiner of the rule's
   log-odds and the raw LLM margin (core/timing/combiner.py), fitted on the in-band tuning rows with data sets
   and classes balanced. Band selection (`tune_stacked`, objective "minimax", the default): the band in
   {0, 0.05, ..., 1} whose worst data set has the largest margin acc(hybrid) - max(acc(rule), acc(llm)) on the
   tuning rows, i.e. the issue's target written as the objective; ties -> higher mean per-set hybrid accuracy,
   then the smaller band; pooled AUC < 0.6 -> band 0 (never consulted). The LLM alone uses a Platt fit with the
   same balancing. Disclosure: this form was chosen in session 4 after a simulation on the cached scores that
   also printed the test / test_extended numbers of a few variants (fit on all rows vs in-band rows, with or
   without the rule's raw features); the simpler one (rule log-odds + margin, in-band fit) was kept.
3. The setting tuned on validation + all of MetaTool is applied to the timing test splits (never tuned on).
4. `--write` stores that final fit in core/timing/calibration.json (band / weight tuned with the product's
   rule; a tuned rule different from TimingConfig's defaults is reported, never written).
Writes results/bench/timing-cv-<model>-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.timing.fit import (  # noqa: E402
    COMBINERS,
    OBJECTIVES,
    Setting,
    analyze,
    predict,
    tune,
    tune_stacked,
    write_calibration,
)
from core.timing.score_cache import (  # noqa: E402
    cache_path,
    default_cache_dir,
    features_sha,
    fill_cache,
    load_cache,
    merge,
    rule_side,
)

RESULTS = ROOT / "results" / "bench"


# ---- main ------------------------------------------------------------------------------------------------------
def _deadline(until: str | None) -> float | None:
    """`HH:MM` (UTC, today) -> epoch seconds."""
    if not until:
        return None
    from datetime import UTC, datetime

    hh, mm = (int(x) for x in until.split(":"))
    return datetime.now(UTC).replace(hour=hh, minute=mm, second=0, microsecond=0).timestamp()


def _table(title: str, blocks: dict[str, dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for c in ("set", "n", "rule", "llm", "hybrid", "hyb-rule [95% CI] p", "hyb-llm [95% CI] p", "consult"):
        t.add_column(c)

    def acc(x: dict[str, Any]) -> str:
        return f"{x['acc']:.3f} [{x['ci'][0]:.3f},{x['ci'][1]:.3f}]"

    def diff(x: dict[str, Any]) -> str:
        return f"{x['diff']:+.3f} [{x['ci'][0]:+.3f},{x['ci'][1]:+.3f}] {x['p']:.3g}"

    for name, s in blocks.items():
        t.add_row(name, str(s["n"]), acc(s["rule"]), acc(s["llm"]), acc(s["hybrid"]), diff(s["hybrid_minus_rule"]),
                  diff(s["hybrid_minus_llm"]), f"{s['consult_rate']:.2f}")
    Console(width=170).print(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--metatool", required=True, help="folder of `sage-tui data import metatool` (catalog.jsonl, "
                                                       "timing_judgment.jsonl)")
    ap.add_argument("--model", help="preset name or GGUF path (default: the shipped default model)")
    ap.add_argument("--lora", help="GGUF LoRA adapter on top of --model (a path or an adapter name)")
    ap.add_argument("--vote-tools", type=int, default=5, help="tool lines in the vote prompt (5 default, 0 cheapest)")
    ap.add_argument("--selector", default="keyword")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--until", help="stop LLM scoring at HH:MM UTC (the CV then uses the scored subset)")
    ap.add_argument("--score", default="validation,metatool,test,test_extended",
                    help="datasets to score with the LLM, in order")
    ap.add_argument("--limit", type=int, default=0, help="score at most N new samples per dataset (smoke runs)")
    ap.add_argument("--combiner", choices=COMBINERS, default="stacked",
                    help="hybrid inside the band: the fitted three-weight combiner (stacked, 2b) or the log-odds "
                         "sum with a tuned weight (sum, 2a: session 3)")
    ap.add_argument("--objective", choices=OBJECTIVES, default=None,
                    help="band selection: minimax (worst per-set margin over rule and LLM; stacked only), pooled "
                         "accuracy (bench/tune_timing.py) or balanced (mean per data set); default minimax for "
                         "stacked, pooled for sum")
    ap.add_argument("--merge", choices=("auto", "1", "0"), default="auto",
                    help="score with the LoRA merged into the base (1), applied at run time (0), or as the product "
                         "does (auto: core/llm/merge_lora.py merge_default); separate score caches")
    ap.add_argument("--cv-only", action="store_true", help="score nothing; use what the cache holds")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="score cache folder (default: the user cache dir's timing-cache/, regenerable)")
    ap.add_argument("--write", action="store_true", help="store the final fit in core/timing/calibration.json")
    args = ap.parse_args()
    if args.objective is None:
        args.objective = "minimax" if args.combiner == "stacked" else "pooled"
    if args.combiner == "sum" and args.objective == "minimax":
        ap.error("--objective minimax needs --combiner stacked")

    from core.catalog import load_catalog
    from core.datasets import default_dataset_path, load_dataset
    from core.llm.models import resolve_adapter, resolve_model
    from core.planning.registry import make_selector
    from core.timing.decider import TimingConfig
    from core.timing.llm_vote import model_key
    from core.timing.vote_prompt import variant_tag

    resolved = resolve_model(args.model or ("gemma3-270m" if args.lora else None),
                             resolve_adapter(args.lora) if args.lora else None)
    key = model_key(SimpleNamespace(model=resolved))
    from core.llm.merge_lora import merge_default

    merged = bool(resolved.lora) and (merge_default(resolved) if args.merge == "auto" else args.merge == "1")
    score_key = key + ("|merged" if merged else "")  # merged weights score slightly different margins
    mt_dir = Path(args.metatool)
    own_cat = load_catalog()
    mt_cat = load_catalog(mt_dir / "catalog.jsonl")
    sets = {  # label -> (dataset, catalog)
        "validation": (load_dataset(default_dataset_path("timing_judgment", "validation"), task="timing_judgment"),
                       own_cat),
        "metatool": (load_dataset(mt_dir / "timing_judgment.jsonl", task="timing_judgment"), mt_cat),
        "test": (load_dataset(default_dataset_path("timing_judgment", "test"), task="timing_judgment"), own_cat),
        "test_extended": (load_dataset(default_dataset_path("timing_judgment", "test_extended"),
                                       task="timing_judgment"), own_cat),
    }
    cfg = TimingConfig()
    sides, paths, selectors = {}, {}, {}
    for label, (ds, cat) in sets.items():
        cat_id = id(cat)
        if cat_id not in selectors:
            selectors[cat_id] = make_selector(cat, args.selector)
        sides[label] = rule_side(ds.samples, selectors[cat_id], cfg.top_k)
        paths[label] = cache_path(label, ds.sha256, score_key, args.vote_tools, args.selector,
                                  args.cache_dir or default_cache_dir())

    print(f"model {key} vote_tools={args.vote_tools} selector={args.selector} merged={merged}", flush=True)
    if not args.cv_only:
        from core.llm.factory import make_backend
        from core.timing.llm_vote import vote_margin
        from core.timing.vote_prompt import vote_prompt

        backend = make_backend(resolved, isolation="inprocess", cache=False, merge_lora=merged)  # raw llama.cpp handles
        deadline = _deadline(args.until)

        def make_margin_fn(cat: Any) -> Callable[[dict[str, Any], dict[str, Any]], tuple[float | None, int]]:
            def fn(sample: dict[str, Any], side: dict[str, Any]) -> tuple[float | None, int]:
                from core.timing.decider import MAX_MESSAGE_CHARS

                msg = " ".join(sample["message"].split())[:MAX_MESSAGE_CHARS]
                msgs = vote_prompt(msg, sample.get("context") or [], [cat.get(t) for t in side["tools"]],
                                   args.vote_tools)
                llm = backend._llama(backend.slot_for(msgs))
                ntok = len(llm.tokenize(backend.render(msgs).encode("utf-8"), add_bos=True, special=True))
                return vote_margin(backend, msgs), ntok
            return fn

        for label in [x.strip() for x in args.score.split(",") if x.strip()]:
            ds, cat = sets[label]
            fill_cache(label, ds.samples, sides[label], paths[label], margin_fn=make_margin_fn(cat),
                       deadline=deadline, seed=args.seed, limit=args.limit)

    rows = {label: merge(sides[label], load_cache(paths[label]), label) for label in sets}
    product_rule = (cfg.score_scale, cfg.threshold)
    out: dict[str, Any] = {"model": resolved.name, "key": key, "merged_lora": merged, "vote_tools": args.vote_tools,
                           "calibration_key": key + variant_tag(args.vote_tools), "selector": args.selector,
                           "features_sha": features_sha(),
                           "caches": {k: p.name for k, p in paths.items()}}
    res = analyze(rows, k=args.folds, seed=args.seed, product_rule=product_rule,
                  tuner=functools.partial(tune_stacked if args.combiner == "stacked" else tune,
                                          objective=args.objective))
    out["objective"] = args.objective
    out["combiner"] = args.combiner
    out.update(res)
    print("scored: " + ", ".join(f"{k} {v}" for k, v in out["scored"].items()), flush=True)
    if "final" not in res:
        print("not enough scored rows for the CV")
        return
    final, final_product = Setting(**res["final"]["tuned"]), Setting(**res["final"]["product_rule"])
    if (final.scale, final.threshold) != product_rule:
        msg = (f"tuned rule on validation + MetaTool: score_scale={final.scale} threshold={final.threshold} "
               f"(TimingConfig: {cfg.score_scale}, {cfg.threshold}); not changed here")
        out["rule_default_recommendation"] = msg
        print(msg)
    if args.write:
        val = [r for r in rows["validation"] if r["margin"] is not None]
        fitted_on = (f"validation split ({len(val)}) + MetaTool Task1 ({out['scored']['metatool']} scored), "
                     f"bench/timing_cv.py ({args.combiner} combiner, {args.objective} objective); band and "
                     f"combiner tuned with the product rule "
                     f"{product_rule[0]}:{product_rule[1]}")
        val_pred = predict(val, final_product)
        entry = write_calibration(
            key + variant_tag(args.vote_tools), final_product, fitted_on=fitted_on,
            extra={"vote_tools": args.vote_tools, "combiner": final_product.combiner, "scored_merged_lora": merged,
                   "llm_auc_val": round(out["llm_auc"]["validation"], 4),
                   "llm_calibrated_acc_val": round(sum(p["llm"] == p["gold"] for p in val_pred) / len(val), 4),
                   "hybrid_acc_val": round(sum(p["hybrid"] == p["gold"] for p in val_pred) / len(val), 4),
                   "llm_auc_metatool": round(out["llm_auc"]["metatool"], 4),
                   "hybrid_acc_metatool_oof": round(out["cv_product_rule"]["summary"]["hybrid"]["acc"], 4)})
        out["written"] = {"key": key + variant_tag(args.vote_tools), **entry}
        print(f"stored calibration for {key + variant_tag(args.vote_tools)}")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", resolved.name)
    obj = ("" if args.objective == "pooled" else f"-{args.objective}") + \
        ("-stacked" if args.combiner == "stacked" else "")
    p = RESULTS / f"timing-cv-{safe}-tools{args.vote_tools}{obj}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    blocks = out.pop("blocks")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(out, indent=1))
    auc = out["llm_auc"]
    _table(f"{key} vote_tools={args.vote_tools} {args.combiner}/{args.objective}  LLM AUC val {auc['validation']:.3f} MetaTool {auc['metatool']:.3f}",
           blocks)
    for mode in ("tuned", "product_rule"):
        for fd in out[f"cv_{mode}"]["folds"]:
            s = fd["setting"]
            print(f"  {mode} fold {fd['fold']}: scale {s['scale']} thr {s['threshold']} a {s['a']:.3f} b {s['b']:.3f} "
                  f"auc {s['auc']:.3f} band {s['band']} w {s['weight']} comb {s.get('combiner')}  held-out rule {fd['rule_acc']:.3f} "
                  f"llm {fd['llm_acc']:.3f} hybrid {fd['hybrid_acc']:.3f} consult {fd['consult_rate']:.2f}")
    print(f"wrote {p.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
