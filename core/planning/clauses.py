"""A goal's action clauses, by rules: where the grounded planner splits a goal into one intent per clause.

`intent_clauses` splits at sentence and clause boundaries and folds fragments with fewer than two content
words into the next clause. Measured and not adopted (docs/PLANNING.md, session 8): folding scene-setting
statements ("My sister flies in on AA100 tomorrow.") into the next clause.
"""

from __future__ import annotations

import re

from core.planning.base import split_clauses

STOP_WORDS = frozenset("a an the my me i to for of in on at and or then it its this that is are be was were do does "
                       "did so just also please can could would will you your we us our there here what whats how "
                       "when where who which with from by as if but all".split())
_SENTENCE = re.compile(r"(?<=[?!])\s+|\s+also\s+|^also\s+", re.I)
_LEAD = re.compile(r"^(?:also|and|then|plus)\s+", re.I)


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in STOP_WORDS]


def intent_clauses(goal: str, limit: int) -> list[str]:
    """Action clauses of a goal: `split_clauses`, also at ?/! and "also"; a fragment with fewer than two content
    words ("Ugh", "Nov 12-14") joins the next clause (the last one joins the previous). At most `limit` clauses
    (the rest join the last)."""
    parts: list[str] = []
    for p in split_clauses(goal, 16):
        parts += [_LEAD.sub("", q.strip(" .,")) for q in _SENTENCE.split(p) if q and len(q.strip(" .,")) > 2]
    merged: list[str] = []
    carry = ""
    for i, p in enumerate(parts):
        if len(content_words(p)) < 2 and i < len(parts) - 1:
            carry = f"{carry} {p}".strip()
            continue
        merged.append(f"{carry} {p}".strip())
        carry = ""
    if carry:
        merged = [*merged[:-1], f"{merged[-1]} {carry}"] if merged else [carry]
    if len(merged) > limit:
        merged = [*merged[: limit - 1], " ".join(merged[limit - 1:])]
    return merged or [goal]
