"""Tokenizer and BM25 keyword selector: real scores, explanations, candidates, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from selection_support import write_catalog

from core.catalog import load_catalog
from core.errors import NotFoundError, UsageError
from core.selection.keyword import KeywordSelector
from core.selection.text import stem, tokenize


def test_tokenizer_splits_case_and_stems() -> None:
    assert tokenize("getWeatherForecasts") == ["weather", "forecast"]
    assert tokenize("HTTPServer my_snake_case") == ["http", "server", "snak", "case"]
    assert tokenize("the and of to") == []
    assert len({stem(w) for w in ("analyze", "analyzes", "analyzed", "analyzing")}) == 1
    assert stem("batteries") == "battery" and stem("running") == "run" and stem("class") == "class"


@pytest.fixture
def catalog(tmp_path: Path):
    return load_catalog(write_catalog(tmp_path / "tools.jsonl"))


def test_sparse_backend_matches_rank_bm25(catalog) -> None:
    fast = KeywordSelector(backend="sparse").fit(catalog)
    ref = KeywordSelector(backend="rank_bm25").fit(catalog)
    for q in ("weather forecast for Paris", "convert 20 dollars to euro currency", "book a hotel room in the city", "zzz"):
        np.testing.assert_allclose(fast.scores(q), ref.scores(q), rtol=1e-9, atol=1e-12)


def test_ranks_matching_tool_first_with_explanation(catalog) -> None:
    sel = KeywordSelector().fit(catalog)
    res = sel.select("What's the weather forecast in Rome?", top_k=3)
    assert res[0].tool_id == "get_weather_forecast"
    assert [r.rank for r in res] == [1, 2, 3]
    assert res[0].score > res[1].score
    assert set(res[0].matched_terms) == {"weather", "forecast"}
    assert res[0].stages[0].stage == "keyword" and res[0].stages[0].rank == 1
    assert "weather" in res[0].explanation


def test_candidates_restrict_and_ties_follow_catalog_order(catalog) -> None:
    sel = KeywordSelector().fit(catalog)
    res = sel.select("hotel", top_k=5, candidates=["send_email", "book_hotel", "translate_text"])
    assert [r.tool_id for r in res] == ["book_hotel", "send_email", "translate_text"]  # zero-score tie: catalog order
    with pytest.raises(NotFoundError):
        sel.select("hotel", candidates=["no_such_tool"])


@pytest.mark.parametrize("query,top_k", [("", 5), ("   ", 5), ("hotel", 0), ("hotel", -3)])
def test_bad_input_is_a_usage_error(catalog, query: str, top_k: int) -> None:
    sel = KeywordSelector().fit(catalog)
    with pytest.raises(UsageError):
        sel.select(query, top_k=top_k)


def test_unfitted_selector_refuses() -> None:
    with pytest.raises(UsageError):
        KeywordSelector().select("weather")
