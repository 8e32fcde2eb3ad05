"""Tune the timing decider on the validation split only (never test files, never MetaTool).

    .venv/bin/python bench/tune_timing.py                       # rule: score scale x threshold grid
    .venv/bin/python bench/tune_timing.py --model sage-gemma3-270m --write
        # + LLM: true/false log-likelihood margin per validation sample -> class-balanced Platt
        #   scaling -> hybrid band x LLM weight sweep; --write stores the model's entry in
        #   core/timing/calibration.json (keyed by model name + LoRA SHA-256)

Selection rules (fixed before looking at any result):
* rule: highest validation accuracy; ties -> the setting closest to the middle of its threshold plateau
  (the run of thresholds with the same best accuracy for that scale), then the default scale 8.
* hybrid: highest validation accuracy of `(logit P_rule - logit threshold) + weight * logit P_llm >= 0`
  inside the band (rule outside it); ties -> the smallest band (fewest LLM calls; the smallest tested
  band, 0.05, still reaches the LLM on real data), then the weight closest to 1 (the calibrated LLM
  log-odds added as they are). The log-loss of each setting is stored for reference. A model whose
  margin has validation AUC < 0.6 is treated as uninformative: band 0, the hybrid never consults it
  (hybrid = rule), because an LLM at chance can only flip the rule's near-threshold decisions at random.
MetaTool Task1 (`sage-tui data import metatool ...`): bench/timing_cv.py tunes on validation + MetaTool
folds with these same selection rules (imported from here) and reports honest out-of-fold accuracy.
Writes bench/results/timing-tuning-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCALES = [4.0, 6.0, 8.0, 12.0, 16.0]
THRESHOLDS = [round(0.4 + 0.025 * i, 3) for i in range(15)]
BANDS = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0]
MIN_AUC = 0.6  # below this validation AUC of the margin the LLM is treated as uninformative (band 0)
WEIGHTS = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0]


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-max(min(z, 30), -30)))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def rule_grid(tops: list[float], feats: list, golds: list[bool]) -> dict[str, float]:
    """Accuracy of every `scale:threshold` of the rule, from each sample's selector top score and features
    (`TimingFeatures` computed with tool_score 0; the score is squashed per scale here)."""
    from dataclasses import replace

    from core.timing.features import logit

    grid: dict[str, float] = {}
    n = max(len(golds), 1)
    for scale in SCALES:
        probs = [_sigmoid(logit(replace(f, tool_score=top / (top + scale) if top > 0 else 0.0)))
                 for f, top in zip(feats, tops, strict=True)]
        for t in THRESHOLDS:
            grid[f"{scale}:{t}"] = sum((p >= t) == g for p, g in zip(probs, golds, strict=True)) / n
    return grid


def pick_rule(grid: dict[str, float]) -> tuple[str, list[str]]:
    """Best `scale:threshold`: highest accuracy; ties -> closest to the middle of its threshold plateau (the
    contiguous run of thresholds with the best accuracy for that scale), then the scale closest to 8."""
    best_acc = max(grid.values())

    def plateau_distance(key: str) -> tuple[float, float]:
        scale, t = key.split(":")
        row = [th for th in THRESHOLDS if abs(grid[f"{scale}:{th}"] - best_acc) < 1e-12]
        i = THRESHOLDS.index(float(t))
        lo = hi = i
        while lo > 0 and THRESHOLDS[lo - 1] in row:
            lo -= 1
        while hi + 1 < len(THRESHOLDS) and THRESHOLDS[hi + 1] in row:
            hi += 1
        mid = (THRESHOLDS[lo] + THRESHOLDS[hi]) / 2
        return abs(float(t) - mid), abs(float(scale) - 8.0)

    ties = [k for k, v in grid.items() if abs(v - best_acc) < 1e-12]
    return min(ties, key=plateau_distance), ties


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
    from core.llm.llamacpp import LlamaCppBackend
    from core.llm.models import resolve_model
    from core.llm.prompts import timing_prompt
    from core.planning.registry import make_selector
    from core.timing.decider import TimingDecider
    from core.timing.llm_vote import model_key, vote_margin

    backend = LlamaCppBackend(resolve_model(model))
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


def hybrid_z(p_rule: float, margin: float, a: float, b: float, threshold: float, weight: float) -> float:
    """The decider's `combine()` inside the band: rounded P_rule and calibrated P_llm, clipped to (0, 1)."""
    eps = 1e-6
    pr = min(max(p_rule, eps), 1 - eps)
    pl = min(max(round(_sigmoid(a * margin + b), 4), eps), 1 - eps)
    t = min(max(threshold, eps), 1 - eps)
    return _logit(pr) - _logit(t) + weight * _logit(pl)


def hybrid_sweep(rows: list[dict], a: float, b: float, threshold: float) -> dict:
    """Accuracy, log-loss and LLM-consult rate of every `band:weight`; rows carry gold, p_rule (rounded as the
    decider stores it), conf_rule, margin and optionally call_rule (the rule's own decision)."""
    lt = _logit(threshold)
    n = max(len(rows), 1)
    out = {}
    for band in BANDS:
        for w in WEIGHTS:
            ok, ll, used = 0, 0.0, 0
            for r in rows:
                if r["conf_rule"] < band:
                    z = hybrid_z(r["p_rule"], r["margin"], a, b, threshold, w)
                    call = z >= 0
                    used += 1
                else:
                    z = _logit(r["p_rule"]) - lt
                    call = r.get("call_rule", z >= 0)
                ok += call == r["gold"]
                p = _sigmoid(z)
                ll -= math.log(max(p if r["gold"] else 1 - p, 1e-9))
            out[f"{band}:{w}"] = {"acc": ok / n, "logloss": ll / n, "llm_rate": used / n}
    return out


def pick_hybrid(sweep: dict[str, dict], auc: float) -> tuple[float, float]:
    """(band, weight): highest accuracy; ties -> the smallest band (fewest LLM calls), then the weight closest
    to 1, then the smaller weight; an LLM with AUC < MIN_AUC on the tuning rows is never consulted (band 0)."""
    if not auc >= MIN_AUC:
        return 0.0, WEIGHTS[0]
    best_acc = max(v["acc"] for v in sweep.values())
    ties = [k for k, v in sweep.items() if v["acc"] >= best_acc - 1e-12]
    best = min(ties, key=lambda k: (float(k.split(":")[0]), abs(math.log(float(k.split(":")[1]))),
                                    float(k.split(":")[1])))
    band, weight = (float(x) for x in best.split(":"))
    return band, weight


def _auc(scores: list[float], labels: list[bool]) -> float:
    pos = [x for x, y in zip(scores, labels, strict=True) if y]
    neg = [x for x, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return float("nan")
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


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
        auc = _auc(margins, labels)
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
    p = ROOT / "bench" / "results" / f"timing-tuning-{time.strftime('%Y%m%d-%H%M%S')}.json"
    p.write_text(json.dumps(out, indent=2))
    print(f"wrote {p}")


if __name__ == "__main__":
    main()
