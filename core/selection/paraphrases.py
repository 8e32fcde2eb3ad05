"""The paraphrase file the query map is trained on (`assets/selection/paraphrases.jsonl`).

One JSON object per line: `tool_id` (a catalog tool), `intent` (the training-half request that was
paraphrased), `paraphrases` (a list of strings) and `model` (who wrote them). Written by
`training/paraphrase.py`, read by `training/query_map.py` and checked by `sage-tui data validate`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import DataError


@dataclass(frozen=True)
class Pair:
    text: str
    tool_id: str
    source: str  # "intent" | "paraphrase"


def is_paraphrase_line(obj: object) -> bool:
    return isinstance(obj, dict) and "tool_id" in obj and "paraphrases" in obj


def read_paraphrases(path: str | Path, tool_ids: set[str]) -> list[Pair]:
    """(text, tool) pairs of a paraphrase file, duplicates within a line dropped; a bad line is an error
    naming the file, the line and the field."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg}", path=str(path), line=n) from None
            tid = row.get("tool_id") if isinstance(row, dict) else None
            if tid not in tool_ids:
                raise DataError(f"unknown tool {tid!r}", path=str(path), line=n, field="tool_id")
            paras = row.get("paraphrases")
            if not isinstance(paras, list) or not all(isinstance(p, str) for p in paras):
                raise DataError("expected a list of strings", path=str(path), line=n, field="paraphrases")
            out += [Pair(p.strip(), tid, "paraphrase") for p in dict.fromkeys(paras) if p.strip()]
    return out
