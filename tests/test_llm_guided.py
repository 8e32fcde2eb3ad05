"""Schema -> regex for guided decoding: exactly the compact json.dumps layout of valid objects."""

import json

import pytest
import regex
from planning_support import make_catalog

from core.llm.json_regex import UnsupportedSchema, schema_to_regex
from core.llm.prompts import (
    subgoals_schema,
    tagged_steps_schema,
    tagged_steps_target,
    timing_schema,
    tool_steps_schema,
)


def _rx(schema):
    return regex.compile(schema_to_regex(schema))


def test_tool_steps_regex_accepts_gold_layout_and_rejects_foreign_keys_and_tools():
    cat = make_catalog()
    tools = [cat.get("get_weather"), cat.get("send_email")]
    rx = _rx(tool_steps_schema(tools, 3))
    good = {"steps": [{"id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
                      {"id": 2, "tool_id": "send_email", "arguments": {"to": "ana@x.org", "body": "{{step_1}}"},
                       "depends_on": [1]}]}
    assert rx.fullmatch(json.dumps(good))
    assert rx.fullmatch(json.dumps(good, ensure_ascii=False).replace("Rome", "Zürich"))
    bad_key = json.dumps(good).replace('"city"', '"town"')
    assert not rx.fullmatch(bad_key, partial=True)
    assert not rx.fullmatch(json.dumps(good).replace("send_email", "delete_all_files"), partial=True)
    too_many = {"steps": good["steps"] * 2}
    assert not rx.fullmatch(json.dumps(too_many))
    # a prefix of a valid answer is a partial match; pretty-printed JSON is not this layout
    assert rx.fullmatch(json.dumps(good)[:40], partial=True)
    assert not rx.fullmatch(json.dumps(good, indent=1), partial=True)


def test_tagged_steps_regex_restricts_the_subgoal_tag_and_matches_the_training_target():
    cat = make_catalog()
    tools = [cat.get("get_weather"), cat.get("send_email")]
    rx = _rx(tagged_steps_schema(tools, 4, 2))
    steps = [{"id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
             {"id": 2, "tool_id": "send_email", "arguments": {"to": "ana@x.org"}, "depends_on": [1]}]
    good = tagged_steps_target(steps, [1, 2])
    assert good.startswith('{"steps": [{"subgoal": 1, "id": 1, "tool_id": "get_weather"')
    assert rx.fullmatch(good)
    assert not rx.fullmatch(good.replace('"subgoal": 2', '"subgoal": 3'), partial=True)  # no sub-goal 3
    assert not rx.fullmatch(good.replace('"subgoal": 1, ', ''), partial=True)  # the tag is required, first
    assert not rx.fullmatch(good.replace("send_email", "delete_all_files"), partial=True)
    # after `"subgoal": ` only a digit of 1..n may follow
    prefix = '{"steps": [{"subgoal": '
    assert rx.fullmatch(prefix + "2", partial=True) and not rx.fullmatch(prefix + "0", partial=True)


def test_timing_and_subgoal_regexes():
    rx = _rx(timing_schema(["get_weather"]))
    assert rx.fullmatch(json.dumps({"should_call_tool": False, "tool": None, "reason": "chit-chat"}))
    assert rx.fullmatch(json.dumps({"should_call_tool": True, "tool": "get_weather", "reason": "live"}))
    assert not rx.fullmatch(json.dumps({"should_call_tool": True, "tool": "other", "reason": "x"}), partial=True)
    assert not rx.fullmatch(json.dumps({"should_call_tool": True, "tool": None, "reason": "x" * 61}))
    sg = _rx(subgoals_schema(2))
    assert sg.fullmatch('{"subgoals": ["get the weather", "send it"]}')
    assert not sg.fullmatch('{"subgoals": ["a", "b", "c"]}', partial=True)  # minLength 3, maxItems 2
    # raw control characters never fit a string
    assert not sg.fullmatch('{"subgoals": ["get\nweather"]}', partial=True)


def test_unsupported_schema_is_reported():
    with pytest.raises(UnsupportedSchema):
        schema_to_regex({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                         "required": ["a"]})
    with pytest.raises(UnsupportedSchema):
        schema_to_regex({"description": "no type"})


def test_prefix_items_regex_keeps_a_schema_per_position_within_the_bounds():
    rx = _rx({"type": "array", "prefixItems": [{"const": 1}, {"const": 2}, {"const": 3}], "items": False,
              "minItems": 1, "maxItems": 3})
    assert [t for t in ("[]", "[1]", "[1, 2]", "[1, 2, 3]", "[2]", "[1, 3]", "[1, 2, 3, 4]")
            if rx.fullmatch(t)] == ["[1]", "[1, 2]", "[1, 2, 3]"]
    more = _rx({"type": "array", "prefixItems": [{"const": 1}], "items": {"enum": [7]}, "maxItems": 3})
    assert [t for t in ("[]", "[1]", "[1, 7]", "[1, 7, 7]", "[7]", "[1, 7, 7, 7]") if more.fullmatch(t)] == \
        ["[]", "[1]", "[1, 7]", "[1, 7, 7]"]
    with pytest.raises(UnsupportedSchema):  # further items without a bound
        schema_to_regex({"type": "array", "prefixItems": [{"const": 1}], "maxItems": 3})


def test_positional_step_schema_forces_sequential_ids_and_earlier_dependencies():
    cat = make_catalog()
    tools = [cat.get("get_weather"), cat.get("send_email")]
    rx = _rx(tagged_steps_schema(tools, 3, 2, first_id=1))
    steps = [{"id": 1, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
             {"id": 2, "tool_id": "get_weather", "arguments": {"city": "Oslo"}, "depends_on": []},
             {"id": 3, "tool_id": "send_email", "arguments": {"to": "ana@x.org"}, "depends_on": [1, 2]}]
    assert rx.fullmatch(tagged_steps_target(steps, [1, 1, 2]))
    # the first step: sub-goal 1, id 1 and no dependency are the only choices (fast-forwarded, never sampled)
    assert rx.fullmatch('{"steps": [{"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {}, '
                        '"depends_on": []}]}')
    for bad in ('{"steps": [{"subgoal": 2', '{"steps": [{"subgoal": 1, "id": 2',
                '{"steps": [{"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {}, "depends_on": [1',
                '{"steps": [{"subgoal": 1, "id": 1, "tool_id": "get_weather", "arguments": {}, "depends_on": []}, '
                '{"subgoal": 1, "id": 3'):
        assert not rx.fullmatch(bad, partial=True), bad
    # step 2 may depend on step 1 only; a 4th step does not fit (max 3 steps)
    on = [steps[0], {**steps[1], "depends_on": [1]}]
    assert rx.fullmatch(tagged_steps_target(on, [1, 1]))
    assert not rx.fullmatch(tagged_steps_target([steps[0], {**steps[1], "depends_on": [2]}], [1, 1]))
    assert not rx.fullmatch(tagged_steps_target([*steps, {**steps[2], "id": 4}], [1, 1, 2, 2]))
    plain = _rx(tool_steps_schema(tools, 3, first_id=3))  # per-sub-goal calls continue after earlier steps
    assert plain.fullmatch('{"steps": [{"id": 3, "tool_id": "send_email", "arguments": {}, "depends_on": [1, 2]}]}')
    assert not plain.fullmatch('{"steps": [{"id": 1', partial=True)


def test_positional_schemas_accept_every_gold_plan_of_the_datasets():
    """The positional schema only removes what no training target contains (ids are 1..n, dependencies
    point backwards), so it cannot exclude a gold plan."""
    from core.catalog import load_catalog
    from core.datasets import default_dataset_path, load_dataset
    from training.prompts_bridge import subgoal_groups

    cat = load_catalog()
    n = 0
    for split in ("validation", "test"):
        ds = load_dataset(default_dataset_path("task_planning", split), task="task_planning")
        for s in ds.samples:
            tools = [cat.get(t) for t in s["candidate_tools"]]
            steps = s["gold"]["steps"]
            groups = subgoal_groups(steps, cat)
            tags = [k for k, (_, part) in enumerate(groups, start=1) for _ in part]
            rx = _rx(tagged_steps_schema(tools, len(steps), len(groups), first_id=1))
            assert rx.fullmatch(tagged_steps_target(steps, tags)), s["id"]
            n += 1
    assert n >= 100


def test_relaxed_prefix_items_for_gbnf_keep_every_position_and_the_bounds():
    from core.llm.llamacpp import relax_prefix_items

    cat = make_catalog()
    schema = tool_steps_schema([cat.get("get_weather")], 2, first_id=1)
    relaxed = relax_prefix_items(schema)
    arr = relaxed["properties"]["steps"]
    assert "prefixItems" not in json.dumps(relaxed) and arr["minItems"] == 1 and arr["maxItems"] == 2
    assert [p["anyOf"][0]["properties"]["id"] for p in arr["items"]["anyOf"]] == [{"const": 1}, {"const": 2}]
    assert "prefixItems" in json.dumps(schema)  # the input is not changed
