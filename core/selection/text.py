"""Query/tool text normalisation for keyword matching.

Lowercase, split snake_case / camelCase / digits, drop English stop words and apply a light
suffix-stripping stemmer (plural, -ing, -ed, -ly, -ies), so "getWeatherForecasts" and
"weather forecast" share the terms `weather` and `forecast`.
"""

from __future__ import annotations

import re
from functools import lru_cache

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[A-Za-z]+|[0-9]+")

STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own please same
    she should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves also get give let like make need show tell want using use
    i'd i'm it's let's me my could would may might must shall via per e g eg etc
    """.split()
)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Light English stemming: plurals and common verb forms conflate ("analyzes", "analyzed",
    "analyzing" and "analyze" all become "analyz")."""
    w = word
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith(("sses", "xes", "ches", "shes", "zzes")):
        w = w[:-2]
    elif w.endswith("ing") and len(w) > 5:
        w = _undouble(w[:-3])
    elif w.endswith("ed") and len(w) > 4:
        w = _undouble(w[:-2])
    elif w.endswith("ly") and len(w) > 5:
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


def _undouble(w: str) -> str:
    return w[:-1] if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "lsz" else w


def split_words(text: str) -> list[str]:
    """Split on non-alphanumerics, snake_case and camelCase boundaries; lowercase."""
    return [m.group(0).lower() for m in _WORD.finditer(_CAMEL.sub(" ", text.replace("_", " ")))]


def tokenize(text: str) -> list[str]:
    """Terms for BM25: split, lowercase, stop words removed, stemmed."""
    return [stem(w) for w in split_words(text) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]


def term_origins(text: str) -> dict[str, str]:
    """Map each stemmed term of `text` to the first surface word that produced it (for explanations)."""
    out: dict[str, str] = {}
    for w in split_words(text):
        if w in STOP_WORDS or (len(w) <= 1 and not w.isdigit()):
            continue
        out.setdefault(stem(w), w)
    return out
