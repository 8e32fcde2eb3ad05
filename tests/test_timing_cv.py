"""core/timing/fit.py + score_cache.py (driven by bench/timing_cv.py): score cache, stratified CV without
leakage, pooled statistics, calibration write;
core/timing/vote_prompt.py: the cheaper vote prompt variants and their separate calibration keys."""

from __future__ import annotations

import json
import math
import random
from types import SimpleNamespace

import pytest
from planning_support import OverlapSelector, ScriptedBackend, make_catalog

from core.llm.prompts import timing_prompt
from core.metrics.stats import mcnemar_p, wilson
from core.timing import fit
from core.timing import score_cache as sc
from core.timing.decider import TimingConfig, TimingDecider
from core.timing.llm_vote import (
    FALSE_TEXT,
    TRUE_TEXT,
    Calibration,
    calibrated_vote_tools,
    calibration_for,
    load_calibrations,
    model_key,
)
from core.timing.vote_prompt import DEFAULT_VOTE_TOOLS, variant_tag, vote_prompt

CAT = make_catalog()
SEL = OverlapSelector().fit(CAT)
NO_FEATURES = dict.fromkeys(sc.FEATURE_NAMES, False)


def synth(n: int, prefix: str, seed: int, *, pos_frac: float = 0.5, noise: float = 1.5) -> list[dict]:
    """Rows where the rule (action verb + tool score) and the margin are both informative but imperfect."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        gold = rng.random() < pos_frac
        feats = {**NO_FEATURES, "action_verb": gold if rng.random() < 0.8 else not gold,
                 "chitchat": (not gold) and rng.random() < 0.3}
        rows.append({"id": f"{prefix}-{i}", "gold": gold, "top": max(0.0, rng.gauss(6 if gold else 3, 2)),
                     "features": feats, "margin": rng.gauss(1.0 if gold else -1.0, noise)})
    return rows


class LogitBackend(ScriptedBackend):
    """Scores true/false with a fixed margin per message and records the scored prompts."""

    def __init__(self, margins: dict[str, float]) -> None:
        super().__init__([])
        self.margins, self.prompts = margins, []

    def continuation_logprobs(self, messages, texts):
        assert list(texts) == [TRUE_TEXT, FALSE_TEXT]
        self.prompts.append(list(messages))
        msg = messages[-1]["content"].split("Message: ")[-1].split("\nDecision:")[0]
        m = self.margins.get(msg, 0.0)
        return [m / 2, -m / 2]


# ---- folds and leakage -------------------------------------------------------------------------------------------
def test_stratified_folds_are_balanced_deterministic_and_cover_every_row():
    rows = synth(103, "mt", 1, pos_frac=0.3)
    folds = fit.stratified_folds(rows, 5, seed=7)
    assert set(folds) == {r["id"] for r in rows} and set(folds.values()) == set(range(5))
    sizes = [sum(1 for v in folds.values() if v == f) for f in range(5)]
    assert max(sizes) - min(sizes) <= 1
    for label in (True, False):
        per = [sum(1 for r in rows if r["gold"] == label and folds[r["id"]] == f) for f in range(5)]
        assert max(per) - min(per) <= 1
    assert fit.stratified_folds(list(reversed(rows)), 5, seed=7) == folds  # input order does not matter
    assert fit.stratified_folds(rows, 5, seed=8) != folds


def test_held_out_fold_and_test_rows_never_reach_the_tuner():
    val, mt = synth(40, "val", 2), synth(60, "mt", 3)
    test = synth(20, "test", 4)
    folds = fit.stratified_folds(mt, 5, seed=0)
    calls: list[tuple[set[str], object]] = []

    def spy(rows, rule=None):
        calls.append(({r["id"] for r in rows}, rule))
        return fit.tune(rows, rule=rule)

    res = fit.cross_validate(val, mt, k=5, seed=0, tuner=spy)
    assert len(calls) == 5
    for f, (ids, _) in enumerate(calls):
        held = {r["id"] for r in mt if folds[r["id"]] == f}
        assert not ids & held
        assert ids == {r["id"] for r in val} | ({r["id"] for r in mt} - held)
    assert sorted(p["id"] for p in res["preds"]) == sorted(r["id"] for r in mt)
    assert all(folds[p["id"]] == p["fold"] for p in res["preds"])

    calls.clear()
    out = fit.analyze({"validation": val, "metatool": mt, "test": test, "test_extended": []}, k=5, seed=0,
                     tuner=spy)
    test_ids = {r["id"] for r in test}
    assert len(calls) == 12  # 2 modes x 5 folds + 2 final fits
    assert all(not ids & test_ids for ids, _ in calls)
    assert {r["id"] for r in val} | {r["id"] for r in mt} == calls[-1][0]
    assert calls[-1][1] == (8.0, 0.6) and calls[-2][1] is None
    assert out["test_tuned"]["n"] == 20 and "test_extended_tuned" not in out


def test_rows_without_a_margin_are_left_out():
    val, mt = synth(20, "val", 5), synth(30, "mt", 6)
    for r in mt[:10]:
        r["margin"] = None
    out = fit.analyze({"validation": val, "metatool": mt}, k=5, seed=0)
    assert out["scored"]["metatool"] == "20/30" and out["cv_tuned"]["summary"]["n"] == 20


# ---- statistics ----------------------------------------------------------------------------------------------------
def test_pooled_accuracy_paired_difference_and_mcnemar():
    gold = [True] * 6 + [False] * 4
    preds = [{"id": str(i), "gold": g, "rule": g if i < 5 else not g, "llm": not g if i < 3 else g,
              "hybrid": g if i != 9 else not g, "used_llm": i % 2 == 0} for i, g in enumerate(gold)]
    s = fit.summarize(preds)
    assert s["n"] == 10
    assert (s["rule"]["correct"], s["llm"]["correct"], s["hybrid"]["correct"]) == (5, 7, 9)
    assert s["hybrid"]["acc"] == pytest.approx(0.9) and s["consult_rate"] == pytest.approx(0.5)
    lo, hi = s["hybrid"]["ci"]
    assert lo < 0.9 < hi and 0 <= lo and hi <= 1
    d = s["hybrid_minus_rule"]
    assert d["diff"] == pytest.approx(0.4) and (d["x_only"], d["y_only"]) == (4, 0)
    assert d["p"] == pytest.approx(2 / 16) and d["ci"][0] < 0.4 < d["ci"][1]
    assert s["hybrid_ge_both"]
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(3, 3) == 1.0
    assert mcnemar_p(0, 5) == pytest.approx(2 / 32)
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)


def test_pooled_out_of_fold_accuracy_is_the_size_weighted_fold_mean():
    val, mt = synth(50, "val", 8), synth(97, "mt", 9)
    res = fit.cross_validate(val, mt, k=5, seed=3)
    s = fit.summarize(res["preds"])
    for strat in ("rule", "llm", "hybrid"):
        weighted = sum(f[f"{strat}_acc"] * f["n_held"] for f in res["folds"]) / len(mt)
        assert s[strat]["acc"] == pytest.approx(weighted)
    assert sum(f["n_held"] for f in res["folds"]) == 97


def test_tuning_finds_an_informative_llm_and_an_uninformative_one():
    rows = synth(300, "t", 10, noise=0.7)
    st = fit.tune(rows)
    assert st.auc > 0.8 and st.a > 0 and st.band > 0
    assert st.tuned_hybrid_acc >= st.tuned_rule_acc
    rng = random.Random(0)
    for r in rows:
        r["margin"] = rng.gauss(0, 1)  # no signal: never consulted
    st0 = fit.tune(rows)
    assert st0.auc < 0.6 and st0.band == 0.0
    assert all(not p["used_llm"] and p["hybrid"] == p["rule"] for p in fit.predict(rows, st0))
    fixed = fit.tune(rows, rule=(12.0, 0.5))
    assert (fixed.scale, fixed.threshold) == (12.0, 0.5)


def test_balanced_objective_weighs_each_data_set_equally():
    small, big = synth(40, "val", 11), synth(200, "mt", 12, noise=3.0)
    rows = [{**r, "source": "validation"} for r in small] + [{**r, "source": "metatool"} for r in big]
    pooled, balanced = fit.tune(rows), fit.tune(rows, objective="balanced")
    per = [sum(p["rule"] == p["gold"] for p in fit.predict(g, balanced)) / len(g) for g in (small, big)]
    assert balanced.tuned_rule_acc == pytest.approx(sum(per) / 2)
    pooled_acc = sum(p["rule"] == p["gold"] for p in fit.predict(rows, pooled)) / len(rows)
    assert pooled.tuned_rule_acc == pytest.approx(pooled_acc)
    one = [{**r, "source": "x"} for r in big]  # one data set: both objectives agree
    assert fit.tune(one, objective="balanced") == fit.tune(one)
    with pytest.raises(ValueError):
        fit.tune(rows, objective="nope")


def test_predict_matches_the_decider():
    msgs = ["What's the weather in Rome today?", "Why is the sky blue?", "tell me something about hotels",
            "I wonder about flights", "Rome", "hi there!", "book a hotel in Oslo for 2 nights", "convert 20 euros",
            "send an email to Ana", "what is a stock?"]
    margins = {m: (i - 4.5) * 1.3 for i, m in enumerate(msgs)}
    samples = [{"id": str(i), "message": m, "context": [], "gold": {"should_call_tool": i % 2 == 0}}
               for i, m in enumerate(msgs)]
    rows = [{**r, "margin": margins[m]} for r, m in zip(sc.rule_side(samples, SEL), msgs, strict=True)]
    st = fit.Setting(scale=2.0, threshold=0.55, a=0.8, b=-0.2, auc=1.0, band=0.6, weight=1.5)
    preds = fit.predict(rows, st)
    config = TimingConfig(threshold=st.threshold, score_scale=st.scale, band=st.band, llm_weight=st.weight,
                          vote_tools=5)
    for strat in ("rule", "llm", "hybrid"):
        dec = TimingDecider(strat, CAT, selector=SEL, backend=LogitBackend(margins), config=config)
        dec._calibration = Calibration(st.a, st.b)
        got = [dec.decide(m) for m in msgs]
        assert [d.should_call_tool for d in got] == [p[strat] for p in preds]
        if strat == "hybrid":
            assert [d.used_llm for d in got] == [p["used_llm"] for p in preds]
    assert any(p["used_llm"] for p in preds) and not all(p["used_llm"] for p in preds)


# ---- cache and write path -------------------------------------------------------------------------------------------
def test_cache_resumes_and_skips_torn_lines(tmp_path):
    samples = [{"id": f"s{i}", "message": f"book flight {i}", "context": [], "gold": {"should_call_tool": i % 2 == 0}}
               for i in range(12)]
    side = sc.rule_side(samples, SEL)
    path = tmp_path / "c.jsonl"
    seen: list[str] = []

    def fn(sample, row):
        seen.append(sample["id"])
        return float(len(seen)), 42

    assert sc.fill_cache("x", samples, side, path, margin_fn=fn, limit=5) == 5
    assert seen == sc.score_order([s["id"] for s in samples], 0)[:5]
    with path.open("a") as fh:
        fh.write('{"id": "torn", "marg')
    assert set(sc.load_cache(path)) == set(seen)
    assert sc.fill_cache("x", samples, side, path, margin_fn=fn) == 7
    assert sc.fill_cache("x", samples, side, path, margin_fn=fn) == 0 and len(seen) == 12
    cache = sc.load_cache(path)
    assert len(cache) == 12 and cache["s0"]["tokens"] == 42 and cache["s0"]["gold"] is True
    assert sc.fill_cache("y", samples, side, tmp_path / "d.jsonl", margin_fn=fn, deadline=0.0) == 0
    rows = sc.merge(side, cache, "x")
    assert all(r["margin"] is not None for r in rows)


def test_cache_files_are_keyed_by_dataset_model_and_variant():
    a = sc.cache_path("metatool", "a" * 64, "qwen|lora:none", 0, "keyword")
    assert a != sc.cache_path("metatool", "b" * 64, "qwen|lora:none", 0, "keyword")
    assert a != sc.cache_path("metatool", "a" * 64, "qwen|lora:none", 5, "keyword")
    assert a != sc.cache_path("metatool", "a" * 64, "sage|lora:123", 0, "keyword")


def test_write_round_trips_into_the_variant_key(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"other|lora:none": {"a": 2.0, "b": 0.0, "key": "other|lora:none"}}))
    be = SimpleNamespace(model=SimpleNamespace(name="qwen2.5-coder-1.5b", lora=None))
    key = model_key(be) + variant_tag(0)
    st = fit.Setting(scale=8.0, threshold=0.6, a=0.9, b=-0.1, auc=0.9, band=0.3, weight=2.0, n=1240)
    fit.write_calibration(key, st, fitted_on="validation + MetaTool", extra={"vote_tools": 0}, path=path)
    raw = json.loads(path.read_text())
    assert set(raw) == {"other|lora:none", key} and raw[key]["vote_tools"] == 0 and "fitted_at" in raw[key]
    cal = calibration_for(be, path, vote_tools=0)
    assert (cal.a, cal.b, cal.band, cal.llm_weight, cal.n, cal.fitted_on) == (0.9, -0.1, 0.3, 2.0, 1240,
                                                                               "validation + MetaTool")
    assert calibration_for(be, path).a == 1.0  # the default variant has no calibration: identity
    assert calibrated_vote_tools(be, path) == 0
    assert load_calibrations(path)["other|lora:none"].a == 2.0


# ---- vote prompt variants ---------------------------------------------------------------------------------------------
def test_vote_prompt_variants():
    tools = [CAT.get(t) for t in ("get_weather", "book_hotel", "send_email")]
    assert vote_prompt("Oslo?", [], tools, DEFAULT_VOTE_TOOLS) == timing_prompt("Oslo?", [], tools)
    one = vote_prompt("Oslo?", [], tools, 1)[-1]["content"]
    assert "get_weather" in one and "book_hotel" not in one
    none = vote_prompt("Oslo?", [{"role": "user", "content": "hi"}], tools, 0)
    assert "Tools:" not in none[0]["content"] + none[1]["content"]
    assert none[1]["content"].endswith("Message: Oslo?\nDecision:") and "user: hi" in none[1]["content"]
    assert variant_tag(5) == "" and variant_tag(0) == "|vote:tools0"
    with pytest.raises(ValueError):
        vote_prompt("x", [], tools, -1)


def test_decider_scores_the_configured_variant_with_its_calibration(tmp_path, monkeypatch):
    import core.timing.llm_vote as lv

    path = tmp_path / "cal.json"
    monkeypatch.setattr(lv, "CALIBRATION_FILE", path)
    b = LogitBackend({"What's the weather in Rome today?": 3.0})
    lv.save_calibration(Calibration(2.0, -1.0, model_key(b) + variant_tag(0), "test", 10), path,
                        extra={"band": 0.5, "llm_weight": 1.0})
    dec = TimingDecider("llm", CAT, selector=SEL, backend=b)  # vote_tools None -> the calibrated variant (0)
    d = dec.decide("What's the weather in Rome today?")
    assert dec.vote_tools == 0 and "Tools:" not in b.prompts[-1][-1]["content"]
    assert d.llm_probability == pytest.approx(1 / (1 + math.exp(-(2.0 * 3.0 - 1.0))), abs=1e-4)
    five = TimingDecider("llm", CAT, selector=SEL, backend=b, config=TimingConfig(vote_tools=5))
    five.decide("What's the weather in Rome today?")
    assert five.calibration.a == 1.0 and "Tools:" in b.prompts[-1][-1]["content"]
    assert five.describe()["vote_tools"] == 5
