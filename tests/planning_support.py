"""Test helpers for planning/timing tests: a small catalog, a word-overlap selector, a scripted LLM backend."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from core.catalog import Catalog, validate_tool_dict
from core.llm.base import Completion
from core.selection.base import Selection, StageScore


def _tool(tid: str, desc: str, params: dict[str, str], required: Sequence[str] = ()) -> dict[str, Any]:
    return {"tool_id": tid, "name": tid.replace("_", " ").title(), "category": "test", "description": desc,
            "parameters": {"type": "object", "properties": {k: {"type": v, "description": k} for k, v in params.items()},
                           "required": list(required)}, "returns": "object"}


TOOLS = [
    _tool("search_flights", "Search flights between two cities on a date", {"origin": "string", "destination": "string", "date": "string"}, ["origin", "destination"]),
    _tool("book_hotel", "Book a hotel room in a city for given nights", {"city": "string", "nights": "integer"}, ["city"]),
    _tool("get_weather", "Get the current weather forecast for a city", {"city": "string"}, ["city"]),
    _tool("send_email", "Send an email message to a recipient", {"to": "string", "body": "string"}, ["to"]),
    _tool("convert_currency", "Convert an amount of money between currencies", {"amount": "number", "from_currency": "string", "to_currency": "string"}, ["amount"]),
    _tool("get_stock_price", "Get the latest stock price for a ticker symbol", {"ticker": "string"}, ["ticker"]),
    _tool("translate_text", "Translate text into another language", {"text": "string", "language": "string"}, ["text"]),
    _tool("delete_all_files", "Delete every file on the disk", {"confirm": "boolean"}),
]


def make_catalog(extra: Sequence[dict[str, Any]] = ()) -> Catalog:
    return Catalog([validate_tool_dict(t) for t in [*TOOLS, *extra]], source="test")


class OverlapSelector:
    """Ranks tools by shared lowercase words with the query (a test double of the Selector protocol)."""

    name = "overlap"

    def fit(self, catalog: Catalog) -> OverlapSelector:
        self.catalog = catalog
        self.words = {t.tool_id: set(re.findall(r"[a-z]+", t.search_text().lower())) for t in catalog}
        return self

    def select(self, query: str, top_k: int = 5, candidates: Sequence[str] | None = None) -> list[Selection]:
        q = set(re.findall(r"[a-z]+", query.lower()))
        ids = list(candidates) if candidates is not None else list(self.words)
        scored = sorted(((len(q & self.words[t]), -i, t) for i, t in enumerate(ids)), reverse=True)[:top_k]
        return [Selection(t, float(s), r, [StageScore("overlap", float(s), r)])
                for r, (s, _, t) in enumerate(scored, start=1)]

    def config(self) -> dict[str, Any]:
        return {"name": self.name}


class ScriptedBackend:
    """Returns queued answers in order (strings or objects, objects are JSON-dumped) and records prompts."""

    name = "scripted"

    def __init__(self, answers: Sequence[Any], finish_reason: str = "stop") -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []
        self.finish_reason = finish_reason

    def info(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def complete(self, messages, *, json_schema=None, grammar=None, max_tokens=256, temperature=0.0, seed=0,
                 stop=None, on_token=None) -> Completion:
        self.calls.append({"messages": list(messages), "json_schema": json_schema, "max_tokens": max_tokens})
        if not self.answers:
            raise AssertionError("scripted backend ran out of answers")
        a = self.answers.pop(0)
        text = a if isinstance(a, str) else json.dumps(a)
        if on_token:
            for ch in text:
                on_token(ch)
        return Completion(text, self.finish_reason, 10, len(text), 0.01)
