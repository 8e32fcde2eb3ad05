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


def test_planning_views_are_the_hierarchical_and_flat_planner_calls(dialogs):
    cat = load_catalog_cached()
    d = _first(dialogs, lambda x: x["task"] == "task_planning" and len(x["gold"]["steps"]) == 4)
    views = expand_views([d], ["flat", "subgoals", "steps"])
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
