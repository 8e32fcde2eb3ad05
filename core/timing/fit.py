"""Fitting the timing decider's rule, LLM calibration and hybrid band from scored rows, and the honest
cross-validation of that fit (what core/timing/calibration.json holds; bench/timing_cv.py and
bench/tune_timing.py are the drivers that score, print and write).

A row is one timing sample: `id`, `gold`, the selector's top score `top`, the rule's boolean `features`, the
LLM's true/false `margin` and its data set `source` (core/timing/score_cache.py builds them).

Selection rules (fixed before looking at any result):
* rule: highest accuracy over the scale x threshold grid; ties -> the setting closest to the middle of its
  threshold plateau (the run of thresholds with the same best accuracy for that scale), then the scale
  closest to 8 (`rule_grid`, `pick_rule`).
* log-odds sum hybrid (`tune`): highest accuracy of `(logit P_rule - logit threshold) + weight * logit P_llm
  >= 0` inside the band (rule outside it); ties -> the smallest band (fewest LLM calls), then the weight
  closest to 1. A margin with AUC < MIN_AUC is uninformative: band 0, the hybrid never consults it.
* stacked hybrid (`tune_stacked`, the default): inside the band a three-weight logistic combiner of the rule's
  log-odds and the raw LLM margin (core/timing/combiner.py), fitted on the in-band tuning rows with data sets
  and classes balanced; the band in {0, 0.05, ..., 1} whose worst data set has the largest margin
  acc(hybrid) - max(acc(rule), acc(llm)) wins ("minimax"); ties -> higher mean per-set hybrid accuracy, then
  the smaller band; pooled AUC < MIN_AUC -> band 0.
* `cross_validate` / `analyze`: stratified k-fold CV on MetaTool, each fold tuned on validation + the other
  folds; pooled out-of-fold accuracy with Wilson 95 % CIs, paired differences with a normal CI and an exact
  McNemar p (core/metrics/stats.py).

Pure Python; only `write_calibration` writes a file.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.metrics.stats import mcnemar_p, mean_ci, wilson

SCALES = [4.0, 6.0, 8.0, 12.0, 16.0]
THRESHOLDS = [round(0.4 + 0.025 * i, 3) for i in range(15)]
BANDS = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0]
MIN_AUC = 0.6  # below this AUC of the margin on the tuning rows the LLM is treated as uninformative (band 0)
WEIGHTS = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0]
STACKED_BANDS = [0.0, *BANDS]
STRATEGIES = ("rule", "llm", "hybrid")
OBJECTIVES = ("pooled", "balanced", "minimax")
COMBINERS = ("sum", "stacked")


# ---- grids and selection rules -------------------------------------------------------------------------------
def sigmoid(z: float) -> float:
    """Logistic function, argument clipped to [-30, 30]."""
    return 1 / (1 + math.exp(-max(min(z, 30), -30)))


def prob_logit(p: float) -> float:
    """log(p / (1 - p)) with p clipped to [1e-6, 1 - 1e-6]."""
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
        probs = [sigmoid(logit(replace(f, tool_score=top / (top + scale) if top > 0 else 0.0)))
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


def hybrid_z(p_rule: float, margin: float, a: float, b: float, threshold: float, weight: float) -> float:
    """The decider's `combine()` inside the band: rounded P_rule and calibrated P_llm, clipped to (0, 1)."""
    eps = 1e-6
    pr = min(max(p_rule, eps), 1 - eps)
    pl = min(max(round(sigmoid(a * margin + b), 4), eps), 1 - eps)
    t = min(max(threshold, eps), 1 - eps)
    return prob_logit(pr) - prob_logit(t) + weight * prob_logit(pl)


def hybrid_sweep(rows: list[dict], a: float, b: float, threshold: float) -> dict:
    """Accuracy, log-loss and LLM-consult rate of every `band:weight`; rows carry gold, p_rule (rounded as the
    decider stores it), conf_rule, margin and optionally call_rule (the rule's own decision)."""
    lt = prob_logit(threshold)
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
                    z = prob_logit(r["p_rule"]) - lt
                    call = r.get("call_rule", z >= 0)
                ok += call == r["gold"]
                p = sigmoid(z)
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


def margin_auc(scores: list[float], labels: list[bool]) -> float:
    """ROC AUC of `scores` for `labels` (ties count half); nan without both classes."""
    pos = [x for x, y in zip(scores, labels, strict=True) if y]
    neg = [x for x, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return float("nan")
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


# ---- tuning and prediction -----------------------------------------------------------------------------------
@dataclass
class Setting:
    """One tuned timing configuration (what a fold's tuner chose)."""

    scale: float
    threshold: float
    a: float
    b: float
    auc: float
    band: float
    weight: float
    n: int = 0
    tuned_rule_acc: float = 0.0
    tuned_hybrid_acc: float = 0.0
    combiner: dict[str, float] | None = None  # stacked tuner: the in-band combiner (core/timing/combiner.py)
    objective_margin: float | None = None  # minimax: worst per-set hybrid - max(rule, llm) on the tuning rows

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _features(row: dict[str, Any], scale: float) -> Any:
    from core.timing.features import TimingFeatures

    top = row["top"]
    return TimingFeatures(**row["features"], tool_score=top / (top + scale) if top > 0 else 0.0)


def rule_eval(row: dict[str, Any], scale: float, threshold: float) -> tuple[bool, float, float]:
    """(call, rounded P, rounded confidence) exactly as TimingDecider.rule computes them."""
    from core.timing.features import logit

    p = sigmoid(logit(_features(row, scale)))
    call = p >= threshold
    t = threshold
    conf = abs(p - t) / (t if not call else 1 - t) if 0 < t < 1 else 1.0
    return call, round(p, 4), round(min(conf, 1.0), 4)


def _groups(rows: Sequence[dict[str, Any]], objective: str) -> list[list[dict[str, Any]]]:
    """pooled: one group (accuracy over all rows); balanced: one group per `source`
    (validation, metatool), so each data set weighs the same in the selection whatever its size."""
    if objective == "pooled":
        return [list(rows)]
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r.get("source", ""), []).append(r)
    return list(by.values())


def _mean_dicts(ds: list[dict[str, Any]]) -> dict[str, Any]:
    """Element-wise mean of grids / sweeps with the same keys (nested dicts of numbers too)."""
    out: dict[str, Any] = {}
    for k, v in ds[0].items():
        if isinstance(v, dict):
            out[k] = {f: sum(d[k][f] for d in ds) / len(ds) for f in v}
        else:
            out[k] = sum(d[k] for d in ds) / len(ds)
    return out


def tune_rule(groups: Sequence[Sequence[dict[str, Any]]]) -> tuple[float, float]:
    """(score scale, threshold) of the rule: `rule_grid`, averaged over the groups, and `pick_rule`'s pick."""
    grid = _mean_dicts([rule_grid([r["top"] for r in g], [_features(r, 1.0) for r in g],
                                     [r["gold"] for r in g]) for g in groups])
    best, _ = pick_rule(grid)
    scale, threshold = (float(x) for x in best.split(":"))
    return scale, threshold


def tune(rows: Sequence[dict[str, Any]], rule: tuple[float, float] | None = None,
         objective: str = "pooled") -> Setting:
    """The log-odds-sum selection rules on `rows` (all with a margin): rule scale x threshold (unless
    `rule` fixes it), class-balanced Platt of the margin, hybrid band x weight with that rule. `objective`
    "balanced" averages the accuracy of each source instead of pooling the rows (same grids and tie rules)."""
    from core.timing.llm_vote import fit_platt

    if objective not in ("pooled", "balanced"):
        raise ValueError("the log-odds-sum tuner takes objective pooled or balanced (minimax: tune_stacked)")
    groups = _groups(rows, objective)
    golds = [r["gold"] for r in rows]
    scale, threshold = rule if rule is not None else tune_rule(groups)
    margins = [r["margin"] for r in rows]
    a, b = fit_platt(margins, golds)
    auc = margin_auc(margins, golds)

    def hrows(g: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for r in g:
            call, p, conf = rule_eval(r, scale, threshold)
            out.append({"gold": r["gold"], "p_rule": p, "conf_rule": conf, "margin": r["margin"], "call_rule": call})
        return out

    hg = [hrows(g) for g in groups]
    sweep = _mean_dicts([hybrid_sweep(h, a, b, threshold) for h in hg])
    band, weight = pick_hybrid(sweep, auc)
    rule_acc = sum(sum(h["call_rule"] == h["gold"] for h in g) / max(len(g), 1) for g in hg) / len(hg)
    hyb_acc = sweep.get(f"{band}:{weight}", {"acc": rule_acc})["acc"]
    return Setting(scale, threshold, a, b, auc, band, weight, len(rows), rule_acc, hyb_acc)


def rule_logodds(p_rounded: float, threshold: float) -> float:
    """logit P_rule - logit threshold, from the rounded P the decider stores (as `TimingDecider.combine`)."""
    eps = 1e-6
    pr = min(max(p_rounded, eps), 1 - eps)
    t = min(max(threshold, eps), 1 - eps)
    return math.log(pr / (1 - pr)) - math.log(t / (1 - t))


def tune_stacked(rows: Sequence[dict[str, Any]], rule: tuple[float, float] | None = None,
                 objective: str = "minimax") -> Setting:
    """The stacked hybrid's selection rules (fixed before its CV was run; see the module docstring).

    Platt a, b of the margin with data sets and classes balanced; an LLM whose margin has pooled AUC < MIN_AUC
    on the tuning rows is never consulted (band 0). Otherwise, for every band in STACKED_BANDS, the combiner is
    fitted on the rows inside the band (data sets and classes balanced) and every tuning data set is scored;
    the band with the largest worst-case margin min over sets of acc(hybrid) - max(acc(rule), acc(llm)) wins
    ("minimax"; "balanced" / "pooled" maximise the mean per-set / pooled hybrid accuracy instead); ties -> the
    higher mean per-set hybrid accuracy, then the smaller band (fewer LLM calls)."""
    from core.timing.combiner import fit_combiner, fit_logistic, group_weights

    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}")
    sets = _groups(rows, "balanced")
    golds = [r["gold"] for r in rows]
    sources = [r.get("source", "") for r in rows]
    scale, threshold = rule if rule is not None else tune_rule(sets)
    margins = [r["margin"] for r in rows]
    pa, pb = fit_logistic([[m] for m in margins], golds, group_weights(golds, sources), l2=1e-3)
    auc = margin_auc(margins, golds)
    ev = []
    for r in rows:
        call, p, conf = rule_eval(r, scale, threshold)
        ev.append({"src": r.get("source", ""), "gold": r["gold"], "rule": call, "conf": conf,
                   "lo": rule_logodds(p, threshold), "m": r["margin"],
                   "llm": sigmoid(pa * r["margin"] + pb) >= 0.5})
    by_src: dict[str, list[int]] = {}
    for i, e in enumerate(ev):
        by_src.setdefault(e["src"], []).append(i)

    def acc(idx: list[int], pred: Sequence[bool]) -> float:
        return sum(pred[i] == ev[i]["gold"] for i in idx) / max(len(idx), 1)

    rule_pred = [e["rule"] for e in ev]
    llm_pred = [e["llm"] for e in ev]
    best_key, best = None, (0.0, None, 0.0)
    for band in (STACKED_BANDS if auc >= MIN_AUC else [0.0]):
        inside = [i for i, e in enumerate(ev) if e["conf"] < band]
        comb = fit_combiner([ev[i]["lo"] for i in inside], [ev[i]["m"] for i in inside],
                            [ev[i]["gold"] for i in inside], [ev[i]["src"] for i in inside]) if inside else None
        hyb = list(rule_pred)
        for i in inside:
            hyb[i] = comb.z(ev[i]["lo"], ev[i]["m"]) >= 0
        per = {s: acc(idx, hyb) for s, idx in by_src.items()}
        worst = min(per[s] - max(acc(idx, rule_pred), acc(idx, llm_pred)) for s, idx in by_src.items())
        mean = sum(per.values()) / len(per)
        pooled = acc(list(range(len(ev))), hyb)
        head = {"minimax": worst, "balanced": mean, "pooled": pooled}[objective]
        key = (round(head, 9), round(mean, 9), -band)
        if best_key is None or key > best_key:
            best_key, best = key, (band, comb, worst)
    band, comb, worst = best
    rule_acc = sum(acc(idx, rule_pred) for idx in by_src.values()) / len(by_src)
    return Setting(scale, threshold, pa, pb, auc, band, 1.0, len(rows), rule_acc,
                   best_key[1] if best_key else rule_acc, comb.to_dict() if comb is not None else None,
                   round(worst, 6))


def predict(rows: Sequence[dict[str, Any]], st: Setting) -> list[dict[str, Any]]:
    """rule / llm (calibrated P >= 0.5) / hybrid decisions per row, as the decider would make them."""
    out = []
    for r in rows:
        call, p, conf = rule_eval(r, st.scale, st.threshold)
        llm = sigmoid(st.a * r["margin"] + st.b) >= 0.5
        used = conf < st.band
        if used and st.combiner is not None:
            from core.timing.combiner import Combiner

            hyb = Combiner.from_dict(st.combiner).z(rule_logodds(p, st.threshold), r["margin"]) >= 0
        else:
            hyb = hybrid_z(p, r["margin"], st.a, st.b, st.threshold, st.weight) >= 0 if used else call
        out.append({"id": r["id"], "gold": r["gold"], "rule": call, "llm": llm, "hybrid": hyb, "used_llm": used})
    return out


def stratified_folds(rows: Sequence[dict[str, Any]], k: int = 5, seed: int = 0) -> dict[str, int]:
    """Fold index per id: each class shuffled with a fixed seed and dealt round-robin (sizes differ by <= 1)."""
    folds: dict[str, int] = {}
    rng = random.Random(seed)
    start = 0
    for label in (True, False):
        ids = sorted(r["id"] for r in rows if r["gold"] == label)
        rng.shuffle(ids)
        for j, i in enumerate(ids):
            folds[i] = (start + j) % k
        start = (start + len(ids)) % k  # the other class continues the deal, so fold sizes stay balanced
    return folds


def cross_validate(val_rows: Sequence[dict[str, Any]], mt_rows: Sequence[dict[str, Any]], *, k: int = 5,
                   seed: int = 0, rule: tuple[float, float] | None = None,
                   tuner: Callable[..., Setting] = tune) -> dict[str, Any]:
    """Out-of-fold predictions on `mt_rows`: fold f is predicted with the setting tuned on val + the other folds."""
    folds = stratified_folds(mt_rows, k, seed)
    preds: list[dict[str, Any]] = []
    per_fold = []
    for f in range(k):
        train = list(val_rows) + [r for r in mt_rows if folds[r["id"]] != f]
        held = [r for r in mt_rows if folds[r["id"]] == f]
        st = tuner(train, rule=rule)
        p = predict(held, st)
        for x in p:
            x["fold"] = f
        preds += p
        per_fold.append({"fold": f, "n_tune": len(train), "n_held": len(held), "setting": st.to_dict(),
                         **{f"{s}_acc": sum(x[s] == x["gold"] for x in p) / max(len(p), 1) for s in STRATEGIES},
                         "consult_rate": sum(x["used_llm"] for x in p) / max(len(p), 1)})
    return {"k": k, "seed": seed, "folds": per_fold, "preds": preds}


# ---- statistics ----------------------------------------------------------------------------------------------
def paired(preds: Sequence[dict[str, Any]], x: str, y: str) -> dict[str, Any]:
    """acc(x) - acc(y) on the same samples: mean, normal 95% CI of the paired difference, McNemar p."""
    d = [int(p[x] == p["gold"]) - int(p[y] == p["gold"]) for p in preds]
    n = len(d)
    if n == 0:
        return {"diff": float("nan"), "ci": [float("nan"), float("nan")], "x_only": 0, "y_only": 0, "p": 1.0}
    m, h = mean_ci(d)
    b, c = d.count(1), d.count(-1)
    return {"diff": m, "ci": [m - h, m + h], "x_only": b, "y_only": c, "p": mcnemar_p(b, c)}


def summarize(preds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pooled accuracy (+ Wilson CI) per strategy, paired hybrid differences and the consult rate."""
    n = len(preds)
    out: dict[str, Any] = {"n": n}
    for s in STRATEGIES:
        ok = sum(p[s] == p["gold"] for p in preds)
        out[s] = {"acc": ok / n if n else float("nan"), "ci": list(wilson(ok, n)), "correct": ok}
    out["hybrid_minus_rule"] = paired(preds, "hybrid", "rule")
    out["hybrid_minus_llm"] = paired(preds, "hybrid", "llm")
    out["consult_rate"] = sum(p["used_llm"] for p in preds) / n if n else float("nan")
    out["hybrid_ge_both"] = bool(n) and out["hybrid"]["acc"] >= max(out["rule"]["acc"], out["llm"]["acc"])
    return out


# ---- calibration write -----------------------------------------------------------------------------------------
def write_calibration(key: str, st: Setting, *, fitted_on: str, extra: dict[str, Any],
                      path: Path | None = None) -> dict[str, Any]:
    """Store the fit as the calibration.json entry `key` (a, b, band, llm_weight, fitted_at + `extra`)."""
    from core.timing.llm_vote import CALIBRATION_FILE, Calibration, save_calibration

    entry = {"band": st.band, "llm_weight": st.weight,
             "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}
    save_calibration(Calibration(st.a, st.b, key, fitted_on, st.n), path or CALIBRATION_FILE, extra=entry)
    return entry


def analyze(rows: dict[str, list[dict[str, Any]]], *, k: int = 5, seed: int = 0,
            product_rule: tuple[float, float] = (8.0, 0.6), tuner: Callable[..., Setting] = tune) -> dict[str, Any]:
    """CV on MetaTool (modes "tuned" and "product_rule"), the final fit on validation + all of MetaTool, and that
    fit applied to the test splits. `rows`: label -> merged rows; only rows with a margin are used, and only the
    "validation" and "metatool" rows ever reach `tuner`. The result's "blocks" are the summaries for the table."""
    scored = {label: [r for r in rs if r["margin"] is not None] for label, rs in rows.items()}
    val, mt = scored.get("validation", []), scored.get("metatool", [])
    out: dict[str, Any] = {"folds": k, "seed": seed, "scored": {x: f"{len(scored[x])}/{len(rows[x])}" for x in rows},
                           "product_rule": {"scale": product_rule[0], "threshold": product_rule[1]}, "blocks": {}}
    if not val or len(mt) < 2 * k:
        return out
    costs = [r for r in val + mt if r.get("s") is not None]
    if costs:
        out["s_per_decision_median"] = sorted(r["s"] for r in costs)[len(costs) // 2]
        out["prompt_tokens_mean"] = sum(r.get("tokens") or 0 for r in costs) / len(costs)
    out["llm_auc"] = {"validation": margin_auc([r["margin"] for r in val], [r["gold"] for r in val]),
                      "metatool": margin_auc([r["margin"] for r in mt], [r["gold"] for r in mt])}
    for mode, rule in (("tuned", None), ("product_rule", product_rule)):
        cv = cross_validate(val, mt, k=k, seed=seed, rule=rule, tuner=tuner)
        summ = summarize(cv["preds"])
        out[f"cv_{mode}"] = {"summary": summ, "folds": cv["folds"],
                             "preds": [{c: p[c] for c in ("id", "fold", "gold", "rule", "llm", "hybrid", "used_llm")}
                                       for p in cv["preds"]]}
        out["blocks"][f"MetaTool OOF ({mode})"] = summ
    final = tuner(val + mt, rule=None)
    final_product = tuner(val + mt, rule=product_rule)
    out["final"] = {"tuned": final.to_dict(), "product_rule": final_product.to_dict(),
                    "fitted_on": f"validation ({len(val)}) + MetaTool Task1 ({len(mt)}/{len(rows['metatool'])})"}
    for label in ("test", "test_extended"):
        rs = scored.get(label) or []
        if not rs:
            continue
        for mode, st in (("tuned", final), ("product_rule", final_product)):
            summ = summarize(predict(rs, st))
            summ["scored"] = out["scored"][label]
            out[f"{label}_{mode}"] = summ
            out["blocks"][f"{label} ({mode})"] = summ
    return out


