"""Importers that turn third-party tool-use benchmarks into sage-tui catalog + dataset files.

The data stays where the user keeps it; an importer reads it, validates every record it writes
against our formats (docs/DATA.md) and writes the files only when everything converted, each
one atomically (temp file + rename), so a failed import never leaves half-written output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import NotFoundError, UsageError
from core.importers.common import ImportResult, read_json, snake_id, unique_ids

__all__ = ["ImportResult", "Importer", "importers", "read_json", "run_import", "snake_id", "unique_ids"]

Importer = Callable[[Path], ImportResult]


def importers() -> dict[str, Importer]:
    from core.importers.metatool import import_metatool
    from core.importers.seal_tools import import_seal_tools

    return {"metatool": import_metatool, "seal-tools": import_seal_tools}


def run_import(kind: str, path: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Convert the benchmark at `path` and write it under `out_dir`; returns a summary."""
    table = importers()
    if kind not in table:
        raise UsageError(f"unknown benchmark {kind!r}; expected one of {sorted(table)}")
    src = Path(path).expanduser()
    if not src.exists():
        raise NotFoundError(f"{src}: not found")
    return table[kind](src).write(Path(out_dir).expanduser())
