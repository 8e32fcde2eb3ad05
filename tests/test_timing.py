import pytest
from planning_support import OverlapSelector, ScriptedBackend, make_catalog

from core.errors import UsageError
from core.timing.decider import TimingConfig, TimingDecider
from core.timing.features import extract_features

CAT = make_catalog()
SEL = OverlapSelector().fit(CAT)

TOOL_NEEDED = ["What's the weather in Rome today?", "Book a hotel in Paris for 3 nights",
               "Convert $250 to euros", "Send an email to ana@example.com about the meeting",
               "What is the latest stock price of ACME?"]
NO_TOOL = ["hi there!", "thanks, that's all", "Write a poem about autumn", "Why is the sky blue?",
           "Explain how photosynthesis works"]


def test_features():
    f = extract_features("Book a flight to Rome on March 3 for $300")
    assert f.action_verb and f.date and f.amount and f.proper_noun
    assert extract_features("hello!").chitchat
    assert extract_features("What is a monad?").knowledge_question
    ctx = [{"role": "user", "content": "weather in Rome?"}, {"role": "tool", "content": "Rome: 21C sunny"}]
    assert extract_features("so is it sunny in Rome?", ctx).result_in_context


@pytest.mark.parametrize("msg", TOOL_NEEDED)
def test_rule_calls_tools_when_needed(msg):
    d = TimingDecider("rule", CAT, selector=SEL).decide(msg)
    assert d.should_call_tool and d.tool is not None and d.strategy == "rule" and not d.used_llm
    assert 0.0 <= d.confidence <= 1.0 and d.reason


@pytest.mark.parametrize("msg", NO_TOOL)
def test_rule_answers_directly(msg):
    d = TimingDecider("rule", CAT, selector=SEL).decide(msg)
    assert not d.should_call_tool and d.tool is None


def test_tool_result_already_in_context_answers_directly():
    ctx = [{"role": "user", "content": "What's the weather in Rome today?"},
           {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": "{}"}}]},
           {"role": "tool", "content": "Rome today: 21C, sunny"}]
    dec = TimingDecider("rule", CAT, selector=SEL)
    assert dec.decide("What's the weather in Rome today?").should_call_tool
    assert not dec.decide("So should I bring an umbrella for Rome today?", ctx).should_call_tool


def test_llm_strategy_parses_constrained_json():
    b = ScriptedBackend([{"should_call_tool": True, "tool": "get_weather", "reason": "live data"}])
    d = TimingDecider("llm", CAT, selector=SEL, backend=b).decide("weather in Oslo?")
    assert (d.should_call_tool, d.tool, d.used_llm, d.confidence) == (True, "get_weather", True, 1.0)
    enum = b.calls[0]["json_schema"]["properties"]["tool"]["enum"]
    assert None in enum and "get_weather" in enum


def test_llm_unparseable_falls_back_to_rule_with_zero_confidence():
    b = ScriptedBackend(["sorry"])
    d = TimingDecider("llm", CAT, selector=SEL, backend=b).decide("Book a hotel in Paris")
    assert d.should_call_tool and d.confidence == 0.0 and "unparseable" in d.reason


def test_hybrid_consults_llm_only_inside_the_band():
    msgs = TOOL_NEEDED + NO_TOOL + ["Rome", "I wonder about flights", "tell me something about hotels"]
    rule = TimingDecider("rule", CAT, selector=SEL)
    confs = [rule.decide(m).confidence for m in msgs]
    band = sorted(confs)[len(confs) // 2]  # half of the inputs fall inside the band
    b = ScriptedBackend([{"should_call_tool": False, "tool": None, "reason": "x"}] * len(msgs))
    hyb = TimingDecider("hybrid", CAT, selector=SEL, backend=b, config=TimingConfig(band=band))
    used = [hyb.decide(m).used_llm for m in msgs]
    assert any(used) and not all(used)
    assert used == [c < band for c in confs]


def test_bad_input():
    with pytest.raises(UsageError):
        TimingDecider("rule", CAT, selector=SEL).decide("  ")
    with pytest.raises(UsageError, match="strategy"):
        TimingDecider("magic", CAT, selector=SEL)
