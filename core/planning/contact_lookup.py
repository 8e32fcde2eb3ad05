"""A contact lookup before a step that needs an address the goal never gives: "email my manager that ..." has no
email address to put in `to`, so the plan searches the contacts for "manager" first and the email takes the
address from that step (`{{step_N}}`), instead of sending to the string "manager". Reported as a repair of kind
`lookup`. Only where the catalog has `contact_search`; a value of the right type, a reference to an earlier step,
or a goal that names an address (typed arguments use it) is left alone."""

from __future__ import annotations

import re
from typing import Any

from core.planning.clauses import mentions
from core.planning.typed_arguments import VALID
from core.planning.types import PlanStep, Repair

LOOKUP_TOOL = "contact_search"
_REF = re.compile(r"\{\{step_(\d+)\}\}")
# what the parameter's own description says it holds (the schema, not the name: a payment's `recipient` is a
# person's name, an email's `to` an address)
_KIND_BY_DESCRIPTION = (("email", re.compile(r"\bemail address", re.I)),
                        ("phone", re.compile(r"\bphone number|\bnumber to call|\bfax number", re.I)))


def address_kind(spec: dict[str, Any]) -> str | None:
    """"email" / "phone" for a string parameter whose description says it holds one, else None."""
    if spec.get("type") not in (None, "string"):
        return None
    desc = str(spec.get("description") or "")
    return next((kind for kind, rx in _KIND_BY_DESCRIPTION if rx.search(desc)), None)


def _who(value: Any) -> str:
    """The person a non-address value names ("my manager" -> "manager"); "" when there is nothing to look up."""
    if not isinstance(value, str) or _REF.search(value):
        return ""
    text = re.sub(r"^(?:my|our|the|your)\s+", "", value.strip(), flags=re.I)
    return text if re.search(r"[A-Za-z]", text) and len(text) <= 60 else ""


def add_contact_lookups(steps: list[PlanStep], catalog: Any, goal: str,
                        max_steps: int = 0) -> tuple[list[PlanStep], list[Repair]]:
    """`steps` with a `contact_search` step before each step whose address argument is a name, the argument then
    taking that step's result; ids, dependencies and `{{step_N}}` references renumbered. No lookup is added that
    would take the plan past `max_steps` (0: no limit). Returns (steps, repairs)."""
    if LOOKUP_TOOL not in catalog:
        return steps, []
    out: list[PlanStep] = []
    new_id: dict[int, int] = {}
    repairs: list[Repair] = []
    for step in steps:
        lookups: list[tuple[str, str]] = []  # (parameter, who)
        if step.tool_id in catalog:
            props = (catalog.get(step.tool_id).parameters or {}).get("properties") or {}
            for name, value in step.arguments.items():
                kind = address_kind(props.get(name) or {})
                if kind is None or (isinstance(value, str) and VALID[kind].fullmatch(value.strip())):
                    continue
                who = _who(value)
                if who and not (mentions(kind, step.description or "") or mentions(kind, goal)):
                    lookups.append((name, who))
        found: dict[str, int] = {}
        if max_steps:  # room left: the limit minus the given steps and the lookups added so far
            keep = list(dict.fromkeys(w.lower() for _, w in lookups))[: max(0, max_steps - len(steps) - (len(out) - len(new_id)))]
            lookups = [(n, w) for n, w in lookups if w.lower() in keep]
        for _name, who in lookups:
            if who.lower() not in found:
                out.append(PlanStep(len(out) + 1, LOOKUP_TOOL, {"query": who}, [], step.subgoal_id,
                                    f"look up {who} in the contacts"))
                found[who.lower()] = len(out)
        new_id[step.id] = len(out) + 1
        args = {k: _renumber(v, new_id) for k, v in step.arguments.items()}
        deps = [new_id[d] for d in step.depends_on if d in new_id]
        for name, who in lookups:
            ref = found[who.lower()]
            repairs.append(Repair("lookup", f"step {len(out) + 1}: {name} {step.arguments[name]!r} is not an address; "
                                            f"it comes from a contact search for {who!r} (step {ref})", len(out) + 1))
            args[name] = _ref(ref)
            deps.append(ref)
        out.append(PlanStep(len(out) + 1, step.tool_id, args, sorted(set(deps)), step.subgoal_id, step.description))
    return out, repairs


def _ref(step_id: int) -> str:
    return "{{step_" + str(step_id) + "}}"


def _renumber(value: Any, new_id: dict[int, int]) -> Any:
    """`{{step_N}}` references in a value moved to the steps' new ids (nested lists and objects too)."""
    if isinstance(value, str):
        return _REF.sub(lambda m: _ref(new_id.get(int(m.group(1)), int(m.group(1)))), value)
    if isinstance(value, list):
        return [_renumber(v, new_id) for v in value]
    if isinstance(value, dict):
        return {k: _renumber(v, new_id) for k, v in value.items()}
    return value
