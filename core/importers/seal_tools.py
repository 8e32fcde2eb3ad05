"""Seal-Tools (github.com/fairyshine/Seal-Tools) -> catalog + tool_retrieval + task_planning files.

Input folder: tool.jsonl ({api_name, api_description, field, parameters, required, responses})
and any of dev.jsonl / test_in_domain.jsonl / test_out_domain.jsonl ({id, query, calling:
[{api, parameters, responses}]}). A parameter value naming another call's response
("API_call_0") is a dependency edge in the plan.
Output: catalog.jsonl, tool_retrieval_<split>.jsonl, task_planning_<split>.jsonl, and
tool_retrieval_test.jsonl / task_planning_test.jsonl joining the in- and out-of-domain tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from core.errors import DataError, NotFoundError
from core.importers.common import ImportResult, unique_ids
from core.jsonl import iter_jsonl

SPLITS = ("dev", "test_in_domain", "test_out_domain")
TYPES = {"str": "string", "string": "string", "int": "integer", "integer": "integer", "float": "number",
         "number": "number", "bool": "boolean", "boolean": "boolean", "list": "array", "array": "array",
         "dict": "object", "object": "object"}
_REF = re.compile(r"API_call_(\d+)")


def _tool_row(obj: dict[str, Any], tid: str, path: str, line: int) -> dict[str, Any]:
    props: dict[str, Any] = {}
    params = obj.get("parameters") or {}
    if not isinstance(params, dict):
        raise DataError("expected an object", path=path, line=line, field="parameters")
    for pname, spec in params.items():
        spec = spec if isinstance(spec, dict) else {}
        ptype = TYPES.get(str(spec.get("type", "str")).lower(), "string")
        props[pname] = {"type": ptype, "description": str(spec.get("description", ""))}
    responses = obj.get("responses") or {}
    returns = "; ".join(
        f"{k}: {v.get('description', '')}" if isinstance(v, dict) else str(k) for k, v in responses.items()
    ) if isinstance(responses, dict) else ""
    return {
        "tool_id": tid,
        "name": obj["api_name"],
        "category": str(obj.get("field") or "seal-tools"),
        "description": str(obj.get("api_description") or ""),
        "parameters": {"type": "object", "properties": props, "required": [r for r in obj.get("required", []) if r in props]},
        "returns": returns,
    }


def _steps(calls: list[dict[str, Any]], ids: dict[str, str]) -> list[dict[str, Any]]:
    producer: dict[str, int] = {}
    for i, c in enumerate(calls):
        for r in c.get("responses") or []:
            producer.setdefault(str(r), i)
    steps = []
    for i, c in enumerate(calls):
        args = c.get("parameters") or {}
        refs = {f"API_call_{m}" for m in _REF.findall(json.dumps(args))}
        deps = sorted({producer[r] for r in refs if r in producer and producer[r] != i})
        steps.append({"id": i, "tool_id": ids[c["api"]], "arguments": args if isinstance(args, dict) else {}, "depends_on": deps})
    return steps


def import_seal_tools(src: Path) -> ImportResult:
    folder = src if src.is_dir() else src.parent
    tool_file = folder / "tool.jsonl"
    if not tool_file.exists():
        raise NotFoundError(f"{tool_file}: Seal-Tools tool list not found", hint="give the Seal-Tools_Dataset folder")
    raw = []
    for line, obj in iter_jsonl(tool_file):
        for fld in ("api_name", "api_description"):
            if not isinstance(obj.get(fld), str) or not obj[fld].strip():
                raise DataError("missing or empty", path=str(tool_file), line=line, field=fld)
        raw.append((line, obj))
    ids = unique_ids([o["api_name"] for _, o in raw], str(tool_file))
    res = ImportResult("seal-tools")
    catalog = res.add_catalog([_tool_row(o, ids[o["api_name"]], str(tool_file), ln) for ln, o in raw], str(tool_file))
    joined: dict[str, list[dict[str, Any]]] = {"tool_retrieval": [], "task_planning": []}
    for split in SPLITS:
        f = folder / f"{split}.jsonl"
        if not f.exists():
            continue
        retrieval, planning, skipped = [], [], 0
        for line, obj in iter_jsonl(f):
            calls = obj.get("calling")
            if not isinstance(obj.get("query"), str) or not isinstance(calls, list) or not calls:
                raise DataError("needs a query string and a non-empty calling list", path=str(f), line=line)
            if any(not isinstance(c, dict) or c.get("api") not in ids for c in calls):
                skipped += 1  # a call to an API that tool.jsonl does not define
                continue
            sid = str(obj.get("id") or f"{split}-{line}")
            gold = list(dict.fromkeys(ids[c["api"]] for c in calls))
            retrieval.append({"id": sid, "task": "tool_retrieval", "instruction": obj["query"], "candidate_tools": None, "gold": {"tools": gold}})
            planning.append({"id": sid, "task": "task_planning", "instruction": obj["query"], "candidate_tools": None, "gold": {"steps": _steps(calls, ids)}})
        if skipped:
            res.notes.append(f"{f.name}: skipped {skipped} queries calling unknown APIs")
        res.add_dataset(f"tool_retrieval_{split}.jsonl", retrieval, catalog, str(f))
        res.add_dataset(f"task_planning_{split}.jsonl", planning, catalog, str(f))
        if split.startswith("test"):
            joined["tool_retrieval"] += retrieval
            joined["task_planning"] += planning
    if not any(k.startswith("tool_retrieval") for k in res.files):
        raise NotFoundError(f"no query files ({', '.join(s + '.jsonl' for s in SPLITS)}) in {folder}")
    if all(f"tool_retrieval_{s}.jsonl" in res.files for s in ("test_in_domain", "test_out_domain")):
        for task, rows in joined.items():
            res.add_dataset(f"{task}_test.jsonl", rows, catalog, str(folder))
    return res
