"""Plan validators: dependencies, tool availability, arguments against each tool's JSON Schema."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from jsonschema import Draft202012Validator

from core.catalog import Catalog, Tool
from core.planning.dag import validate_dag
from core.planning.types import PlanStep


@dataclass
class Issue:
    kind: str  # duplicate_id | missing_dependency | self_dependency | cycle | unknown_tool | not_candidate | arguments
    detail: str
    step_id: int | None = None


@dataclass
class ValidationReport:
    issues: list[Issue] = field(default_factory=list)
    step_valid: dict[int, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def is_dag(self) -> bool:
        return not any(i.kind in ("duplicate_id", "missing_dependency", "self_dependency", "cycle") for i in self.issues)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "is_dag": self.is_dag, "issues": [i.__dict__ for i in self.issues],
                "step_valid": {str(k): v for k, v in self.step_valid.items()}}


def validate_step_dependencies(steps: Sequence[PlanStep]) -> list[Issue]:
    return [Issue(d.kind, d.detail, d.step_id) for d in validate_dag(steps)]


def validate_tool_availability(steps: Sequence[PlanStep], catalog: Catalog,
                               candidates: Sequence[str] | None = None) -> list[Issue]:
    allowed = set(candidates) if candidates is not None else None
    out = []
    for s in steps:
        if s.tool_id not in catalog:
            out.append(Issue("unknown_tool", f"step {s.id}: unknown tool {s.tool_id!r}", s.id))
        elif allowed is not None and s.tool_id not in allowed:
            out.append(Issue("not_candidate", f"step {s.id}: {s.tool_id!r} is not a candidate tool", s.id))
    return out


_VALIDATORS: dict[tuple[str, str], Draft202012Validator] = {}


def validate_arguments(step: PlanStep, tool: Tool) -> list[Issue]:
    """Arguments checked against the tool's parameter schema (each error names the field). Validators are
    cached by tool id and schema: two catalogs may give one id different schemas (an import, a test)."""
    import json

    key = (tool.tool_id, json.dumps(tool.parameters, sort_keys=True))
    v = _VALIDATORS.get(key)
    if v is None:
        if len(_VALIDATORS) > 8192:
            _VALIDATORS.clear()
        v = _VALIDATORS[key] = Draft202012Validator(tool.parameters)
    out = []
    for e in sorted(v.iter_errors(step.arguments), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in e.path) or "arguments"
        out.append(Issue("arguments", f"step {step.id} ({tool.tool_id}) {where}: {e.message}", step.id))
    return out


def validate_plan(steps: Sequence[PlanStep], catalog: Catalog, candidates: Sequence[str] | None = None,
                  *, check_arguments: bool = True) -> ValidationReport:
    """All validators; `step_valid[id]` is true when the step's tool, dependencies and arguments are fine."""
    issues = validate_step_dependencies(steps) + validate_tool_availability(steps, catalog, candidates)
    if check_arguments:
        for s in steps:
            tool = catalog.maybe(s.tool_id)
            if tool is not None:
                issues += validate_arguments(s, tool)
    bad = {i.step_id for i in issues if i.step_id is not None and i.kind != "cycle"}
    cyclic = {i.step_id for i in issues if i.kind == "cycle"}
    return ValidationReport(issues, {s.id: s.id not in bad and s.id not in cyclic for s in steps})
