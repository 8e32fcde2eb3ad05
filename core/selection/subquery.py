"""Split a multi-intent request into sub-queries, one per intent.

"Check ticket X. Then submit a new ticket, and get the status of order Y" asks for three tools.
Scoring the whole request at once lets the longest or most keyword-rich intent take every top
slot; scoring each intent on its own gives each its own best tools (two_stage merges them).

Rules (no model): split on sentence ends and ``;``, then on clause connectives (", and", "and
then", ", then", "and also", "as well as", "plus", and "and" followed by a lower-case word), strip
leading connectives ("Finally,", "Additionally", ...), and keep a part only if it has at least
``min_terms`` distinct keyword terms (after stop words and stemming), so fragments such as
"Melinda Gates Foundation" from "Bill and Melinda Gates" still count while "do it" does not.
A query that yields fewer than two such parts is single-intent: no sub-queries.
"""

from __future__ import annotations

import re

from core.selection.text import tokenize

_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[A-Z\"'(])|;\s*")
_CLAUSE = re.compile(
    r",?\s+and\s+then\s+|,\s*then\s+|\s+then\s+(?=[a-z]+\s)|,\s*and\s+(?:also\s+)?|\s+and\s+also\s+"
    r"|,?\s+as\s+well\s+as\s+|,?\s+plus\s+|\s+and\s+(?=(?:can\s+you\s+|could\s+you\s+|please\s+|also\s+)?[a-z]+\s)",
    re.I,
)
_LEAD = re.compile(
    r"^(?:(?:and|then|also|additionally|furthermore|moreover|finally|lastly|next|after\s+that|afterwards|besides|plus)\b[,:]?\s*)+",
    re.I,
)
# a preamble that only announces how many requests follow ("Two requests - ...", "I need two things: ...")
_PREAMBLE = re.compile(
    r"^(?:(?:i\s+(?:need|have)\s+)?(?:two|three|four|five|several|a\s+few|\d+)\s+(?:requests?|things?|tasks?|questions?)"
    r"(?:\s+for\s+you)?\s*[-:\u2013\u2014]+\s*)",
    re.I,
)
DEFAULT_MIN_TERMS = 3
MAX_SUBQUERIES = 8


def split_intents(query: str, min_terms: int = DEFAULT_MIN_TERMS, limit: int = MAX_SUBQUERIES) -> list[str]:
    """The sub-queries of a multi-intent query, in order; [] when the query has a single intent."""
    parts = [c for s in _SENTENCE.split(query) for c in _CLAUSE.split(s)]
    out: list[str] = []
    for p in parts:
        p = _LEAD.sub("", _PREAMBLE.sub("", p.strip(" .,;:!?\""))).strip()
        if p and len(set(tokenize(p))) >= min_terms and p not in out:
            out.append(p)
    return out[:limit] if len(out) > 1 else []
