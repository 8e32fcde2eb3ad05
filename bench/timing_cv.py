"""Honest cross-validated tuning of the timing decider on the validation split + MetaTool Task1.

    .venv/bin/python bench/timing_cv.py --metatool /tmp/mine/metatool                 # shipped default model
    .venv/bin/python bench/timing_cv.py --metatool DIR --model qwen2.5-coder-1.5b --vote-tools 0 --until 12:35
    .venv/bin/python bench/timing_cv.py --metatool DIR --cv-only --write                 # no new LLM scoring
    .venv/bin/python bench/timing_cv.py --metatool DIR --combiner sum --objective balanced --cv-only  # session 3

1. Score cache: per sample the selector's top score (the rule's tool_score input), the rule features and
   the LLM true/false margin (core/timing/llm_vote.py `vote_margin`, vote prompt variant `--vote-tools`),
   appended to bench/results/timing-cache/<dataset>-<sha>__<model key>__<variant>__<selector>.jsonl, one line
   per sample as it is scored: an interrupted run resumes, a rerun costs nothing. MetaTool is scored in a
   fixed shuffled order, so a partly scored set is a random subset. Rows hold ids, labels and numbers only.
2. 5-fold stratified CV on MetaTool (fixed seed): each fold is tuned on validation + the other 4 folds with the
   selection rules of bench/tune_timing.py (rule scale x threshold, class-balanced Platt a, b, hybrid band x
   weight) and predicts the held-out fold; pooled out-of-fold accuracy with Wilson 95% CIs, paired hybrid-rule
   and hybrid-llm differences (normal CI + exact McNemar p), the hybrid's LLM-consult rate, settings per fold.
   Mode "tuned" tunes the rule too; mode "product_rule" keeps TimingConfig's rule (what the product runs).
   2a. `--combiner sum` (session 3): inside the band `logit P_rule - logit t + w * logit P_llm >= 0`, band x w
   chosen by pooled or balanced accuracy (bench/tune_timing.py's rules).
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
Writes bench/results/timing-cv-<model>-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import inspect
import json
import math
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import tune_timing as tt  # noqa: E402  (bench/tune_timing.py: grids and selection rules)

RESULTS = ROOT / "bench" / "results"
CACHE_DIR = RESULTS / "timing-cache"
FEATURE_NAMES = ("action_verb", "realtime", "date", "amount", "identifier", "proper_noun", "knowledge_question",
                 "chitchat", "creative", "result_in_context", "new_request")
STRATEGIES = ("rule", "llm", "hybrid")


# ---- score cache ------------------------------------------------------------------------------------------------
def features_sha() -> str:
    """Hash of the rule's feature code and weights: cached features from other code are recomputed."""
    from core.timing import features

    return hashlib.sha256(inspect.getsource(features).encode()).hexdigest()[:12]


def rule_side(samples: Sequence[dict[str, Any]], selector: Any, top_k: int = 5) -> list[dict[str, Any]]:
    """id, gold, selector top score, ranked tool ids and the rule's boolean features of each sample."""
    from core.timing.decider import MAX_MESSAGE_CHARS
    from core.timing.features import extract_features

    out = []
    for s in samples:
        msg = " ".join(s["message"].split())[:MAX_MESSAGE_CHARS]
        ranked = selector.select(msg, top_k=top_k) if selector is not None else []
        f = extract_features(msg, s.get("context") or [], 0.0)
        out.append({"id": s["id"], "gold": bool(s["gold"]["should_call_tool"]),
                    "top": max(ranked[0].score, 0.0) if ranked else 0.0, "tools": [r.tool_id for r in ranked],
                    "features": {k: bool(getattr(f, k)) for k in FEATURE_NAMES}})
    return out


def cache_path(label: str, dataset_sha: str, key: str, vote_tools: int, selector: str) -> Path:
    """The cache file of one dataset x model (+ adapter SHA) x vote prompt variant x selector."""
    def safe(x: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", x)

    return CACHE_DIR / f"{safe(label)}-{dataset_sha[:12]}__{safe(key)}__tools{vote_tools}__{safe(selector)}.jsonl"


def load_cache(path: Path) -> dict[str, dict[str, Any]]:
    """Rows by id (the last line of an id wins; a torn last line is skipped)."""
    rows: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and "id" in row and "margin" in row:
                rows[row["id"]] = row
    return rows


def score_order(ids: Sequence[str], seed: int) -> list[str]:
    """A fixed shuffled order, so any scored prefix is a random subset."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    return order


def fill_cache(label: str, samples: Sequence[dict[str, Any]], side: Sequence[dict[str, Any]], path: Path, *,
               margin_fn: Callable[[dict[str, Any], dict[str, Any]], tuple[float | None, int]],
               deadline: float | None = None, seed: int = 0, every: int = 25, limit: int = 0) -> int:
    """Score the samples missing from the cache (in `score_order`), appending a line per sample; returns the
    number newly scored. `margin_fn(sample, side_row) -> (margin, prompt tokens)`. Stops at `deadline` or after
    `limit` new samples (0: no limit)."""
    done = load_cache(path)
    by_id = {s["id"]: s for s in samples}
    side_by = {r["id"]: r for r in side}
    todo = [i for i in score_order(list(by_id), seed) if i not in done]
    if limit:
        todo = todo[:limit]
    if not todo:
        print(f"  {label}: all {len(samples)} cached ({path.name})", flush=True)
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    fsha = features_sha()
    t0, n = time.perf_counter(), 0
    print(f"  {label}: {len(done)}/{len(samples)} cached, scoring {len(todo)} -> {path.name}", flush=True)
    torn = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    with path.open("a") as fh:
        if torn:  # an interrupted write left half a line: end it, so the next row starts on its own line
            fh.write("\n")
        for i in todo:
            if deadline is not None and time.time() >= deadline:
                print(f"  {label}: deadline reached after {n} new samples", flush=True)
                break
            t1 = time.perf_counter()
            margin, tokens = margin_fn(by_id[i], side_by[i])
            r = side_by[i]
            fh.write(json.dumps({"id": i, "gold": r["gold"], "top": round(r["top"], 6), "features": r["features"],
                                 "features_sha": fsha, "margin": margin, "tokens": tokens,
                                 "s": round(time.perf_counter() - t1, 3)}) + "\n")
            fh.flush()
            n += 1
            if n % every == 0 or n == len(todo):
                el = time.perf_counter() - t0
                eta = el / n * (len(todo) - n)
                print(f"  {label}: {len(done) + n}/{len(samples)}  {el / n:.2f} s/sample  eta {eta / 60:.1f} min",
                      flush=True)
    return n


def merge(side: Sequence[dict[str, Any]], cache: dict[str, dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """Rows for the CV: the current rule side (recomputed, cheap) + the cached margin (None if not scored)."""
    out = []
    for r in side:
        c = cache.get(r["id"])
        out.append({**r, "margin": None if c is None else c.get("margin"), "source": source,
                    "tokens": None if c is None else c.get("tokens"), "s": None if c is None else c.get("s")})
    return out


# ---- tuning and prediction -------------------------------------------------------------------------------------
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

    p = tt._sigmoid(logit(_features(row, scale)))
    call = p >= threshold
    t = threshold
    conf = abs(p - t) / (t if not call else 1 - t) if 0 < t < 1 else 1.0
    return call, round(p, 4), round(min(conf, 1.0), 4)


OBJECTIVES = ("pooled", "balanced", "minimax")
COMBINERS = ("sum", "stacked")


def _groups(rows: Sequence[dict[str, Any]], objective: str) -> list[list[dict[str, Any]]]:
    """pooled: one group (accuracy over all rows, as bench/tune_timing.py); balanced: one group per `source`
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
    """(score scale, threshold) of the rule: bench/tune_timing.py's grid, averaged over the groups, and its pick."""
    grid = _mean_dicts([tt.rule_grid([r["top"] for r in g], [_features(r, 1.0) for r in g],
                                     [r["gold"] for r in g]) for g in groups])
    best, _ = tt.pick_rule(grid)
    scale, threshold = (float(x) for x in best.split(":"))
    return scale, threshold


def tune(rows: Sequence[dict[str, Any]], rule: tuple[float, float] | None = None,
         objective: str = "pooled") -> Setting:
    """The bench/tune_timing.py selection rules on `rows` (all with a margin): rule scale x threshold (unless
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
    auc = tt._auc(margins, golds)

    def hrows(g: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for r in g:
            call, p, conf = rule_eval(r, scale, threshold)
            out.append({"gold": r["gold"], "p_rule": p, "conf_rule": conf, "margin": r["margin"], "call_rule": call})
        return out

    hg = [hrows(g) for g in groups]
    sweep = _mean_dicts([tt.hybrid_sweep(h, a, b, threshold) for h in hg])
    band, weight = tt.pick_hybrid(sweep, auc)
    rule_acc = sum(sum(h["call_rule"] == h["gold"] for h in g) / max(len(g), 1) for g in hg) / len(hg)
    hyb_acc = sweep.get(f"{band}:{weight}", {"acc": rule_acc})["acc"]
    return Setting(scale, threshold, a, b, auc, band, weight, len(rows), rule_acc, hyb_acc)


def rule_logodds(p_rounded: float, threshold: float) -> float:
    """logit P_rule - logit threshold, from the rounded P the decider stores (as `TimingDecider.combine`)."""
    eps = 1e-6
    pr = min(max(p_rounded, eps), 1 - eps)
    t = min(max(threshold, eps), 1 - eps)
    return math.log(pr / (1 - pr)) - math.log(t / (1 - t))


STACKED_BANDS = [0.0, *tt.BANDS]


def tune_stacked(rows: Sequence[dict[str, Any]], rule: tuple[float, float] | None = None,
                 objective: str = "minimax") -> Setting:
    """The stacked hybrid's selection rules (fixed before its CV was run; see the module docstring, 2b).

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
    auc = tt._auc(margins, golds)
    ev = []
    for r in rows:
        call, p, conf = rule_eval(r, scale, threshold)
        ev.append({"src": r.get("source", ""), "gold": r["gold"], "rule": call, "conf": conf,
                   "lo": rule_logodds(p, threshold), "m": r["margin"],
                   "llm": tt._sigmoid(pa * r["margin"] + pb) >= 0.5})
    by_src: dict[str, list[int]] = {}
    for i, e in enumerate(ev):
        by_src.setdefault(e["src"], []).append(i)

    def acc(idx: list[int], pred: Sequence[bool]) -> float:
        return sum(pred[i] == ev[i]["gold"] for i in idx) / max(len(idx), 1)

    rule_pred = [e["rule"] for e in ev]
    llm_pred = [e["llm"] for e in ev]
    best_key, best = None, (0.0, None, 0.0)
    for band in (STACKED_BANDS if auc >= tt.MIN_AUC else [0.0]):
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
        llm = tt._sigmoid(st.a * r["margin"] + st.b) >= 0.5
        used = conf < st.band
        if used and st.combiner is not None:
            from core.timing.combiner import Combiner

            hyb = Combiner.from_dict(st.combiner).z(rule_logodds(p, st.threshold), r["margin"]) >= 0
        else:
            hyb = tt.hybrid_z(p, r["margin"], st.a, st.b, st.threshold, st.weight) >= 0 if used else call
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


# ---- statistics ------------------------------------------------------------------------------------------------
def wilson(ok: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion."""
    if n == 0:
        return float("nan"), float("nan")
    p = ok / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p from the discordant counts (binomial, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired(preds: Sequence[dict[str, Any]], x: str, y: str) -> dict[str, Any]:
    """acc(x) - acc(y) on the same samples: mean, normal 95% CI of the paired difference, McNemar p."""
    d = [int(p[x] == p["gold"]) - int(p[y] == p["gold"]) for p in preds]
    n = len(d)
    if n == 0:
        return {"diff": float("nan"), "ci": [float("nan"), float("nan")], "x_only": 0, "y_only": 0, "p": 1.0}
    m = sum(d) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in d) / (n - 1)) if n > 1 else 0.0
    h = 1.96 * sd / math.sqrt(n)
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
    """Store the fit as the calibration.json entry `key` (same fields as bench/tune_timing.py writes)."""
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
    out["llm_auc"] = {"validation": tt._auc([r["margin"] for r in val], [r["gold"] for r in val]),
                      "metatool": tt._auc([r["margin"] for r in mt], [r["gold"] for r in mt])}
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
        paths[label] = cache_path(label, ds.sha256, score_key, args.vote_tools, args.selector)

    print(f"model {key} vote_tools={args.vote_tools} selector={args.selector} merged={merged}", flush=True)
    if not args.cv_only:
        from core.llm.llamacpp import LlamaCppBackend
        from core.timing.llm_vote import vote_margin
        from core.timing.vote_prompt import vote_prompt

        backend = LlamaCppBackend(resolved, merge_lora=merged)
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
                           "caches": {k: str(p.relative_to(ROOT)) for k, p in paths.items()}}
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
