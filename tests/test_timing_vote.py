"""Calibrated LLM vote (logits of the constrained true/false choice) and the hybrid that weighs it."""

import math

import pytest
from planning_support import OverlapSelector, ScriptedBackend, make_catalog

from core.timing.decider import TimingConfig, TimingDecider
from core.timing.features import extract_features
from core.timing.llm_vote import (
    FALSE_TEXT,
    TRUE_TEXT,
    Calibration,
    calibration_for,
    fit_platt,
    model_key,
    save_calibration,
    vote_margin,
)

CAT = make_catalog()
SEL = OverlapSelector().fit(CAT)


class LogitBackend(ScriptedBackend):
    """Scores the true/false continuations with a fixed margin per message (and records the calls)."""

    def __init__(self, margins: dict[str, float], default: float = 0.0) -> None:
        super().__init__([])
        self.margins, self.default, self.scored = margins, default, []

    def continuation_logprobs(self, messages, texts):
        assert list(texts) == [TRUE_TEXT, FALSE_TEXT]
        msg = messages[-1]["content"].split("Message: ")[-1].split("\nDecision:")[0]
        self.scored.append(msg)
        m = self.margins.get(msg, self.default)
        return [-1.0 + m / 2, -1.0 - m / 2]


def test_fit_platt_recovers_a_monotone_mapping():
    margins = [-3, -2, -1.5, -1, -0.5, 0.2, 0.5, 1, 2, 3, 0.8, -0.2]
    labels = [m > 0.1 for m in margins]
    labels[-1], labels[-2] = True, False  # some noise so the fit stays finite
    a, b = fit_platt(margins, labels)
    assert a > 0 and abs(b / a) < 1.0
    assert fit_platt([1.0, 2.0], [True, True]) == (0.0, 0.0)


def test_fit_platt_removes_a_constant_bias():
    # a model that always prefers "true" (margins 2..4) but is higher on the real positives
    margins = [3.5, 3.8, 4.0, 3.6, 2.0, 2.3, 2.5, 2.1]
    labels = [True] * 4 + [False] * 4
    a, b = fit_platt(margins, labels)
    cal = Calibration(a, b)
    assert all((cal.probability(m) >= 0.5) == g for m, g in zip(margins, labels, strict=True))
    assert sum(m > 0 for m in margins) == 8  # the raw greedy choice would say "call" every time


def test_llm_strategy_uses_the_calibrated_probability():
    b = LogitBackend({"weather in Oslo?": 2.0, "hi there!": -3.0})
    d = TimingDecider("llm", CAT, selector=SEL, backend=b, config=TimingConfig(llm_weight=1.0))
    yes, no = d.decide("weather in Oslo?"), d.decide("hi there!")
    assert yes.should_call_tool and yes.used_llm and yes.llm_probability == pytest.approx(1 / (1 + math.exp(-2)), 1e-3)
    assert yes.tool is not None and "P(call)" in yes.reason
    assert not no.should_call_tool and no.tool is None and no.llm_probability < 0.5
    assert b.calls == []  # scored, not generated


def test_hybrid_consults_the_llm_only_in_the_band_and_weighs_it():
    msgs = ["What's the weather in Rome today?", "Why is the sky blue?", "tell me something about hotels",
            "I wonder about flights", "Rome", "hi there!"]
    rule = TimingDecider("rule", CAT, selector=SEL)
    rd = {m: rule.decide(m) for m in msgs}
    band = sorted(d.confidence for d in rd.values())[len(msgs) // 2]
    inside = [m for m in msgs if rd[m].confidence < band]
    assert inside and len(inside) < len(msgs)
    # a confident LLM that contradicts the rule inside the band flips it; outside the band it is never asked
    contra = {m: (-6.0 if rd[m].should_call_tool else 6.0) for m in msgs}
    b = LogitBackend(contra)
    hyb = TimingDecider("hybrid", CAT, selector=SEL, backend=b, config=TimingConfig(band=band, llm_weight=1.0))
    for m in msgs:
        d = hyb.decide(m)
        assert d.used_llm == (m in inside)
        assert d.should_call_tool == (not rd[m].should_call_tool if m in inside else rd[m].should_call_tool)
    assert sorted(b.scored) == sorted(inside)
    # an uninformative LLM (P = 0.5) leaves the rule's decision unchanged
    flat = TimingDecider("hybrid", CAT, selector=SEL, backend=LogitBackend({}), config=TimingConfig(band=band))
    assert all(flat.decide(m).should_call_tool == rd[m].should_call_tool for m in msgs)
    # weight 0 = rule
    zero = TimingDecider("hybrid", CAT, selector=SEL, backend=LogitBackend(contra),
                         config=TimingConfig(band=band, llm_weight=0.0))
    assert all(zero.decide(m).should_call_tool == rd[m].should_call_tool for m in msgs)


def test_generate_vote_still_available():
    b = ScriptedBackend([{"should_call_tool": True, "tool": "get_weather", "reason": "live"}])
    d = TimingDecider("llm", CAT, selector=SEL, backend=b, config=TimingConfig(llm_vote="generate")).decide("Oslo?")
    assert d.should_call_tool and d.llm_probability is None and len(b.calls) == 1


def test_calibration_is_keyed_by_model_and_lora_hash(tmp_path):
    class Model:
        def __init__(self, name, lora):
            self.name, self.lora = name, lora

    class B:
        def __init__(self, model):
            self.model = model

    lora = tmp_path / "adapter.gguf"
    lora.write_bytes(b"GGUF one")
    be = B(Model("sage-gemma3-270m", lora))
    key = model_key(be)
    assert key.startswith("sage-gemma3-270m|lora:") and key != "sage-gemma3-270m|lora:none"
    path = tmp_path / "cal.json"
    save_calibration(Calibration(0.7, -1.2, key, "validation", 10), path, extra={"band": 0.3, "llm_weight": 2.0})
    cal = calibration_for(be, path)
    assert (cal.a, cal.b, cal.band, cal.llm_weight) == (0.7, -1.2, 0.3, 2.0)
    lora.write_bytes(b"GGUF two, retrained")  # a replaced adapter gets no stale calibration
    cal2 = calibration_for(be, path)
    assert (cal2.a, cal2.b, cal2.band) == (1.0, 0.0, None)
    assert model_key(B(Model("gemma3-270m", None))) == "gemma3-270m|lora:none"


def test_rule_features_tuned_on_validation():
    assert extract_features("what does buy now, pay later actually mean?").knowledge_question
    assert not extract_features("what does buy now, pay later actually mean?").realtime
    assert extract_features("how bad are the lines at AMS rn").realtime
    assert extract_features("any chance you could switch the lights in the patio off?").action_verb
    assert extract_features("suggest three taglines for an article on vendor pricing").creative
    ctx = [{"role": "user", "content": "weather in Leipzig?"}, {"role": "assistant", "content": ""},
           {"role": "tool", "content": '{"city": "Leipzig", "value": 41.9}'}]
    f = extract_features("same question for Ghent, please", ctx)
    assert f.new_request and not f.result_in_context
    assert extract_features("hmm, could you explain that result more simply?", ctx).result_in_context
    assert not extract_features("how about Ghent then?").new_request  # no tool result: not a follow-up


@pytest.mark.slow
def test_vote_margin_on_llama_cpp_is_deterministic_and_cache_safe():
    from core.llm.llamacpp import LlamaCppBackend
    from core.llm.prompts import timing_prompt

    be = LlamaCppBackend("gemma3-270m", n_threads=1)
    tools = [CAT.get("get_weather")]
    p1 = timing_prompt("What's the weather in Rome today?", [], tools)
    p2 = timing_prompt("thanks, bye", [], tools)
    m1 = vote_margin(be, p1)
    m2 = vote_margin(be, p2)
    assert m1 is not None and math.isfinite(m1) and math.isfinite(m2)
    assert vote_margin(be, p1) == pytest.approx(m1, abs=1e-3)  # KV prefix reuse does not change the score
    d = TimingDecider("llm", CAT, selector=SEL, backend=be).decide("What's the weather in Rome today?")
    assert d.used_llm and d.llm_probability is not None and 0.0 <= d.llm_probability <= 1.0


def test_opt_in_disk_cache_of_votes(tmp_path, monkeypatch):
    import core.timing.llm_vote as lv

    monkeypatch.setenv(lv.VOTE_CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(lv, "_DISK", {})
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "Message: Oslo?\nDecision:"}]
    b1 = LogitBackend({"Oslo?": 1.5})
    assert vote_margin(b1, msgs) == pytest.approx(1.5) and vote_margin(b1, msgs) == pytest.approx(1.5)
    assert b1.scored == ["Oslo?"]
    b2 = LogitBackend({"Oslo?": 9.0})  # same model key ("scripted|lora:none"): served from disk, not scored
    assert vote_margin(b2, msgs) == pytest.approx(1.5) and b2.scored == []
    assert len(list(tmp_path.glob("*.jsonl"))) == 1


def test_band_and_weight_come_from_the_model_calibration(tmp_path, monkeypatch):
    import core.timing.llm_vote as lv

    path = tmp_path / "cal.json"
    monkeypatch.setattr(lv, "CALIBRATION_FILE", path)
    b = LogitBackend({}, default=-8.0)
    key = model_key(b)
    # an uninformative model (validation AUC < 0.6) is stored with band 0: the hybrid never consults it
    save_calibration(Calibration(0.1, 0.0, key, "validation", 200), path, extra={"band": 0.0, "llm_weight": 0.1})
    monkeypatch.setattr("core.timing.decider.calibration_for", lambda be, **kw: lv.calibration_for(be, path, **kw))
    hyb = TimingDecider("hybrid", CAT, selector=SEL, backend=b)
    assert (hyb.band, hyb.llm_weight) == (0.0, 0.1)
    assert not any(hyb.decide(m).used_llm for m in ["Rome", "hi there!", "I wonder about flights"])
    assert b.scored == []
    assert TimingDecider("hybrid", CAT, selector=SEL, backend=b, config=TimingConfig(band=1.0)).band == 1.0
