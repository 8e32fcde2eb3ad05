"""Shared test data for the selection tests: a small catalog and a scripted (fake) encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.selection.text import split_words

TOOLS = [
    ("get_weather_forecast", "getWeatherForecast", "weather", "Get the weather forecast for a city", {"city": "City name", "days": "Number of days"}),
    ("convert_currency", "convertCurrency", "finance", "Convert an amount of money from one currency to another", {"amount": "Amount", "from_currency": "Source currency code", "to_currency": "Target currency code"}),
    ("send_email", "sendEmail", "communication", "Send an email message to a recipient", {"to": "Recipient address", "subject": "Subject line", "body": "Message body"}),
    ("search_flights", "searchFlights", "travel", "Search flights between two airports on a date", {"origin": "Departure airport", "destination": "Arrival airport", "date": "Travel date"}),
    ("book_hotel", "bookHotel", "travel", "Book a hotel room in a city", {"city": "City name", "nights": "Number of nights"}),
    ("get_stock_price", "getStockPrice", "finance", "Get the latest stock price of a company", {"ticker": "Stock ticker symbol"}),
    ("translate_text", "translateText", "language", "Translate text into another language", {"text": "Text to translate", "target_language": "Language code"}),
    ("create_calendar_event", "createCalendarEvent", "productivity", "Create an event in the calendar", {"title": "Event title", "start": "Start time"}),
]

# Concept groups the fake encoder knows: words of a group map to the same direction.
CONCEPTS = [
    {"weather", "forecast", "rain", "umbrella", "temperature", "sunny"},
    {"currency", "money", "exchange", "dollar", "euro", "convert", "amount"},
    {"email", "mail", "message", "recipient", "inbox", "send"},
    {"flight", "flights", "airport", "fly", "plane"},
    {"hotel", "room", "stay", "nights", "accommodation", "book"},
    {"stock", "share", "ticker", "market", "price"},
    {"translate", "language", "spanish", "french", "text"},
    {"calendar", "event", "meeting", "schedule", "appointment"},
]


def tool_row(tid: str, name: str, cat: str, desc: str, params: dict[str, str]) -> dict:
    return {
        "tool_id": tid,
        "name": name,
        "category": cat,
        "description": desc,
        "parameters": {"type": "object", "properties": {p: {"type": "string", "description": d} for p, d in params.items()}, "required": list(params)[:1]},
        "returns": "result",
    }


def write_catalog(path: Path, rows: list[dict] | None = None) -> Path:
    rows = rows if rows is not None else [tool_row(*t) for t in TOOLS]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


class FakeEncoder:
    """Deterministic concept-bag encoder (a test double): counts how many texts it embedded."""

    model_id = "fake-concepts/v1"
    dim = len(CONCEPTS) + 1

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in split_words(t):
                for c, group in enumerate(CONCEPTS):
                    if w in group:
                        out[i, c] += 1.0
            out[i, -1] = 0.1  # never a zero vector
            out[i] /= np.linalg.norm(out[i])
        return out
