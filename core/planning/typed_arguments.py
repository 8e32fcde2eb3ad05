"""Arguments whose parameter names a type (a phone number, an email address, a flight number) checked against the
goal's own words: a value that is not of that type ("phone_number": "wife"), or of that type but found nowhere in
the goal (an invented "every@brightwater.io" where the goal names elke@brightwater.io), is replaced by the one
mention of the type in the step's clause (else in the goal), and the change is reported as a repair. A value the
goal itself gives is never touched, nor is a parameter when the text names none or several of that type."""

from __future__ import annotations

import re
from typing import Any

from core.planning.clauses import mentions
from core.planning.types import PlanStep, Repair

# what a value of each kind looks like (looser than the mention patterns: "LH 432", "(0)20 7946 0321" are fine)
VALID = {"phone": re.compile(r"\+?[\d ()./-]{7,}"), "email": re.compile(r"\S+@\S+\.\S+"),
         "flight": re.compile(r"[A-Z0-9]{2} ?\d{1,4}[A-Z]?", re.I)}
_EMAIL_PARAMS = frozenset({"to", "email", "recipient", "email_address", "invitee", "attendee"})


def param_kind(name: str, spec: dict[str, Any]) -> str | None:
    """The mention kind a string parameter takes, from its name (None: not a typed parameter)."""
    if spec.get("type") not in (None, "string"):
        return None
    n = name.lower()
    if "phone" in n:
        return "phone"
    if n in _EMAIL_PARAMS or n.endswith("_email"):
        return "email"
    if n == "flight_number":
        return "flight"
    return None


def fix_typed_arguments(steps: list[PlanStep], catalog: Any, goal: str) -> list[Repair]:
    """Replace, in place, typed argument values that are not of their type by the text's one mention of it."""
    repairs = []
    for step in steps:
        if step.tool_id not in catalog:
            continue
        props = (catalog.get(step.tool_id).parameters or {}).get("properties") or {}
        for name, value in list(step.arguments.items()):
            kind = param_kind(name, props.get(name) or {})
            if kind is None:
                continue
            typed = isinstance(value, str) and VALID[kind].fullmatch(value.strip())
            if typed and (said(value, f"{step.description} {goal}") or (kind == "phone" and _same_number(value, goal))):
                continue  # right-typed and the user's own words (a number perhaps rewritten to international form)
            found = mentions(kind, step.description or "") or mentions(kind, goal)
            if len(found) != 1:
                continue
            step.arguments[name] = found[0]
            why = "not in the goal; " if typed else ""
            repairs.append(Repair("argument", f"step {step.id}: {name} {value!r} -> {found[0]!r} ({why}the {kind} the "
                                              "goal names)", step.id))
    return repairs


def said(value: object, text: str) -> bool:
    """Whether `value` occurs in `text`, ignoring case and spaces (a phone number may be spaced differently)."""
    squash = lambda t: re.sub(r"\s+", "", str(t)).lower()  # noqa: E731
    return bool(squash(value)) and squash(value) in squash(text)


def _same_number(value: str, text: str) -> bool:
    """Whether a phone number in `text` ends in the same 9 digits as `value` ("07700 900123" = "+447700900123")."""
    tail = re.sub(r"\D", "", value)[-9:]
    return len(tail) == 9 and any(re.sub(r"\D", "", m).endswith(tail) for m in mentions("phone", text))
