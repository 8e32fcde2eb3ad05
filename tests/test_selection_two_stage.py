"""Embedding cache, two-stage fusion and explanations, with a scripted encoder (no model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from selection_support import FakeEncoder, write_catalog

from core.catalog import load_catalog
from core.errors import UsageError
from core.selection.embedding import EmbeddingSelector
from core.selection.fusion import ADAPTIVE, fuse, minmax, rank_positions
from core.selection.keyword import KeywordSelector
from core.selection.two_stage import TwoStageSelector


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    return load_catalog(write_catalog(tmp_path / "tools.jsonl"))


def test_embeddings_are_cached_on_disk(catalog) -> None:
    enc = FakeEncoder()
    first = EmbeddingSelector(encoder=enc).fit(catalog)
    assert first.cache_hit is False and enc.texts == len(catalog)
    enc2 = FakeEncoder()
    second = EmbeddingSelector(encoder=enc2).fit(catalog)
    assert second.cache_hit is True and enc2.texts == 0  # warm start: nothing re-embedded
    np.testing.assert_array_equal(first.vectors, second.vectors)
    assert first.cache_path(catalog).exists()
    # a different tool text is a different cache entry
    enc3 = FakeEncoder()
    EmbeddingSelector(encoder=enc3, text="search_text").fit(catalog)
    assert enc3.texts == len(catalog)


def test_embedding_selector_ranks_by_cosine(catalog) -> None:
    sel = EmbeddingSelector(encoder=FakeEncoder()).fit(catalog)
    res = sel.select("will I need an umbrella tomorrow", top_k=2)
    assert res[0].tool_id == "get_weather_forecast"
    assert res[0].stages[0].stage == "embedding" and res[0].score > res[1].score


def test_fusion_functions() -> None:
    assert list(minmax(np.array([2.0, 4.0, 3.0]))) == [0.0, 1.0, 0.5]
    assert list(minmax(np.array([1.0, 1.0]))) == [0.0, 0.0]
    assert list(rank_positions(np.array([0.1, 0.9, 0.9]))) == [3, 1, 2]
    kw, emb = np.array([3.0, 1.0, 0.0]), np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(fuse(kw, emb, "weighted", 0.5, 60), [0.5, 0.5 * 0.5 + 0.5 / 3, 0.5])
    rrf = fuse(kw, emb, "rrf", 0.5, 60)
    assert rrf[0] == pytest.approx(0.5 / 63 + 0.5 / 61)
    np.testing.assert_allclose(fuse(kw, emb, "rerank", 0.5, 60), emb)


def test_two_stage_combines_both_signals_and_explains(catalog) -> None:
    ts = TwoStageSelector(coarse_n=4, fusion="adaptive", encoder=FakeEncoder()).fit(catalog)
    res = ts.select("convert 20 dollars to euro", top_k=3)
    top = res[0]
    assert top.tool_id == "convert_currency"
    assert [s.stage for s in top.stages] == ["keyword", "embedding", "fused"]
    assert top.stages[2].rank == 1 and top.matched_terms == ["convert"]
    assert "keyword #" in top.explanation and "embedding #" in top.explanation and "fused #1" in top.explanation
    cfg = ts.config()
    assert cfg["name"] == "two_stage" and cfg["coarse_n"] == 4 and cfg["embedding"]["model"] == "fake-concepts/v1"


def test_coarse_stage_is_backfilled_by_embedding(catalog) -> None:
    # no query word occurs in any tool text, so BM25 scores are all zero
    ts = TwoStageSelector(coarse_n=3, fusion="adaptive", encoder=FakeEncoder()).fit(catalog)
    assert not ts.keyword.scores("umbrella sunny").any()
    assert ts.select("umbrella sunny", top_k=1)[0].tool_id == "get_weather_forecast"
    # with coarse_n=1 the only coarse candidate is the BM25 winner, which the fusion cannot leave
    one = TwoStageSelector(coarse_n=1, fusion="adaptive", encoder=FakeEncoder()).fit(catalog)
    assert [s.tool_id for s in one.select("stock price", top_k=5)] == ["get_stock_price"]


def test_fusion_beats_a_misleading_single_stage(catalog) -> None:
    kw = KeywordSelector().fit(catalog)
    emb = EmbeddingSelector(encoder=FakeEncoder()).fit(catalog)
    q = "email the hotel booking"
    assert kw.select(q, 1)[0].tool_id == "book_hotel"  # "hotel" + "book" win in BM25
    pure = TwoStageSelector(keyword=kw, embedding=emb, fusion="rerank", coarse_n=8).fit(catalog)
    weighted = TwoStageSelector(keyword=kw, embedding=emb, fusion="weighted", weight=0.0, coarse_n=8).fit(catalog)
    assert weighted.select(q, 1)[0].tool_id == "book_hotel"  # weight 0 = BM25 order
    assert {pure.select(q, 2)[0].tool_id, pure.select(q, 2)[1].tool_id} == {"send_email", "book_hotel"}


def test_candidates_and_bad_options(catalog) -> None:
    ts = TwoStageSelector(encoder=FakeEncoder()).fit(catalog)
    res = ts.select("weather", top_k=5, candidates=["send_email", "translate_text"])
    assert {r.tool_id for r in res} == {"send_email", "translate_text"}
    for bad in ({"fusion": "max"}, {"coarse": "all"}, {"coarse_n": 0}, {"weight": 1.5}):
        with pytest.raises(UsageError):
            TwoStageSelector(encoder=FakeEncoder(), **bad)
    with pytest.raises(UsageError):
        ts.select("", top_k=5)
    with pytest.raises(UsageError):
        TwoStageSelector(encoder=FakeEncoder()).select("weather")


def test_adaptive_weight_trusts_strong_keyword_matches() -> None:
    from core.selection.fusion import adaptive_weight

    lo, hi, t, _ = ADAPTIVE
    assert adaptive_weight(1.0) == pytest.approx(lo, abs=0.01)  # the best tool matches every query term
    assert adaptive_weight(0.0) == pytest.approx(hi, abs=0.01)  # no tool matches the query's words
    assert lo < adaptive_weight(t) < hi
    kw, emb = np.array([40.0, 30.0, 0.0]), np.array([0.1, 0.2, 0.9])
    # the weight depends on the share of the ideal score, not on the BM25 scale
    np.testing.assert_allclose(fuse(kw, emb, "adaptive", 0.5, 60, ideal=80.0), fuse(kw, emb, "weighted", adaptive_weight(0.5), 60))
    np.testing.assert_allclose(fuse(kw * 10, emb, "adaptive", 0.5, 60, ideal=800.0), fuse(kw, emb, "adaptive", 0.5, 60, ideal=80.0))


def test_ideal_score_bounds_every_bm25_score(catalog) -> None:
    kw = KeywordSelector().fit(catalog)
    for q in ("convert 20 dollars to euro", "weather forecast city days", "book hotel room city nights"):
        ideal = kw.ideal_score(q)
        assert 0.0 < kw.scores(q).max() <= ideal
    assert kw.ideal_score("zzz qqq") == 0.0  # no query term is in the catalog


EXTRA_HOTEL_TOOLS = [
    ("get_hotel_reviews", "getHotelReviews", "travel", "Get guest reviews of a hotel in a city", {"hotel": "Hotel name", "city": "City name"}),
    ("cancel_hotel_booking", "cancelHotelBooking", "travel", "Cancel a hotel room booking", {"booking_id": "Booking id"}),
    ("find_hotel_deals", "findHotelDeals", "travel", "Find hotel room deals in a city for a number of nights", {"city": "City name", "nights": "Number of nights"}),
]


@pytest.fixture
def hotel_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from selection_support import TOOLS, tool_row

    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    return load_catalog(write_catalog(tmp_path / "hotel.jsonl", [tool_row(*t) for t in TOOLS + EXTRA_HOTEL_TOOLS]))


@pytest.mark.parametrize(
    ("query", "gold"),
    [
        ("Book a hotel room in Lisbon for three nights near the hotel district with a hotel pool, and then translate the text into Spanish",
         {"book_hotel", "translate_text"}),
        ("Find a cheap hotel room in Rome for 2 nights near a hotel with good hotel reviews. Then send an email to Anna",
         {"find_hotel_deals", "send_email"}),
    ],
)
def test_two_intent_query_gets_both_tools_into_the_top(hotel_catalog, query: str, gold: set[str]) -> None:
    kw = KeywordSelector().fit(hotel_catalog)
    emb = EmbeddingSelector(encoder=FakeEncoder()).fit(hotel_catalog)
    whole = TwoStageSelector(keyword=kw, embedding=emb, coarse_n=20, split=False).fit(hotel_catalog)
    split = TwoStageSelector(keyword=kw, embedding=emb, coarse_n=20).fit(hotel_catalog)
    assert len(split.subqueries(query)) == 2
    # the keyword-heavy hotel intent fills the whole-query top 4; the second intent falls to #5
    assert not gold <= {r.tool_id for r in whole.select(query, 4)}
    res = split.select(query, 2)
    assert {r.tool_id for r in res} == gold
    second = next(r for r in res if r.tool_id not in {"book_hotel", "find_hotel_deals"})
    assert 'sub-query 2/2 "' in second.explanation and "#1" in second.explanation.split("sub-query")[1]
    assert second.stages[-1].stage == "subquery 2" and second.stages[-1].rank == 1


def test_single_intent_query_is_not_split(catalog) -> None:
    kw = KeywordSelector().fit(catalog)
    emb = EmbeddingSelector(encoder=FakeEncoder()).fit(catalog)
    on = TwoStageSelector(keyword=kw, embedding=emb).fit(catalog)
    off = TwoStageSelector(keyword=kw, embedding=emb, split=False).fit(catalog)
    q = "convert 20 dollars to euro"
    assert on.subqueries(q) == []
    assert [(r.tool_id, r.score, r.explanation) for r in on.select(q, 5)] == [(r.tool_id, r.score, r.explanation) for r in off.select(q, 5)]
    assert "sub-query" not in on.select(q, 1)[0].explanation
    cfg = on.config()
    assert cfg["split"] is True and cfg["fusion"] == "hybrid" and cfg["hybrid"]["subquery_slots"] >= 0
    legacy = TwoStageSelector(keyword=kw, embedding=emb, fusion="adaptive").fit(catalog).config()
    assert legacy["subquery_slots"] == 1 and legacy["adaptive_signal"] == "share"
    with pytest.raises(UsageError):
        TwoStageSelector(encoder=FakeEncoder(), subquery_weight=-1)
    with pytest.raises(UsageError):
        TwoStageSelector(encoder=FakeEncoder(), signal="magic")
