"""JSON schema (the subset our prompts use) -> a regex of its compact `json.dumps` serialisation.

The regex fixes the layout exactly as training targets are written (`json.dumps`, separators `", "` and
`": "`, keys in schema order, every property present), so guided decoding can fast-forward every
character the layout forces (keys, braces, the rest of a tool id once its prefix is unique).
Unsupported schema features raise `UnsupportedSchema`; the caller then falls back to GBNF.
"""

from __future__ import annotations

import json
import re
from typing import Any

STRING_CHAR = r'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt])'
INTEGER = r"-?(?:0|[1-9][0-9]{0,5})"
NUMBER = r"-?(?:0|[1-9][0-9]{0,8})(?:\.[0-9]{1,6})?"
BOOLEAN = r"(?:true|false)"
MAX_FREE_STRING = 120  # bound for strings without maxLength (keeps decoding finite)
MAX_KEY = 40
REQUIRED_FIRST = "x-required-first"  # an object schema flag: its required keys come first, then any optional ones
MAX_ENUM_RANGE = 64  # integer ranges up to this wide become an alternation of their values


class UnsupportedSchema(ValueError):
    """The schema uses something the regex converter does not handle."""


def _string(max_len: int | None, min_len: int = 0) -> str:
    hi = max_len if max_len is not None else MAX_FREE_STRING
    return f'"{STRING_CHAR}{{{min_len},{hi}}}"'


def _literal(value: Any) -> str:
    return re.escape(json.dumps(value, ensure_ascii=False))


def _scalar(t: str, node: dict[str, Any]) -> str:
    if t == "string":
        return _string(node.get("maxLength"), node.get("minLength", 0))
    if t == "integer":
        lo, hi = node.get("minimum"), node.get("maximum")
        if isinstance(lo, int) and isinstance(hi, int) and 0 <= hi - lo <= MAX_ENUM_RANGE:
            return "(?:" + "|".join(str(v) for v in sorted(range(lo, hi + 1), key=lambda v: -len(str(v)))) + ")"
        return INTEGER
    if t == "number":
        return NUMBER
    if t == "boolean":
        return BOOLEAN
    if t == "null":
        return "null"
    raise UnsupportedSchema(f"type {t!r}")


def _array(node: dict[str, Any]) -> str:
    if "prefixItems" in node:
        return _tuple(node)
    item = schema_to_regex(node.get("items") or {"type": "string"})
    lo, hi = int(node.get("minItems", 0)), node.get("maxItems")
    if hi is not None and int(hi) == 0:
        return r"\[\]"
    rest_hi = "" if hi is None else str(int(hi) - 1)
    body = f"{item}(?:, {item}){{{max(lo - 1, 0)},{rest_hi}}}"
    return rf"\[{body}\]" if lo >= 1 else rf"\[(?:{body})?\]"


def _tuple(node: dict[str, Any]) -> str:
    """`prefixItems` (one schema per position) within `minItems`/`maxItems`; `items` (a schema, or False)
    covers positions after the prefix. Nested optionals, so every position keeps its own schema."""
    parts = [schema_to_regex(x) for x in node["prefixItems"]]
    extra, hi = node.get("items", True), node.get("maxItems")
    n = len(parts) if hi is None else int(hi)
    if n > len(parts):
        if not isinstance(extra, dict):
            raise UnsupportedSchema("prefixItems followed by unrestricted or unbounded items")
        parts += [schema_to_regex(extra)] * (n - len(parts))
    parts = parts[:n]
    lo = min(int(node.get("minItems", 0)), n)
    body = ""
    for i in range(n - 1, -1, -1):  # innermost (last position) first
        part = (", " if i else "") + parts[i] + body
        body = part if i < lo else f"(?:{part})?"
    return rf"\[{body}\]"


def _object(node: dict[str, Any]) -> str:
    props: dict[str, Any] = node.get("properties") or {}
    if props:
        required = set(node.get("required") or [])
        if set(props) == required:  # all present, in schema order (the layout of training targets)
            parts = [f"{_literal(k)}: {schema_to_regex(v)}" for k, v in props.items()]
            return r"\{" + ", ".join(parts) + r"\}"
        if required and node.get(REQUIRED_FIRST):  # required keys first (schema order), then optional ones, any order
            req = [f"{_literal(k)}: {schema_to_regex(v)}" for k, v in props.items() if k in required]
            opt = [f"{_literal(k)}: {schema_to_regex(v)}" for k, v in props.items() if k not in required]
            tail = f"(?:, (?:{'|'.join(opt)})){{0,{len(opt)}}}" if opt else ""
            return r"\{" + ", ".join(req) + tail + r"\}"
        if required:
            raise UnsupportedSchema("objects must make all properties required or none (or set x-required-first)")
        # all optional: any of the known keys, any order, at most one pair per key
        pair = "(?:" + "|".join(f"{_literal(k)}: {schema_to_regex(v)}" for k, v in props.items()) + ")"
        return rf"\{{(?:{pair}(?:, {pair}){{0,{len(props) - 1}}})?\}}"
    extra = node.get("additionalProperties")
    if not isinstance(extra, dict):
        return r"\{\}"
    pair = f"{_string(MAX_KEY, 1)}: {schema_to_regex(extra)}"
    return rf"\{{(?:{pair}(?:, {pair}){{0,15}})?\}}"


def schema_to_regex(node: dict[str, Any]) -> str:
    """Regex (Python `regex` syntax, no anchors) for the compact serialisation of `node`."""
    if "anyOf" in node:
        return "(?:" + "|".join(schema_to_regex(x) for x in node["anyOf"]) + ")"
    if "enum" in node:
        return "(?:" + "|".join(_literal(v) for v in node["enum"]) + ")"
    if "const" in node:
        return _literal(node["const"])
    t = node.get("type")
    if isinstance(t, list):
        return "(?:" + "|".join(schema_to_regex({**node, "type": x}) for x in t) + ")"
    if t == "object":
        return _object(node)
    if t == "array":
        return _array(node)
    if isinstance(t, str):
        return _scalar(t, node)
    raise UnsupportedSchema(f"node without a type: {sorted(node)}")
