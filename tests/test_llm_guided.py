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
