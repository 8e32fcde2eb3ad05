"""Catalog and dataset loaders: valid files load, bad lines name file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.catalog import load_catalog
from core.datasets import load_dataset
from core.errors import DataError

TOOL = {
    "tool_id": "weather_get_current",
    "name": "Get Current Weather",
    "category": "environment",
    "description": "Current conditions for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City"}}, "required": ["city"]},
    "returns": "conditions",
}


def write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_catalog_loads_and_hash_is_content_based(tmp_path: Path) -> None:
    a = load_catalog(write(tmp_path / "a.jsonl", [TOOL]))
    (tmp_path / "b.jsonl").write_text(json.dumps(TOOL, indent=None, separators=(",", ":")) + "\n\n")
    b = load_catalog(tmp_path / "b.jsonl")
    assert len(a) == 1 and a.get("weather_get_current").required == ["city"]
    assert a.hash == b.hash


@pytest.mark.parametrize(
    ("rows", "line", "field"),
    [
        ([TOOL, "{not json"], 2, None),
        ([TOOL, {**TOOL, "tool_id": "other", "name": 3}], 2, "name"),
        ([TOOL, {k: v for k, v in TOOL.items() if k != "description"}], 2, "description"),
        ([TOOL, TOOL], 2, "tool_id"),
        ([{**TOOL, "tool_id": "Bad-Id"}], 1, "tool_id"),
        ([{**TOOL, "parameters": {"type": "object", "properties": {}, "required": ["x"]}}], 1, "parameters.required"),
    ],
)
def test_catalog_errors_name_line_and_field(tmp_path: Path, rows: list, line: int, field: str | None) -> None:
    p = write(tmp_path / "cat.jsonl", rows)
    with pytest.raises(DataError) as ei:
        load_catalog(p)
    assert ei.value.path == str(p) and ei.value.line == line and ei.value.field == field
    assert f"{p}:{line}" in str(ei.value)


def test_non_utf8_and_empty(tmp_path: Path) -> None:
    p = tmp_path / "bin.jsonl"
    p.write_bytes(json.dumps(TOOL).encode() + b"\n\xff\xfe{}\n")
    with pytest.raises(DataError, match="UTF-8") as ei:
        load_catalog(p)
    assert ei.value.line == 2
    e = tmp_path / "empty.jsonl"
    e.write_text("\n")
    with pytest.raises(DataError, match="empty"):
        load_dataset(e)


SEL = {"id": "s1", "task": "tool_selection", "instruction": "weather?", "candidate_tools": ["a", "b"], "gold": {"tools": ["a"]}}
PLAN = {
    "id": "p1",
    "task": "task_planning",
    "instruction": "x",
    "candidate_tools": ["a"],
    "gold": {"steps": [{"id": 1, "tool_id": "a", "arguments": {}, "depends_on": []}]},
}
TIMING = {"id": "t1", "task": "timing_judgment", "message": "hi", "context": [], "gold": {"should_call_tool": False}}


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({**SEL, "gold": {"tools": []}}, "gold.tools"),
        ({**SEL, "candidate_tools": "a"}, "candidate_tools"),
        ({**SEL, "task": "dance"}, "task"),
        ({**PLAN, "gold": {"steps": [{"id": "1", "tool_id": "a"}]}}, "gold.steps[0].id"),
        ({**PLAN, "gold": {"steps": [{"id": 1, "tool_id": "a", "depends_on": ["x"]}]}}, "gold.steps[0].depends_on"),
        ({**TIMING, "gold": {"should_call_tool": "yes"}}, "gold.should_call_tool"),
        ({**TIMING, "context": [{"role": "robot", "content": "x"}]}, "context[0].role"),
        ({"id": "d", "task": "tool_selection", "messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "a", "arguments": "{"}}]}]}, "messages[0].tool_calls[0].function.arguments"),
    ],
)
def test_dataset_errors_name_field(tmp_path: Path, bad: dict, field: str) -> None:
    p = write(tmp_path / "ds.jsonl", [SEL, PLAN, TIMING, bad])
    with pytest.raises(DataError) as ei:
        load_dataset(p)
    assert ei.value.line == 4 and ei.value.field == field


def test_dataset_duplicate_ids_and_task_filter(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="duplicate id") as ei:
        load_dataset(write(tmp_path / "d.jsonl", [SEL, SEL]))
    assert ei.value.line == 2
    ds = load_dataset(write(tmp_path / "ok.jsonl", [SEL, PLAN, TIMING]))
    assert len(ds) == 3 and ds.task is None and ds.by_task("task_planning")[0]["id"] == "p1"
    with pytest.raises(DataError, match="expected"):
        load_dataset(tmp_path / "ok.jsonl", task="tool_selection")
