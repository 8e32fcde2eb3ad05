"""Lenient JSON extraction (json-repair under a thin wrapper) and plan normalisation with alias keys."""

from __future__ import annotations

import json
import re
from typing import Any

from core.errors import PlanError
from core.planning.types import PlanStep, Repair

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)(?:```|$)", re.S)

TOOL_KEYS = ("tool_id", "tool", "name", "action", "tool_name", "api", "function")
DEP_KEYS = ("depends_on", "dependencies", "deps", "depends", "after", "requires", "parents")
ARG_KEYS = ("arguments", "args", "params", "parameters", "input", "inputs")
ID_KEYS = ("id", "step", "step_id", "index", "number")
LIST_KEYS = ("steps", "plan", "actions", "tasks", "calls", "tool_calls")


def repair_json(text: str) -> tuple[Any, list[Repair]]:
    """Parse model output that is almost JSON: fences, prose around it, trailing commas, missing closers,
    single quotes, comments. Returns (object, repairs); PlanError when nothing JSON-like is there."""
    try:
        return _repair_json(text)
    except (RecursionError, ValueError) as exc:  # e.g. thousands of nested brackets from a looping model
        raise PlanError(f"model output could not be parsed as JSON ({type(exc).__name__}): {text[:80]!r}") from None


def _repair_json(text: str) -> tuple[Any, list[Repair]]:
    try:
        return json.loads(text), []
    except (json.JSONDecodeError, TypeError):
        pass
    try:  # raw control characters inside strings are the only problem
        return json.loads(text, strict=False), [Repair("json", "accepted raw control characters inside strings")]
    except json.JSONDecodeError:
        pass
    import json_repair

    body = text
    fence = _FENCE.search(text)
    if fence:
        body = fence.group(1)
    starts = [i for i in (body.find("{"), body.find("[")) if i >= 0]
    if not starts:
        raise PlanError(f"no JSON object in model output: {text[:80]!r}")
    body = body[min(starts):]
    obj = json_repair.loads(body)
    if obj in ("", None) or not isinstance(obj, dict | list):
        raise PlanError(f"model output could not be repaired into JSON: {text[:80]!r}")
    return obj, [Repair("json", "repaired malformed JSON (json-repair)")]


def _first(d: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for k in keys:
        if k in d:
            return k, d[k]
    lowered = {str(k).lower(): k for k in d}
    for k in keys:
        if k in lowered:
            return lowered[k], d[lowered[k]]
    return None, None


def _as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        m = re.search(r"-?\d+", v)
        return int(m.group()) if m else None
    return None


def _step_list(obj: Any) -> list[Any]:
    if isinstance(obj, list):
        return obj
    if isinstance(obj, dict):
        key, val = _first(obj, LIST_KEYS)
        if isinstance(val, list):
            return val
        if key is None and _first(obj, TOOL_KEYS)[0]:
            return [obj]  # a single step
    raise PlanError("model output has no list of steps")


def normalize_steps(obj: Any) -> tuple[list[PlanStep], list[Repair]]:
    """Turn a parsed object into PlanSteps, mapping alias keys and coercing types; reports each change."""
    repairs: list[Repair] = []
    steps: list[PlanStep] = []
    for i, raw in enumerate(_step_list(obj), start=1):
        if not isinstance(raw, dict):
            repairs.append(Repair("alias", f"skipped step #{i}: not an object"))
            continue
        tkey, tool = _first(raw, TOOL_KEYS)
        if isinstance(tool, dict):  # {"function": {"name": ..., "arguments": ...}}
            raw = {**raw, **tool}
            tkey, tool = _first(tool, TOOL_KEYS)
        if not isinstance(tool, str) or not tool.strip():
            repairs.append(Repair("alias", f"skipped step #{i}: no tool name"))
            continue
        if tkey != "tool_id":
            repairs.append(Repair("alias", f"step #{i}: key {tkey!r} read as 'tool_id'"))
        ikey, ival = _first(raw, ID_KEYS)
        sid = _as_int(ival)
        if sid is None:
            sid = i
            repairs.append(Repair("alias", f"step #{i}: missing/invalid id, using {i}"))
        elif ikey != "id":
            repairs.append(Repair("alias", f"step #{i}: key {ikey!r} read as 'id'"))
        dkey, dval = _first(raw, DEP_KEYS)
        if dkey and dkey != "depends_on":
            repairs.append(Repair("alias", f"step #{i}: key {dkey!r} read as 'depends_on'"))
        if dval is None:
            dval = []
        if not isinstance(dval, list):
            dval = [dval]
        deps = [d for d in (_as_int(x) for x in dval) if d is not None]
        if len(deps) != len(dval):
            repairs.append(Repair("dependency", f"step #{i}: dropped non-integer dependencies", sid))
        akey, args = _first(raw, ARG_KEYS)
        if akey and akey != "arguments":
            repairs.append(Repair("alias", f"step #{i}: key {akey!r} read as 'arguments'"))
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                args = None
        if args is None:
            args = {}
        if not isinstance(args, dict):
            repairs.append(Repair("alias", f"step #{i}: arguments were not an object; dropped", sid))
            args = {}
        desc = raw.get("description") or raw.get("reason") or ""
        steps.append(PlanStep(sid, tool.strip(), args, deps, description=str(desc)))
    return steps, repairs


def extract_and_repair_plan(text: str) -> tuple[list[PlanStep], list[Repair]]:
    """Model text -> PlanSteps + a report of every repair (JSON syntax and alias keys)."""
    obj, rep = repair_json(text)
    steps, rep2 = normalize_steps(obj)
    return steps, rep + rep2
