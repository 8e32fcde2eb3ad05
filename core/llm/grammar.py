"""JSON schema -> GBNF, with the string rule tightened so no raw control characters get in."""

from __future__ import annotations

import json
from typing import Any

# llama-cpp-python's converter emits `char ::= [^"\\] | ...`, which admits raw \n, \t, \x00...
# inside JSON strings: the output then looks valid but fails json.loads. Exclude them.
LOOSE_CHAR = r'char ::= [^"\\] |'
TIGHT_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] |'


def tighten_string_rule(gbnf: str) -> str:
    """Replace the permissive `char` rule with one that excludes control characters."""
    return gbnf.replace(LOOSE_CHAR, TIGHT_CHAR)


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    """Convert a JSON schema to a GBNF grammar accepted by llama.cpp (needs llama_cpp)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return tighten_string_rule(json_schema_to_gbnf(json.dumps(schema)))
