"""Typed plan constraints (no string matching): parsing, checking, and enforcement with a report."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.catalog import Catalog
from core.errors import ConfigError, NotFoundError
from core.planning.types import PlanStep, Repair


@dataclass
class PlanConstraints:
    max_steps: int | None = None
    must_use: list[str] = field(default_factory=list)
    must_not_use: list[str] = field(default_factory=list)
    sequential_only: bool = False
    max_parallel: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str | None = None) -> PlanConstraints:
        known = set(cls.__dataclass_fields__)
        for k in d:
            if k not in known:
                raise ConfigError(f"unknown constraint {k!r}; expected one of {sorted(known)}", path=source, field=k)
        out = cls()
        for k in ("max_steps", "max_parallel"):
            v = d.get(k)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ConfigError("expected a positive integer", path=source, field=k)
            setattr(out, k, v)
        for k in ("must_use", "must_not_use"):
            v = d.get(k, [])
            if isinstance(v, str):
                v = [v]
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ConfigError("expected a list of tool ids", path=source, field=k)
            setattr(out, k, list(v))
        seq = d.get("sequential_only", False)
        if not isinstance(seq, bool):
            raise ConfigError("expected true or false", path=source, field="sequential_only")
        out.sequential_only = seq
        if set(out.must_use) & set(out.must_not_use):
            raise ConfigError(f"tools both required and forbidden: {sorted(set(out.must_use) & set(out.must_not_use))}",
                              path=source, field="must_use")
        return out

    def check_tools(self, catalog: Catalog) -> None:
        """NotFoundError for a constraint naming a tool that is not in the catalog."""
        for k in ("must_use", "must_not_use"):
            for t in getattr(self, k):
                if t not in catalog:
                    raise NotFoundError(f"constraint {k} names unknown tool {t!r}")


def parse_constraints(value: str | None) -> PlanConstraints:
    """`--constraints`: a JSON object, or a path to a .json / .toml file."""
    if not value:
        return PlanConstraints()
    text, source = value, None
    p = Path(value)
    if not value.lstrip().startswith("{") and p.suffix in (".json", ".toml"):
        if not p.is_file():
            raise NotFoundError(f"constraints file not found: {p}")
        text, source = p.read_text(encoding="utf-8"), str(p)
        if p.suffix == ".toml":
            try:
                return PlanConstraints.from_dict(tomllib.loads(text), source=source)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"invalid TOML: {exc}", path=source) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"constraints are not valid JSON: {exc.msg} at column {exc.colno}", path=source) from None
    if not isinstance(obj, dict):
        raise ConfigError("constraints must be a JSON object", path=source)
    return PlanConstraints.from_dict(obj, source=source)


@dataclass
class Violation:
    constraint: str
    detail: str


def check_plan_constraints(steps: Sequence[PlanStep], c: PlanConstraints) -> list[Violation]:
    """Every violated constraint, from the step structure (ids, tools, dependency levels)."""
    from core.planning.dag import parallel_levels

    out: list[Violation] = []
    if c.max_steps is not None and len(steps) > c.max_steps:
        out.append(Violation("max_steps", f"{len(steps)} steps > {c.max_steps}"))
    used = {s.tool_id for s in steps}
    for t in c.must_use:
        if t not in used:
            out.append(Violation("must_use", f"{t} is not used"))
    for t in c.must_not_use:
        if t in used:
            out.append(Violation("must_not_use", f"{t} is used"))
    try:
        widest = max((len(level) for level in parallel_levels(steps)), default=0)
    except Exception:  # cyclic plans are reported by the DAG validator
        widest = 0
    if c.sequential_only and widest > 1:
        out.append(Violation("sequential_only", f"{widest} steps could run in parallel"))
    if c.max_parallel is not None and widest > c.max_parallel:
        out.append(Violation("max_parallel", f"{widest} parallel steps > {c.max_parallel}"))
    return out


def enforce_constraints(steps: list[PlanStep], c: PlanConstraints) -> tuple[list[PlanStep], list[Repair]]:
    """Make a plan satisfy `c` where it can, reporting every change.

    Forbidden steps are dropped; a required tool the plan does not use gets a step of its own (no
    dependencies, no arguments: the validator then names its missing required arguments); the plan is
    cut to max_steps from the end, never dropping the last step of a required tool; steps are chained
    in topological order for sequential_only / max_parallel. What cannot be satisfied (more required
    tools than max_steps) is left to `check_plan_constraints` to report."""
    from core.planning.dag import parallel_levels, topological_order

    repairs: list[Repair] = []
    kept = []
    for s in steps:
        if s.tool_id in c.must_not_use:
            repairs.append(Repair("constraint", f"dropped step {s.id}: {s.tool_id} is forbidden", s.id))
        else:
            kept.append(s)
    used = {s.tool_id for s in kept}
    next_id = max((s.id for s in kept), default=0) + 1
    for t in c.must_use:
        if t not in used:
            kept.append(PlanStep(next_id, t, {}, [], None, f"required by the must_use constraint: {t}"))
            repairs.append(Repair("constraint", f"added step {next_id}: {t} is required (must_use)", next_id))
            used.add(t)
            next_id += 1
    if c.max_steps is not None and len(kept) > c.max_steps:
        required = set(c.must_use)
        count = {t: sum(s.tool_id == t for s in kept) for t in required}
        for s in reversed(list(kept)):
            if len(kept) <= c.max_steps:
                break
            if s.tool_id in required and count[s.tool_id] == 1:
                continue  # the only step of a required tool
            kept.remove(s)
            if s.tool_id in count:
                count[s.tool_id] -= 1
            repairs.append(Repair("constraint", f"dropped step {s.id}: over max_steps={c.max_steps}", s.id))
    ids = {s.id for s in kept}
    for s in kept:
        gone = [d for d in s.depends_on if d not in ids]
        if gone:
            s.depends_on = [d for d in s.depends_on if d in ids]
            repairs.append(Repair("dependency", f"step {s.id}: dropped dependencies on removed steps {gone}", s.id))
    widest = max((len(level) for level in parallel_levels(kept)), default=0)
    if kept and (c.sequential_only or (c.max_parallel is not None and widest > c.max_parallel)):
        order = topological_order(kept)
        by_id = {s.id: s for s in kept}
        for prev, cur in zip(order, order[1:], strict=False):
            if prev not in by_id[cur].depends_on:
                by_id[cur].depends_on.append(prev)
        repairs.append(Repair("constraint", "chained steps in topological order (sequential execution)"))
        kept = [by_id[i] for i in order]
    return kept, repairs
