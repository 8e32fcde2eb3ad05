"""Splitting multi-intent requests into sub-queries (core/selection/subquery.py)."""

from __future__ import annotations

import pytest

from core.selection.subquery import split_intents


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "Please check the current status of my IT support ticket with the ID gDigAX6tNT. If it is unresolved, "
            "please submit a new support ticket for the IT issue. Finally, retrieve the status of my purchase order with the ID FXVjwDP41f.",
            [
                "Please check the current status of my IT support ticket with the ID gDigAX6tNT",
                "If it is unresolved, please submit a new support ticket for the IT issue",
                "retrieve the status of my purchase order with the ID FXVjwDP41f",
            ],
        ),
        (
            "Book a hotel room in Lisbon for three nights, and then translate the booking text into Spanish",
            ["Book a hotel room in Lisbon for three nights", "translate the booking text into Spanish"],
        ),
        (
            "Find houses for sale in my area and check whether any discounts are available",
            ["Find houses for sale in my area", "check whether any discounts are available"],
        ),
        (  # a preamble that only counts the requests is not part of the first intent
            'Two requests - pull up the repository "quill/editor", and add a item listing named "Breeze standing fan".',
            ['pull up the repository "quill/editor', 'add a item listing named "Breeze standing fan'],
        ),
        (
            'I need two things: pull up the camera clip "Dog on the sofa", plus find field observations about recycling',
            ['pull up the camera clip "Dog on the sofa', "find field observations about recycling"],
        ),
    ],
)
def test_multi_intent_queries_split_per_intent(query: str, expected: list[str]) -> None:
    assert split_intents(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "will it rain in Oslo tomorrow",
        "Convert 20 dollars to euro and then do it",  # "do it" has no keyword term: not an intent
        "",
    ],
)
def test_single_intent_queries_are_not_split(query: str) -> None:
    assert split_intents(query) == []


def test_limit_and_duplicates() -> None:
    q = ". ".join(["Get the weather forecast for Oslo"] * 3 + [f"Send an email message to person {i}" for i in range(12)])
    parts = split_intents(q, limit=4)
    assert len(parts) == 4 and parts[0] == "Get the weather forecast for Oslo" and len(set(parts)) == 4
