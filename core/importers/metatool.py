"""MetaTool (github.com/HowieHwong/MetaTool) -> catalog + tool_retrieval + timing_judgment files.

Input folder: plugin_des.json ({name: description}, 199 tools), all_clean_data.csv (Query, Tool:
single-tool queries), multi_tool_query_golden.json ([{query, tool: [name, name]}]) and
optionally Task1.json ([{query, label: positive|negative, tool?}]).
Output:
  catalog.jsonl
  tool_retrieval.jsonl      every 5th single-tool query (rows 0, 5, 10, ...) + all multi-tool
                            queries: the evaluation set (the reference figures use this split)
  tool_retrieval_dev.jsonl  every 5th single-tool query starting at row 1: disjoint, for tuning
  timing_judgment.jsonl     Task1 "does this query need a tool?"
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from core.errors import DataError, NotFoundError
from core.importers.common import ImportResult, read_json, unique_ids

EVAL_EVERY = 5


def import_metatool(src: Path) -> ImportResult:
    folder = src if src.is_dir() else src.parent
    des_file = folder / "plugin_des.json"
    des = read_json(des_file)
    if not isinstance(des, dict) or not des:
        raise DataError("expected a non-empty object {tool name: description}", path=str(des_file))
    for name, text in des.items():
        if not isinstance(text, str) or not text.strip():
            raise DataError("description must be a non-empty string", path=str(des_file), field=name)
    ids = unique_ids(list(des), str(des_file))
    res = ImportResult("metatool")
    rows = [
        {"tool_id": ids[n], "name": n, "category": "metatool", "description": d.strip(),
         "parameters": {"type": "object", "properties": {}}, "returns": ""}
        for n, d in des.items()
    ]
    catalog = res.add_catalog(rows, str(des_file))

    single_file = folder / "all_clean_data.csv"
    if not single_file.exists():
        raise NotFoundError(f"{single_file}: file not found", hint="give the MetaTool dataset folder")
    evaluation: list[dict[str, Any]] = []
    dev: list[dict[str, Any]] = []
    unknown = 0
    with single_file.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"Query", "Tool"} <= set(reader.fieldnames):
            raise DataError("expected columns Query,Tool", path=str(single_file), line=1)
        for i, row in enumerate(reader):
            tool = row.get("Tool")
            if tool not in ids:
                unknown += 1
                continue
            sample = {"id": f"metatool-single-{i}", "task": "tool_retrieval", "instruction": row["Query"] or "",
                      "candidate_tools": None, "gold": {"tools": [ids[tool]]}}
            if not sample["instruction"].strip():
                continue
            if i % EVAL_EVERY == 0:
                evaluation.append(sample)
            elif i % EVAL_EVERY == 1:
                dev.append(sample)
    multi_file = folder / "multi_tool_query_golden.json"
    if multi_file.exists():
        multi = read_json(multi_file)
        if not isinstance(multi, list):
            raise DataError("expected a list", path=str(multi_file))
        for i, m in enumerate(multi):
            tools = m.get("tool") if isinstance(m, dict) else None
            if not isinstance(tools, list) or not isinstance(m.get("query"), str):
                raise DataError("needs query and a tool list", path=str(multi_file), field=f"[{i}]")
            if any(t not in ids for t in tools):
                unknown += 1
                continue
            evaluation.append({"id": f"metatool-multi-{i}", "task": "tool_retrieval", "instruction": m["query"],
                               "candidate_tools": None, "gold": {"tools": list(dict.fromkeys(ids[t] for t in tools))}})
    if unknown:
        res.notes.append(f"skipped {unknown} queries naming tools missing from plugin_des.json")
    res.add_dataset("tool_retrieval.jsonl", evaluation, catalog, str(single_file))
    res.add_dataset("tool_retrieval_dev.jsonl", dev, catalog, str(single_file))

    task1 = folder / "Task1.json"
    if task1.exists():
        items = read_json(task1)
        if not isinstance(items, list):
            raise DataError("expected a list", path=str(task1))
        timing = []
        for i, it in enumerate(items):
            if not isinstance(it, dict) or it.get("label") not in ("positive", "negative") or not isinstance(it.get("query"), str):
                raise DataError("needs query and label positive|negative", path=str(task1), field=f"[{i}]")
            pos = it["label"] == "positive"
            tool = ids.get(it.get("tool") or "") if pos else None
            timing.append({"id": f"metatool-task1-{i}", "task": "timing_judgment", "message": it["query"], "context": [],
                           "gold": {"should_call_tool": pos, "tool": tool}})
        res.add_dataset("timing_judgment.jsonl", timing, catalog, str(task1))
    return res
