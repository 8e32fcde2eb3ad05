"""Training samples are rendered with exactly the prompts the planners and the timing decider send
at inference (core/llm/prompts.py + core/llm/chat_format.py), from the real bundled dialogs."""

from __future__ import annotations

import json

import pytest

from core.catalog import load_catalog_cached
from core.datasets import default_dataset_path, load_dataset
from core.errors import ConfigError, DataError
from core.llm import prompts
from core.llm.chat_format import render_gemma as render_inference
from training.config import config_from_dict
from training.formatting import render_gemma
from training.prompts_bridge import (
    MAX_STEPS_PER_SUBGOAL,
    MAX_SUBGOALS,
    balance_timing,
    dialog_messages,
    expand_views,
    subgoal_groups,
)


@pytest.fixture(scope="module")
def dialogs():
    return load_dataset(default_dataset_path("task_planning", "train")).samples


def _first(dialogs, pred):
    return next(d for d in dialogs if pred(d))


def _check_prefix(msgs):
    """The training text is the inference prompt followed by the answer and <end_of_turn>."""
    text, spans = render_gemma(msgs)
    prompt = render_inference(msgs[:-1])
    assert text.startswith(prompt)
    assert text[spans[-1][0]:spans[-1][1]] == msgs[-1]["content"] + "<end_of_turn>"
    assert spans[-1][0] == len(prompt)


def test_batched_level2_view_is_the_hierarchical_planners_step_call(dialogs):
    cat = load_catalog_cached()
    d = _first(dialogs, lambda x: x["task"] == "task_planning" and len(x["gold"]["steps"]) == 4)
    views = expand_views([d], ["subgoals", "steps"])
    assert [v["id"] for v in views] == [f"{d['id']}:subgoals", f"{d['id']}:steps"]
    tools = [cat.get(t) for t in d["tools"]]
    goal = d["messages"][1]["content"]
    subgoals = json.loads(dialog_messages(views[0])[-1]["content"])["subgoals"]
    msgs = dialog_messages(views[1])
    assert msgs[:-1] == prompts.steps_all_prompt(goal, tools, subgoals)
    assert "Sub-goals:\n1. " in msgs[1]["content"] and msgs[1]["content"].endswith("\nSteps:")
    answer = json.loads(msgs[-1]["content"])["steps"]
    assert [list(s)[:2] for s in answer] == [["subgoal", "id"]] * 4  # the tag comes first (schema order)
    assert [s["subgoal"] for s in answer] == [1, 2, 3, 4]  # one sub-goal per gold step here
    assert [{k: v for k, v in s.items() if k != "subgoal"} for s in answer] == d["gold"]["steps"]
    _check_prefix(msgs)
    # the target matches the decoding schema's compact layout (guided decoding can reproduce it)
    import regex

    from core.llm.json_regex import schema_to_regex

    pattern = schema_to_regex(prompts.tagged_steps_schema(tools, 8, len(subgoals)))
    assert regex.fullmatch(pattern, msgs[-1]["content"])
    # groups of several steps share one tag
    five = [*d["gold"]["steps"], {**d["gold"]["steps"][0], "id": 5, "depends_on": [4]}]
    msgs5 = dialog_messages({**views[1], "gold": {"steps": five}})
    assert [s["subgoal"] for s in json.loads(msgs5[-1]["content"])["steps"]] == [1, 1, 2, 3, 4]


def test_timing_share_balances_call_and_no_call(dialogs):
    pool = expand_views(dialogs, ["subgoals", "steps"])
    n_timing = sum(s["task"] == "timing_judgment" for s in pool)
    assert n_timing / len(pool) < 0.34  # without balancing (1,100 timing vs 2,200 planning views)
    out = expand_views(dialogs, ["subgoals", "steps"], timing_share=0.38, seed=0)
    timing = [s for s in out if s["task"] == "timing_judgment"]
    calls = sum(bool(s["gold"]["should_call_tool"]) for s in timing)
    assert calls == len(timing) - calls  # balanced
    assert abs(len(timing) / len(out) - 0.38) < 0.01
    assert out == expand_views(dialogs, ["subgoals", "steps"], timing_share=0.38, seed=0)  # deterministic
    order = {s["id"]: i for i, s in enumerate(pool)}
    assert [order[s["id"]] for s in out] == sorted(order[s["id"]] for s in out)  # original order kept
    # too many timing samples for the share: the timing classes shrink alike
    few = [s for s in pool if s["task"] != "timing_judgment"][:100] + [s for s in pool if s["task"] == "timing_judgment"]
    small = balance_timing(few, 0.5, seed=1)
    t = [s for s in small if s["task"] == "timing_judgment"]
    assert len(t) == 100 and sum(bool(s["gold"]["should_call_tool"]) for s in t) == 50
    with pytest.raises(DataError):
        balance_timing(few, 1.5)
    with pytest.raises(ConfigError):
        config_from_dict({"data": {"timing_share": 1.0}})


def test_planning_views_are_the_per_subgoal_and_flat_planner_calls(dialogs):
    cat = load_catalog_cached()
    d = _first(dialogs, lambda x: x["task"] == "task_planning" and len(x["gold"]["steps"]) == 4)
    views = expand_views([d], ["flat", "subgoals", "steps_each"])
    ids = [v["id"] for v in views]
    assert ids[:2] == [f"{d['id']}:flat", f"{d['id']}:subgoals"]
    steps_views = [v for v in views if v["view"].startswith("step")]
    assert len(steps_views) == 4  # one sub-goal per gold step
    tools = [cat.get(t) for t in d["tools"]]
    goal = d["messages"][1]["content"]

    flat = dialog_messages(views[0])
    assert flat[:-1] == prompts.plan_prompt(goal, tools)
    assert json.loads(flat[-1]["content"]) == {"steps": d["gold"]["steps"]}

    sub = dialog_messages(views[1])
    assert sub[:-1] == prompts.subgoal_prompt(goal)
    subgoals = json.loads(sub[-1]["content"])["subgoals"]
    assert len(subgoals) == 4 and all(3 <= len(s) <= 80 for s in subgoals)

    rebuilt, done = [], []
    for k, v in enumerate(steps_views):
        msgs = dialog_messages(v)
        part = json.loads(msgs[-1]["content"])["steps"]
        assert 1 <= len(part) <= MAX_STEPS_PER_SUBGOAL
        assert msgs[:-1] == prompts.step_prompt(goal, tools, done, subgoals[k])
        done += [(s["id"], s["tool_id"]) for s in part]
        rebuilt += part
        _check_prefix(msgs)
    assert rebuilt == d["gold"]["steps"]
    _check_prefix(flat)
    _check_prefix(sub)


def test_long_plans_are_grouped_into_at_most_four_subgoals(dialogs):
    cat = load_catalog_cached()
    d = _first(dialogs, lambda x: x["task"] == "task_planning" and len(x["gold"]["steps"]) == 3)
    six = [{**s, "id": s["id"] + k * 3, "depends_on": [x + k * 3 for x in s["depends_on"]]}
           for k in (0, 1) for s in d["gold"]["steps"]]
    groups = subgoal_groups(six, cat)
    assert [len(p) for _, p in groups] == [2, 2, 1, 1] and len(groups) == MAX_SUBGOALS
    assert all(len(p) <= MAX_STEPS_PER_SUBGOAL and len(t) <= 80 for t, p in groups)
    assert [s for _, p in groups for s in p] == six


def test_timing_dialogs_become_the_timing_decider_prompt(dialogs):
    cat = load_catalog_cached()
    ex = _first(dialogs, lambda x: x["task"] == "timing_judgment" and x.get("variant") == "execution")
    msgs = dialog_messages(ex)
    assert all(m["role"] != "tool" for m in msgs) and len(msgs) == 3  # tool call / result not rendered
    ans = json.loads(msgs[-1]["content"])
    assert ans["should_call_tool"] is True and ans["tool"] == ex["gold"]["tool"]
    assert ans["reason"] == json.loads(ex["messages"][2]["content"])["reason"]
    shown = [line[2:].split(":")[0] for line in msgs[1]["content"].splitlines() if line.startswith("- ")]
    assert len(shown) <= 5 and ex["gold"]["tool"] in shown
    _check_prefix(msgs)
    # a dialog with earlier turns: they become the conversation block, the last user turn the message
    ctx = _first(dialogs, lambda x: x["task"] == "timing_judgment" and sum(m["role"] == "user" for m in x["messages"]) > 1)
    users = [i for i, m in enumerate(ctx["messages"]) if m["role"] == "user"]
    tools = [cat.get(t) for t in ctx["tools"]][:5]
    if ctx["gold"]["tool"] and ctx["gold"]["tool"] not in [t.tool_id for t in tools]:
        tools = [*tools[:4], cat.get(ctx["gold"]["tool"])]
    expected = prompts.timing_prompt(ctx["messages"][users[-1]]["content"], ctx["messages"][1:users[-1]], tools)
    assert dialog_messages(ctx)[:-1] == expected


def test_bad_views_are_typed_errors(dialogs):
    d = _first(dialogs, lambda x: x["task"] == "task_planning")
    with pytest.raises(DataError):
        expand_views([d], ["flat", "hierarchy"])
    with pytest.raises(DataError):
        dialog_messages({**d, "view": "step9"})
    with pytest.raises(ConfigError) as exc:
        config_from_dict({"data": {"plan_views": ["subgoal"]}})
    assert exc.value.field == "data.plan_views"


def test_subgoals_are_tool_titles_with_values_only_to_tell_repeats_apart(dialogs):
    cat = load_catalog_cached()
    d = _first(dialogs, lambda x: x["task"] == "task_planning" and len(x["gold"]["steps"]) == 3)
    steps = d["gold"]["steps"]
    texts = [t for t, _ in subgoal_groups(steps, cat)]
    titles = [cat.get(s["tool_id"]).name.lower() for s in steps]
    assert texts == titles if len(set(titles)) == 3 else len(set(texts)) == 3
    first = steps[0]
    twice = [first, {**first, "id": 2, "arguments": {k: f"{v} bis" for k, v in first["arguments"].items()},
                     "depends_on": []}]
    t1, t2 = [t for t, _ in subgoal_groups(twice, cat)]
    assert t1 == titles[0] and t2 != t1 and t2.startswith(titles[0] + " (")
