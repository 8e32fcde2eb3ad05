"""Tune the timing decider on the validation split only (never test files, never MetaTool).

    .venv/bin/python bench/tune_timing.py                       # rule: score scale x threshold grid
    .venv/bin/python bench/tune_timing.py --model sage-gemma3-270m --write
        # + LLM: true/false log-likelihood margin per validation sample -> class-balanced Platt
        #   scaling -> hybrid band x LLM weight sweep; --write stores the model's entry in
        #   core/timing/calibration.json (keyed by model name + LoRA SHA-256)

Selection rules (fixed before looking at any result; the grids and pick functions live in core/timing/fit.py):
* rule: highest validation accuracy; ties -> the setting closest to the middle of its threshold plateau
  (the run of thresholds with the same best accuracy for that scale), then the default scale 8.
* hybrid: highest validation accuracy of `(logit P_rule - logit threshold) + weight * logit P_llm >= 0`
  inside the band (rule outside it); ties -> the smallest band (fewest LLM calls; the smallest tested
  band, 0.05, still reaches the LLM on real data), then the weight closest to 1 (the calibrated LLM
  log-odds added as they are). The log-loss of each setting is stored for reference. A model whose
  margin has validation AUC < 0.6 is treated as uninformative: band 0, the hybrid never consults it
  (hybrid = rule), because an LLM at chance can only flip the rule's near-threshold decisions at random.
MetaTool Task1 (`sage-tui data import metatool ...`): bench/timing_cv.py tunes on validation + MetaTool
folds with these same selection rules and reports honest out-of-fold accuracy.
Writes results/bench/timing-tuning-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.timing.fit import MIN_AUC, hybrid_sweep, margin_auc, pick_hybrid, pick_rule, rule_grid  # noqa: E402


def rule_sweep(catalog, samples) -> dict:
    from core.planning.registry import make_selector
    from core.timing.decider import TimingConfig
    from core.timing.features import extract_features

    sel = make_selector(catalog)
    tops, feats = [], []
    for s in samples:
        msg = " ".join(s["message"].split())
        r = sel.select(msg, top_k=1)
        tops.append(max(r[0].score, 0.0) if r else 0.0)
        feats.append(extract_features(msg, s.get("context") or [], 0.0))
    grid = rule_grid(tops, feats, [bool(s["gold"]["should_call_tool"]) for s in samples])
    best, ties = pick_rule(grid)
    d = TimingConfig()
    return {"n": len(samples), "best": best, "best_acc": grid[best], "ties": ties,
            "default": f"{d.score_scale}:{d.threshold}", "default_acc": grid.get(f"{d.score_scale}:{d.threshold}"),
            "grid": grid}


def collect(catalog, samples, model: str) -> tuple[list[dict], str, float]:
    """Rule P and LLM margin per sample (one scoring per sample, the decider's own prompt)."""
    from core.llm.factory import make_backend
    from core.llm.models import resolve_model
    from core.llm.prompts import timing_prompt
    from core.planning.registry import make_selector
    from core.timing.decider import TimingDecider
    from core.timing.llm_vote import model_key, vote_margin

    backend = make_backend(resolve_model(model), isolation="inprocess", cache=False)
    dec = TimingDecider("rule", catalog, selector=make_selector(catalog))
    rows = []
    t0 = time.perf_counter()
    for i, s in enumerate(samples):
        msg = " ".join(s["message"].split())
        ranked = dec._ranked(msg)
        rule = dec.rule(msg, s.get("context") or [], ranked)
        tools = [catalog.get(r.tool_id) for r in ranked]
        m = vote_margin(backend, timing_prompt(msg, s.get("context") or [], tools))
        rows.append({"id": s["id"], "gold": bool(s["gold"]["should_call_tool"]), "p_rule": rule.probability,
                     "conf_rule": rule.confidence, "margin": m})
        if i % 25 == 0:
            print(f"  {i}/{len(samples)} {time.perf_counter() - t0:.0f}s", flush=True)
    return rows, model_key(backend), (time.perf_counter() - t0) / max(len(samples), 1)


def _rule_side(catalog, ds, sample_id: str) -> dict:
    from core.planning.registry import make_selector
    from core.timing.decider import TimingDecider

    global _RULE
    if _RULE is None:
        _RULE = TimingDecider("rule", catalog, selector=make_selector(catalog))
    s = next(x for x in ds.samples if x["id"] == sample_id)
    msg = " ".join(s["message"].split())
    r = _RULE.rule(msg, s.get("context") or [], _RULE._ranked(msg))
    return {"p_rule": r.probability, "conf_rule": r.confidence}


_RULE = None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="also calibrate this model's LLM vote (preset name or GGUF path)")
    ap.add_argument("--limit", type=int, default=0, help="validation samples for the LLM part (0: all)")
    ap.add_argument("--rows", help="reuse the LLM margins stored in an earlier timing-tuning JSON")
    ap.add_argument("--write", action="store_true", help="store the model's calibration in core/timing/calibration.json")
    args = ap.parse_args()
    from core.catalog import load_catalog
    from core.datasets import default_dataset_path, load_dataset
    from core.timing.decider import TimingConfig
    from core.timing.llm_vote import Calibration, fit_platt, save_calibration

    catalog = load_catalog()
    ds = load_dataset(default_dataset_path("timing_judgment", "validation"), task="timing_judgment")
    out: dict = {"split": "validation", "load_start": os.getloadavg()}
    out["rule"] = r = rule_sweep(catalog, ds.samples)
    print(f"rule: n={r['n']} best scale:threshold={r['best']} acc={r['best_acc']:.3f} (ties {len(r['ties'])}); "
          f"default {r['default']} acc={r['default_acc']}")
    if args.model:
        samples = ds.samples[: args.limit] if args.limit else ds.samples
        if args.rows:  # reuse the per-sample rule P / LLM margins of an earlier run of this script
            prev = json.loads(Path(args.rows).read_text())["llm"]
            rows, key, secs = prev["rows"], prev["key"], prev["s_per_decision"]
            for x in rows:  # the rule may have changed since: recompute its side
                x.update(_rule_side(catalog, ds, x["id"]))
        else:
            rows, key, secs = collect(catalog, samples, args.model)
        margins = [x["margin"] for x in rows]
        labels = [x["gold"] for x in rows]
        a, b = fit_platt(margins, labels)
        raw_acc = sum((m > 0) == g for m, g in zip(margins, labels, strict=True)) / len(rows)
        cal_acc = sum(((a * m + b) >= 0) == g for m, g in zip(margins, labels, strict=True)) / len(rows)
        cfg = TimingConfig()
        sweep = hybrid_sweep(rows, a, b, cfg.threshold)
        rule_acc = sum((x["p_rule"] >= cfg.threshold) == x["gold"] for x in rows) / len(rows)
        auc = margin_auc(margins, labels)
        band, weight = pick_hybrid(sweep, auc)  # ties -> fewest LLM calls, then the weight closest to 1
        best = f"{band}:{weight}"
        if not auc >= MIN_AUC:  # no validated signal: never consult it (hybrid = rule)
            print(f"LLM AUC {auc:.3f} < {MIN_AUC} on validation: band 0 (the hybrid never consults this model)")
        print(f"{key}: n={len(rows)} {secs:.2f} s/decision; LLM raw (margin>0) acc={raw_acc:.3f}, calibrated "
              f"a={a:.3f} b={b:.3f} acc={cal_acc:.3f} AUC={auc:.3f}; rule acc={rule_acc:.3f}; hybrid best band:weight={best} "
              f"acc={sweep[best]['acc'] if best in sweep else rule_acc:.3f} "
              f"llm_rate={sweep[best]['llm_rate'] if best in sweep else 0.0:.2f}")
        out["llm"] = {"model": args.model, "key": key, "n": len(rows), "s_per_decision": secs, "a": a, "b": b,
                      "llm_raw_acc": raw_acc, "llm_calibrated_acc": cal_acc, "llm_auc": auc, "rule_acc": rule_acc,
                      "hybrid_best": best, "hybrid": sweep, "rows": rows}
        if args.write:
            save_calibration(Calibration(a, b, key, f"validation split ({len(rows)} samples), bench/tune_timing.py",
                                         len(rows)),
                             extra={"band": band, "llm_weight": weight, "llm_calibrated_acc_val": round(cal_acc, 4),
                                    "llm_auc_val": round(auc, 4),
                                    "hybrid_acc_val": round(sweep[best]["acc"] if best in sweep else rule_acc, 4),
                                    "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            print(f"stored calibration for {key}")
    out["load_end"] = os.getloadavg()
    p = ROOT / "results" / "bench" / f"timing-tuning-{time.strftime('%Y%m%d-%H%M%S')}.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(out, indent=2))
    print(f"wrote {p}")


if __name__ == "__main__":
    main()
