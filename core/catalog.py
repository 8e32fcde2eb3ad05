"""The tool catalog: typed records, a validating loader and a content hash."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import DataError, NotFoundError
from core.jsonl import iter_jsonl
from core.paths import default_catalog_path

TOOL_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "tool_id": str,
    "name": str,
    "category": str,
    "description": str,
    "parameters": dict,
    "returns": str,
}


@dataclass(frozen=True)
class Tool:
    tool_id: str
    name: str
    category: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    returns: str = ""

    @property
    def param_names(self) -> list[str]:
        return list(self.parameters.get("properties", {}).keys())

    @property
    def required(self) -> list[str]:
        return list(self.parameters.get("required", []))

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool_id": self.tool_id,
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "parameters": self.parameters,
            "returns": self.returns,
        }

    def search_text(self) -> str:
        """Name, description and parameter names/descriptions: what selectors index."""
        parts = [self.tool_id.replace("_", " "), self.name, self.description]
        for pname, spec in self.parameters.get("properties", {}).items():
            parts.append(pname.replace("_", " "))
            if isinstance(spec, dict) and spec.get("description"):
                parts.append(str(spec["description"]))
        return " . ".join(parts)


def validate_tool_dict(obj: dict[str, Any], *, path: str | None = None, line: int | None = None) -> Tool:
    """Check one catalog record; raise DataError naming the field."""
    for name, typ in REQUIRED_FIELDS.items():
        if name not in obj:
            raise DataError("missing required field", path=path, line=line, field=name)
        if not isinstance(obj[name], typ):
            raise DataError(
                f"expected {typ.__name__ if isinstance(typ, type) else typ}, got {type(obj[name]).__name__}",
                path=path,
                line=line,
                field=name,
            )
    tid = obj["tool_id"]
    if not TOOL_ID_RE.match(tid):
        raise DataError(f"tool_id {tid!r} is not snake_case", path=path, line=line, field="tool_id")
    if not obj["description"].strip():
        raise DataError("description is empty", path=path, line=line, field="description")
    params = obj["parameters"]
    if params.get("type") != "object":
        raise DataError("parameters must be a JSON Schema with type 'object'", path=path, line=line, field="parameters.type")
    props = params.get("properties", {})
    if not isinstance(props, dict):
        raise DataError("must be an object", path=path, line=line, field="parameters.properties")
    for pname, spec in props.items():
        if not isinstance(spec, dict) or "type" not in spec:
            raise DataError("parameter needs a 'type'", path=path, line=line, field=f"parameters.properties.{pname}")
    req = params.get("required", [])
    if not isinstance(req, list) or any(r not in props for r in req):
        raise DataError("required names unknown properties", path=path, line=line, field="parameters.required")
    return Tool(
        tool_id=tid,
        name=obj["name"],
        category=obj["category"],
        description=obj["description"],
        parameters=params,
        returns=obj["returns"],
    )


class Catalog:
    """An ordered, id-indexed set of tools with a stable content hash."""

    def __init__(self, tools: Iterable[Tool], *, source: str | None = None) -> None:
        self.tools: list[Tool] = list(tools)
        self.source = source
        self._by_id: dict[str, Tool] = {}
        for t in self.tools:
            if t.tool_id in self._by_id:
                raise DataError(f"duplicate tool_id {t.tool_id!r}", path=source, field="tool_id")
            self._by_id[t.tool_id] = t
        self._hash: str | None = None

    def __len__(self) -> int:
        return len(self.tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools)

    def __contains__(self, tool_id: object) -> bool:
        return tool_id in self._by_id

    def get(self, tool_id: str) -> Tool:
        try:
            return self._by_id[tool_id]
        except KeyError:
            raise NotFoundError(f"unknown tool id {tool_id!r}") from None

    def maybe(self, tool_id: str) -> Tool | None:
        return self._by_id.get(tool_id)

    @property
    def ids(self) -> list[str]:
        return [t.tool_id for t in self.tools]

    def categories(self) -> Counter[str]:
        return Counter(t.category for t in self.tools)

    def subset(self, tool_ids: Iterable[str]) -> Catalog:
        return Catalog([self.get(t) for t in tool_ids], source=self.source)

    @property
    def hash(self) -> str:
        """sha256 over the canonical JSON of all tools (independent of file formatting)."""
        if self._hash is None:
            h = hashlib.sha256()
            for t in self.tools:
                h.update(json.dumps(t.to_dict(), sort_keys=True, ensure_ascii=False).encode())
                h.update(b"\n")
            self._hash = h.hexdigest()
        return self._hash


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate a catalog JSONL; every problem names file, line and field."""
    p = Path(path) if path is not None else default_catalog_path()
    tools: list[Tool] = []
    seen: dict[str, int] = {}
    for lineno, obj in iter_jsonl(p):
        tool = validate_tool_dict(obj, path=str(p), line=lineno)
        if tool.tool_id in seen:
            raise DataError(
                f"duplicate tool_id {tool.tool_id!r} (first on line {seen[tool.tool_id]})",
                path=str(p),
                line=lineno,
                field="tool_id",
            )
        seen[tool.tool_id] = lineno
        tools.append(tool)
    return Catalog(tools, source=str(p))


_CACHE: dict[tuple[str, float], Catalog] = {}


def load_catalog_cached(path: str | Path | None = None) -> Catalog:
    p = Path(path) if path is not None else default_catalog_path()
    key = (str(p.resolve()), p.stat().st_mtime if p.exists() else 0.0)
    if key not in _CACHE:
        _CACHE[key] = load_catalog(p)
    return _CACHE[key]
