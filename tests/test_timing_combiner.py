"""core/timing/combiner.py and the hybrid's stacked in-band combiner: fit, decider path, tuner (core/timing/fit.py),
bad files."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from test_timing_cv import CAT, SEL, LogitBackend, synth

from core.errors import DataError, UsageError
from core.timing import fit
from core.timing import score_cache as sc
from core.timing.combiner import Combiner, fit_combiner, fit_logistic, group_weights
from core.timing.decider import TimingConfig, TimingDecider
from core.timing.llm_vote import Calibration, load_calibrations, model_key, save_calibration


def test_group_weights_balance_sets_and_classes():
    labels = [True, False, False, False] + [True] * 6 + [False] * 2
    groups = ["a"] * 4 + ["b"] * 8
    w = group_weights(labels, groups)
    assert sum(w) == pytest.approx(len(w))  # mean weight 1
    total = {g: sum(x for x, gg in zip(w, groups, strict=True) if gg == g) for g in "ab"}
    assert total["a"] == pytest.approx(total["b"])  # each set weighs the same whatever its size
    cls = {(g, y): sum(x for x, gg, yy in zip(w, groups, labels, strict=True) if (gg, yy) == (g, y))
           for g in "ab" for y in (True, False)}
    assert cls[("a", True)] == pytest.approx(cls[("a", False)]) and cls[("b", True)] == pytest.approx(cls[("b", False)])
    assert group_weights([True, False]) == [1.0, 1.0]
    with pytest.raises(ValueError):
        group_weights([True], ["a", "b"])


def test_fit_logistic_recovers_known_coefficients():
    rng = random.Random(0)
    x = [[rng.gauss(0, 1), rng.gauss(0, 1)] for _ in range(4000)]
    true = (2.0, -1.0, 0.5)
    y = [rng.random() < 1 / (1 + math.exp(-(true[0] * a + true[1] * b + true[2]))) for a, b in x]
    w = fit_logistic(x, y, [1.0] * len(y), l2=1e-6)
    assert w == pytest.approx(list(true), abs=0.15)


def test_fit_combiner_learns_which_signal_to_trust():
    rng = random.Random(1)
    # the margin is informative, the rule's log-odds are noise: the fit must lean on the margin
    labels = [rng.random() < 0.5 for _ in range(600)]
    margins = [rng.gauss(1.5 if y else -1.5, 1.0) for y in labels]
    rule_lo = [rng.gauss(0, 1) for _ in labels]
    c = fit_combiner(rule_lo, margins, labels)
    assert c.margin > 1.0 and abs(c.rule) < 0.3
    acc = sum((c.z(r, m) >= 0) == y for r, m, y in zip(rule_lo, margins, labels, strict=True)) / len(labels)
    assert acc > 0.85
    # the reverse: the rule is informative, the margin is noise
    c2 = fit_combiner(margins, rule_lo, labels)
    assert c2.rule > 1.0 and abs(c2.margin) < 0.3
    assert fit_combiner([0.1, 0.2], [0.3, 0.4], [True, True]) == Combiner(1.0, 0.0, 0.0)  # one class: rule as is


def test_combiner_round_trip_and_field_errors():
    c = Combiner(1.25, 0.5, -0.75)
    assert Combiner.from_dict(c.to_dict()) == c
    assert c.z(2.0, -1.0) == pytest.approx(1.25 * 2 - 0.5 - 0.75)
    with pytest.raises(DataError, match="combiner.margin"):
        Combiner.from_dict({"rule": 1.0, "bias": 0.0})
    with pytest.raises(DataError, match="combiner.bias"):
        Combiner.from_dict({"rule": 1.0, "margin": 1.0, "bias": "x"})
    with pytest.raises(DataError, match="combiner.rule"):
        Combiner.from_dict({"rule": float("nan"), "margin": 1.0, "bias": 0.0})
    with pytest.raises(DataError):
        Combiner.from_dict([1, 2, 3])


def test_broken_calibration_file_names_the_file_and_field(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"m|lora:none": {"a": 1.0, "b": 0.0, "combiner": {"rule": 1.0, "margin": "?"}}}))
    with pytest.raises(DataError) as e:
        load_calibrations(path)
    assert str(path) in str(e.value) and "m|lora:none.combiner.margin" in str(e.value)
    path.write_text("{not json")
    with pytest.raises(DataError, match="invalid JSON"):
        load_calibrations(path)
    path.write_text(json.dumps({"m": 3}))
    with pytest.raises(DataError, match="must be an object"):
        load_calibrations(path)


MSGS = ["What's the weather in Rome today?", "Why is the sky blue?", "tell me something about hotels",
        "I wonder about flights", "Rome", "hi there!", "book a hotel in Oslo for 2 nights", "convert 20 euros"]


def _decider(tmp_path, monkeypatch, margins, combiner, band=1.0, **cfg):
    import core.timing.llm_vote as lv

    path = tmp_path / "cal.json"
    monkeypatch.setattr(lv, "CALIBRATION_FILE", path)
    b = LogitBackend(margins)
    save_calibration(Calibration(1.0, 0.0, model_key(b), "test", 10), path,
                     extra={"band": band, "llm_weight": 1.0, "combiner": combiner})
    return TimingDecider("hybrid", CAT, selector=SEL, backend=b, config=TimingConfig(vote_tools=5, **cfg))


def test_hybrid_uses_the_fitted_combiner_inside_the_band(tmp_path, monkeypatch):
    margins = {m: (i - 3.5) * 1.1 for i, m in enumerate(MSGS)}
    comb = {"rule": 0.0, "margin": 1.0, "bias": -0.5}  # trusts the LLM margin only, with a shifted threshold
    dec = _decider(tmp_path, monkeypatch, margins, comb)
    assert dec.combine_mode == "stacked" and dec.describe()["combine"] == "stacked"
    for m in MSGS:
        d = dec.decide(m)
        assert d.used_llm and d.llm_margin == pytest.approx(margins[m])
        assert d.should_call_tool == (margins[m] - 0.5 >= 0) and "combined z=" in d.reason
    # the same calibration with combine="sum" adds the rule's log-odds and the LLM's instead
    summ = _decider(tmp_path, monkeypatch, margins, comb, combine="sum")
    rule = TimingDecider("rule", CAT, selector=SEL)
    for m in MSGS:
        pr = rule.decide(m).probability
        z = math.log(pr / (1 - pr)) - math.log(0.6 / 0.4) + margins[m]
        assert summ.decide(m).should_call_tool == (z >= 0)


def test_combiner_is_only_consulted_inside_the_band(tmp_path, monkeypatch):
    margins = dict.fromkeys(MSGS, -5.0)  # the LLM says "answer directly" to everything
    dec = _decider(tmp_path, monkeypatch, margins, {"rule": 0.0, "margin": 1.0, "bias": 0.0}, band=0.3)
    rule = TimingDecider("rule", CAT, selector=SEL)
    seen_in, seen_out = False, False
    for m in MSGS:
        r, d = rule.decide(m), dec.decide(m)
        if r.confidence >= 0.3:
            assert not d.used_llm and d.should_call_tool == r.should_call_tool
            seen_out = True
        else:
            assert d.used_llm and not d.should_call_tool
            seen_in = True
    assert seen_in and seen_out


def test_stacked_without_a_fitted_combiner_is_a_usage_error(tmp_path, monkeypatch):
    dec = _decider(tmp_path, monkeypatch, {}, None, combine="stacked")
    with pytest.raises(UsageError, match="no fitted hybrid combiner"):
        dec.decide("book a hotel in Oslo")
    assert _decider(tmp_path, monkeypatch, {}, None).combine_mode == "sum"
    with pytest.raises(UsageError, match="unknown hybrid combine"):
        TimingDecider("hybrid", CAT, selector=SEL, backend=LogitBackend({}), config=TimingConfig(combine="max"))


# ---- the stacked tuner (core/timing/fit.py) ----------------------------------------------------------------------
def _two_sets(noise_val=1.5, noise_mt=1.0):
    val = [{**r, "source": "validation"} for r in synth(120, "val", 21, noise=noise_val)]
    mt = [{**r, "source": "metatool"} for r in synth(300, "mt", 22, noise=noise_mt)]
    return val, mt


def test_stacked_tuner_meets_its_objective_on_the_tuning_rows():
    val, mt = _two_sets()
    st = fit.tune_stacked(val + mt, rule=(8.0, 0.6))
    assert st.auc > 0.6 and st.combiner is not None and st.band > 0
    worst = []
    for g in (val, mt):
        p = fit.predict(g, st)
        acc = {s: sum(x[s] == x["gold"] for x in p) / len(p) for s in ("rule", "llm", "hybrid")}
        worst.append(acc["hybrid"] - max(acc["rule"], acc["llm"]))
    assert st.objective_margin == pytest.approx(min(worst), abs=1e-6)
    # band 0 (hybrid = rule) is a candidate, so the chosen band is never worse than it in the worst case
    zero = fit.Setting(**{**st.to_dict(), "band": 0.0, "combiner": None})
    worst0 = []
    for g in (val, mt):
        p = fit.predict(g, zero)
        acc = {s: sum(x[s] == x["gold"] for x in p) / len(p) for s in ("rule", "llm")}
        worst0.append(acc["rule"] - max(acc["rule"], acc["llm"]))
    assert st.objective_margin >= min(worst0) - 1e-9


def test_stacked_tuner_never_consults_an_uninformative_llm():
    val, mt = _two_sets()
    rng = random.Random(3)
    for r in val + mt:
        r["margin"] = rng.gauss(0, 1)
    st = fit.tune_stacked(val + mt, rule=(8.0, 0.6))
    assert st.auc < 0.6 and st.band == 0.0 and st.combiner is None
    assert all(not p["used_llm"] for p in fit.predict(mt, st))


def test_stacked_predict_matches_the_decider(tmp_path, monkeypatch):
    margins = {m: (i - 3.5) * 0.9 for i, m in enumerate(MSGS)}
    samples = [{"id": str(i), "message": m, "context": [], "gold": {"should_call_tool": i % 2 == 0}}
               for i, m in enumerate(MSGS)]
    rows = [{**r, "margin": margins[m]} for r, m in zip(sc.rule_side(samples, SEL), MSGS, strict=True)]
    comb = {"rule": 0.7, "margin": 1.3, "bias": 0.2}
    st = fit.Setting(scale=8.0, threshold=0.6, a=1.0, b=0.0, auc=1.0, band=0.6, weight=1.0, combiner=comb)
    preds = fit.predict(rows, st)
    dec = _decider(tmp_path, monkeypatch, margins, comb, band=0.6)
    got = [dec.decide(m) for m in MSGS]
    assert [d.should_call_tool for d in got] == [p["hybrid"] for p in preds]
    assert [d.used_llm for d in got] == [p["used_llm"] for p in preds]
    assert any(p["used_llm"] for p in preds) and not all(p["used_llm"] for p in preds)


def test_stacked_cv_keeps_held_out_rows_from_the_tuner():
    val, mt = _two_sets()
    folds = fit.stratified_folds(mt, 5, seed=0)
    seen = []

    def spy(rows, rule=None):
        seen.append({r["id"] for r in rows})
        return fit.tune_stacked(rows, rule=rule)

    res = fit.cross_validate(val, mt, k=5, seed=0, tuner=spy)
    for f, ids in enumerate(seen):
        assert not ids & {r["id"] for r in mt if folds[r["id"]] == f}
    assert len(res["preds"]) == len(mt)
    with pytest.raises(ValueError):
        fit.tune(val + mt, objective="minimax")


# ---- the shipped fit on real scores ----------------------------------------------------------------------------------
# real LLM margins of the timing test splits, copied from the score cache bench/timing_cv.py fills (user cache dir)
SCORE_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "timing-cache"
FITS = [  # (calibration key, score-cache model key, split, consults the LLM there)
    ("qwen2.5-coder-1.5b|lora:none|vote:tools0", "qwen2.5-coder-1.5b|lora:none", "test", True),
    ("qwen2.5-coder-1.5b|lora:none|vote:tools0", "qwen2.5-coder-1.5b|lora:none", "test_extended", True),
    ("sage-gemma3-270m|lora:f376b0be6f8d|vote:tools0", "sage-gemma3-270m|lora:f376b0be6f8d", "test", False),
    ("sage-gemma3-270m|lora:f376b0be6f8d|vote:tools0", "sage-gemma3-270m|lora:f376b0be6f8d", "test_extended", True),
]


@pytest.mark.parametrize(("key", "cache_key", "split", "consults"), FITS)
def test_shipped_fits_consult_the_llm_and_meet_the_target_on_real_scores(key, cache_key, split, consults):
    """The Qwen and timing-adapter entries of core/timing/calibration.json, applied to the cached real LLM margins
    of the timing test splits (tests/fixtures/timing-cache, written by bench/timing_cv.py from llama.cpp) with the
    rule recomputed by the current code: the hybrid consults the LLM on some inputs (never on all) and is >= rule
    and >= LLM."""
    from core.catalog import load_catalog
    from core.datasets import default_dataset_path, load_dataset
    from core.planning.registry import make_selector
    from core.timing.decider import TimingConfig

    entry = json.loads(Path(fit.__file__).with_name("calibration.json").read_text())[key]
    ds = load_dataset(default_dataset_path("timing_judgment", split), task="timing_judgment")
    cache = sc.cache_path(split, ds.sha256, cache_key, 0, "keyword", SCORE_FIXTURES)
    assert cache.is_file(), (f"no cached margins for {split}: run bench/timing_cv.py for {cache_key} and copy "
                             f"{cache.name} from its cache dir to {SCORE_FIXTURES}")
    side = sc.rule_side(ds.samples, make_selector(load_catalog(), "keyword"))
    rows = [r for r in sc.merge(side, sc.load_cache(cache), split) if r["margin"] is not None]
    assert len(rows) == len(ds.samples)
    cfg = TimingConfig()
    st = fit.Setting(cfg.score_scale, cfg.threshold, entry["a"], entry["b"], entry["llm_auc_val"], entry["band"],
                    entry["llm_weight"], combiner=entry["combiner"])
    s = fit.summarize(fit.predict(rows, st))
    assert s["consult_rate"] < 1 and (s["consult_rate"] > 0) == consults
    assert s["hybrid_ge_both"], (s["rule"]["acc"], s["llm"]["acc"], s["hybrid"]["acc"])
