"""A goal's action clauses, by rules: where the grounded planner splits a goal into one intent per clause.

`intent_clauses` splits at sentence and clause boundaries and folds fragments with fewer than two content
words into the next clause; `action_query` is the text a clause is retrieved on (its action, without a
condition). Measured and not adopted (docs/PLANNING.md, session 8): folding scene-setting
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


# a condition that only says when to act ("... if it rains", "... in case the build fails"): dropped from the
# retrieval text so the condition's nouns do not pull the clause onto a tool for them (a weather tool for
# "email ana if it will rain")
_TRAILING_CONDITION = re.compile(r"\s*,?\s+\b(?:if|unless|in case)\s+(?:it|it's|there|the|that|they|he|she|we|i|you)\b"
                                 r"(?:\W+[\w'@.]+){0,8}\W*$", re.I)
# "check if it is available" asks a question; the "if" there is not a condition
_ASKS = frozenset("check see ask know verify confirm wonder sure find out tell whether".split())
# the same at the start of a clause: "if it rains, email my manager" / "if it rains email my manager"
_LEADING_CONDITION = re.compile(
    r"^(?:if|unless|in case)\s+(?:[^,]{1,60},\s*|(?:so|not)\s+|(?:it|it's|that|this)\b"
    r"(?:\s+(?:will|is|does|doesn't|isn't|gets)\b)?(?:\s+be\b)?\s+\w+\s+)", re.I)
# a channel named as the verb: "email ana@x.com", "text Tom", "DM it to her"; "ping me if ..." is an alert, not a
# message, and stays as written
_CHANNEL_NOUN = {"email": "an email", "e-mail": "an email", "mail": "an email", "text": "a text message",
                 "sms": "a text message", "dm": "a direct message", "message": "a message", "msg": "a message",
                 "ping": "a message"}
_LEADING_VERB = re.compile(r"^(?P<verb>e-mail|email|mail|text|sms|dm|message|msg|ping)\s+(?P<obj>[\w@+][^\s]*)", re.I)
_SELF = frozenset({"me", "us", "myself"})
_THING = frozenset({"it", "them", "this", "that", "these", "those"})


# mentions whose form says what they are, and so which tool takes them; retrieval reads the type word
# ("Is BA117 on time?" -> "Is flight BA117 on time?"; "post a rundown in #frontend" -> "... in the #frontend
# channel"; "Ring +44 20 7946 0321" -> "Ring phone number +44 20 7946 0321"). A hex colour is not a channel, an
# id with a leading zero (WH001) or a space (ID 61) is not a flight.
_CHANNEL = r"#(?![0-9A-Fa-f]{6}\b)[A-Za-z][\w-]*(?![\w-])"
_FLIGHT = r"(?<![\w-])[A-Z]{2}[1-9]\d{0,3}(?![\w-])"
_PHONE = r"(?<![\w+])(?:\+\d[\d ()-]{6,}\d|\d{3}[ -]\d{3}[ -]\d{4})(?!\d)"
_TYPED_MENTIONS = (
    (re.compile(rf"(?<![\w&#])(?<!the )({_CHANNEL})(?!\s+channel)"), r"the \1 channel"),
    (re.compile(rf"(?<=the )({_CHANNEL})(?!\s+channel)"), r"\1 channel"),
    (re.compile(rf"(?<!flight )({_FLIGHT})"), r"flight \1"),
    (re.compile(rf"(?<!number )({_PHONE})"), r"phone number \1"),
)
# the same mentions, found (not rewritten): kind -> pattern of the value itself
MENTION = {
    "phone": re.compile(_PHONE),
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}"),
    "flight": re.compile(_FLIGHT),
}


def mentions(kind: str, text: str) -> list[str]:
    """The distinct mentions of `kind` (phone, email, flight) in `text`, in order."""
    return list(dict.fromkeys(m.group(0).strip() for m in MENTION[kind].finditer(text)))


def typed_mentions(text: str) -> str:
    """`text` with a type word before (or after) each mention whose form names its type: a #channel, a flight
    number, a phone number."""
    for rx, rep in _TYPED_MENTIONS:
        text = rx.sub(rep, text)
    return text


def action_query(clause: str) -> str:
    """The clause as an action to retrieve a tool for: a trailing condition dropped ("email ana@x.com if it will
    rain" -> "email ana@x.com"), a leading one too ("if it rains email my manager" -> "email my manager"), and a
    channel used as the verb spelled out ("email ana@x.com" -> "send an email to ana@x.com"). A request to be
    told ("ping me if it falls below 200") is an alert and stays as written. Typed mentions get their type word
    (`typed_mentions`). The clause itself (the sub-goal shown and given to the model) is unchanged."""
    m = _LEADING_VERB.match(clause.strip())
    if m and m.group("obj").lower() in _SELF:
        return clause
    text = clause
    m = _TRAILING_CONDITION.search(clause)
    if m and not (set(re.findall(r"[a-z]+", clause[: m.start()].lower())[-1:]) & _ASKS):
        text = clause[: m.start()].strip() or clause
    text = _LEADING_CONDITION.sub("", text).strip() or text
    m = _LEADING_VERB.match(text)
    if m:
        noun, obj, rest = _CHANNEL_NOUN[m.group("verb").lower()], m.group("obj"), text[m.end():]
        text = f"send {obj} as {noun}{rest}" if obj.lower() in _THING else f"send {noun} to {obj}{rest}"
    return typed_mentions(text)
