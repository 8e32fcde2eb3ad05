"""What every importer shares: tool ids from third-party names, JSON reading, and the validated result that is
written only when everything converted (each file atomically)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from core.catalog import Catalog, validate_tool_dict
from core.datasets import validate_sample
from core.errors import DataError, NotFoundError, UsageError

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_id(name: str) -> str:
    """`getWeatherForecast` / `Mixer Box-AI` -> `get_weather_forecast` / `mixer_box_ai` (valid tool_id)."""
    s = re.sub(r"[^a-z0-9]+", "_", _CAMEL.sub("_", name).lower()).strip("_")
    if not s:
        raise DataError(f"tool name {name!r} has no letters or digits")
    return s if s[0].isalpha() else f"t_{s}"


def unique_ids(names: list[str], source: str) -> dict[str, str]:
    """Map each original name to a snake_case id; two names that collide are a data error."""
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for n in names:
        tid = snake_id(n)
        if tid in seen and seen[tid] != n:
            raise DataError(f"tool names {seen[tid]!r} and {n!r} map to the same id {tid!r}", path=source)
        seen[tid] = n
        out[n] = tid
    return out


def read_json(path: Path) -> Any:
    if not path.exists():
        raise NotFoundError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None


class ImportResult:
    """Validated rows per output file, written only by `write`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.files: dict[str, list[dict[str, Any]]] = {}
        self.notes: list[str] = []

    def add_catalog(self, rows: list[dict[str, Any]], source: str) -> Catalog:
        tools = [validate_tool_dict(r, path=source, line=i + 1) for i, r in enumerate(rows)]
        cat = Catalog(tools, source=source)
        self.files["catalog.jsonl"] = rows
        return cat

    def add_dataset(self, fname: str, rows: list[dict[str, Any]], catalog: Catalog, source: str) -> None:
        seen: set[str] = set()
        for i, r in enumerate(rows):
            validate_sample(r, path=source, line=i + 1)
            if r["id"] in seen:
                raise DataError(f"duplicate id {r['id']!r}", path=source, line=i + 1, field="id")
            seen.add(r["id"])
            gold = r["gold"]
            refs = list(gold.get("tools") or []) + [s["tool_id"] for s in gold.get("steps") or []]
            if gold.get("tool"):
                refs.append(gold["tool"])
            for tid in refs:
                if tid not in catalog:
                    raise DataError(f"unknown tool {tid!r}", path=source, line=i + 1, field="gold")
        if not rows:
            raise DataError("no samples could be converted", path=source)
        self.files[fname] = rows

    def write(self, out_dir: Path) -> dict[str, Any]:
        if out_dir.exists() and not out_dir.is_dir():
            raise UsageError(f"--out {out_dir} exists and is not a folder")
        out_dir.mkdir(parents=True, exist_ok=True)
        for fname, rows in self.files.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{fname}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    for r in rows:
                        fh.write(json.dumps(r, ensure_ascii=False) + "\n")
                os.chmod(tmp, 0o644)
                os.replace(tmp, out_dir / fname)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return {"source": self.name, "out": str(out_dir), "files": {f: len(r) for f, r in self.files.items()}, "notes": self.notes}
