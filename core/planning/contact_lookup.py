"""A contact lookup before a step that needs an address the goal never gives: "email my manager that ..." has no
email address to put in `to`, so the plan searches the contacts for "manager" first and the email takes the
address from that step (`{{step_N}}`), instead of sending to the string "manager" (or to an address the model
made up). Reported as a repair of kind `lookup`. Only where the catalog has `contact_search`; an address the goal
gives, a reference to an earlier step, or a goal that names an address of that kind (typed arguments use it) is
left alone. The person searched for is the model's name when the goal says it, else the one the clause sends to
("text mum ..." -> "mum")."""

from __future__ import annotations

import re
from typing import Any

from core.planning.clauses import mentions
from core.planning.typed_arguments import VALID, said
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


# who a message goes to, in the clause's own words: "text mum ...", "email Ana ...", "tell my landlord ...",
# "send it to Priya" (a pronoun or an address is not a name to search for)
_RECIPIENT = re.compile(r"\b(?:text|sms|email|e-mail|mail|message|dm|ping|call|ring|phone|tell|ask|remind|invite|"
                        r"send\s+(?:it|them|this|that)\s+to|forward\s+(?:it|them|this|that)\s+to)\s+"
                        r"(?:my\s+|our\s+)?(?P<who>[A-Za-z][\w'-]*(?-i:\s+[A-Z][\w'-]*)?)", re.I)
_NOT_A_NAME = frozenset("me us it them this that him her everyone everybody someone somebody the a an all".split())


def named_recipient(clause: str) -> str:
    """The person a clause sends something to ("text mum that ..." -> "mum"), or "" when it names none."""
    m = _RECIPIENT.search(clause)
    who = m.group("who") if m else ""
    return "" if not who or who.split()[0].lower() in _NOT_A_NAME else who


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
        lookups: list[tuple[str, str, str]] = []  # (parameter, who, what is wrong with the value)
        if step.tool_id in catalog:
            props = (catalog.get(step.tool_id).parameters or {}).get("properties") or {}
            for name, value in step.arguments.items():
                kind = address_kind(props.get(name) or {})
                if kind is None or mentions(kind, step.description or "") or mentions(kind, goal):
                    continue  # no address to find, or the goal gives one (typed arguments take it)
                if isinstance(value, str) and VALID[kind].fullmatch(value.strip()):
                    # an address the goal never gave is invented: look up the person the clause names instead
                    who, what = ("" if said(value, goal) else named_recipient(step.description or "")), "is not in the goal"
                else:  # a name: the model's if the goal says it, else the person the clause names
                    who, what = _who(value), "is not an address"
                    who = who if said(who, goal) else named_recipient(step.description or "")
                if who:
                    lookups.append((name, who, what))
        found: dict[str, int] = {}
        if max_steps:  # room left: the limit minus the given steps and the lookups added so far
            keep = list(dict.fromkeys(w.lower() for _, w, _ in lookups))[: max(0, max_steps - len(steps) - (len(out) - len(new_id)))]
            lookups = [x for x in lookups if x[1].lower() in keep]
        for _name, who, _what in lookups:
            if who.lower() not in found:
                out.append(PlanStep(len(out) + 1, LOOKUP_TOOL, {"query": who}, [], step.subgoal_id,
                                    f"look up {who} in the contacts"))
                found[who.lower()] = len(out)
        new_id[step.id] = len(out) + 1
        args = {k: _renumber(v, new_id) for k, v in step.arguments.items()}
        deps = [new_id[d] for d in step.depends_on if d in new_id]
        for name, who, what in lookups:
            ref = found[who.lower()]
            repairs.append(Repair("lookup", f"step {len(out) + 1}: {name} {step.arguments[name]!r} {what}; it comes from "
                                            f"a contact search for {who!r} (step {ref})", len(out) + 1))
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
