"""The learned query map of the embedding selector: applying it, loading it, and training it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.catalog import load_catalog
from core.errors import DataError, NotFoundError, UsageError
from core.selection import query_map as qm
from core.selection.embedding import EmbeddingSelector
from core.selection.query_map import QueryMap, load_query_map, resolve_query_map
from core.selection.two_stage import TwoStageSelector
from tests.selection_support import CONCEPTS, FakeEncoder, write_catalog

WEATHER, CALENDAR = 0, 7  # concept rows of the fake encoder
assert "weather" in CONCEPTS[WEATHER] and "calendar" in CONCEPTS[CALENDAR]


def weather_to_calendar(dim: int) -> np.ndarray:
    """A map that sends the weather direction onto the calendar direction (q + qW)."""
    w = np.zeros((dim, dim), dtype=np.float32)
    w[WEATHER, WEATHER], w[WEATHER, CALENDAR] = -1.0, 1.0
    return w


@pytest.fixture
def catalog(tmp_path: Path):
    return load_catalog(write_catalog(tmp_path / "tools.jsonl"))


def test_a_map_moves_queries_only_and_is_named_in_the_config(catalog, tmp_path: Path) -> None:
    enc = FakeEncoder()
    path = QueryMap(weather_to_calendar(enc.dim), enc.model_id, {"note": "test"}).save(tmp_path / "m.npz")
    plain = EmbeddingSelector(encoder=enc, cache=False).fit(catalog)
    mapped = EmbeddingSelector(encoder=FakeEncoder(), cache=False, query_map=path).fit(catalog)
    assert np.allclose(plain.vectors, mapped.vectors)  # tool vectors are the encoder's own
    assert plain.select("will it be sunny", 1)[0].tool_id == "get_weather_forecast"
    assert mapped.select("will it be sunny", 1)[0].tool_id == "create_calendar_event"
    assert plain.config()["query_map"] is None
    assert mapped.config()["query_map"] == load_query_map(path).id
    assert mapped.query_model_id != plain.query_model_id  # query-vector caches never mix the two
    two = TwoStageSelector(embedding=EmbeddingSelector(encoder=FakeEncoder(), cache=False, query_map=path)).fit(catalog)
    assert two.config()["embedding"]["query_map"] == load_query_map(path).id
    assert np.allclose(two.embedding.encode_queries(["sunny"]), mapped.encode_queries(["sunny"]))


def test_a_zero_map_changes_nothing_and_round_trips(tmp_path: Path) -> None:
    m = QueryMap(np.zeros((4, 4), dtype=np.float32), "enc/x", {"a": 1})
    back = load_query_map(m.save(tmp_path / "z.npz"))
    assert (back.encoder_id, back.meta, back.id) == ("enc/x", {"a": 1}, m.id)
    v = np.array([[3.0, 4.0, 0.0, 0.0]], dtype=np.float32)
    assert np.allclose(back.apply(v), [[0.6, 0.8, 0.0, 0.0]])


def test_bad_map_files_are_errors_that_name_the_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nope.npz"):
        load_query_map(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(DataError, match="junk.npz"):
        load_query_map(junk)
    bad = tmp_path / "bad.npz"
    np.savez(bad, matrix=np.zeros((3, 4), dtype=np.float32), encoder_id=np.array("e"))
    with pytest.raises(DataError) as err:
        load_query_map(bad)
    assert err.value.field == "matrix" and "bad.npz" in str(err.value)
    nometa = tmp_path / "noenc.npz"
    np.savez(nometa, matrix=np.zeros((3, 3), dtype=np.float32))
    with pytest.raises(DataError) as err:
        load_query_map(nometa)
    assert err.value.field == "encoder_id"


def test_a_map_for_another_encoder_is_refused_by_path_and_skipped_by_auto(tmp_path: Path, monkeypatch) -> None:
    path = QueryMap(np.zeros((9, 9), dtype=np.float32), "other-encoder").save(tmp_path / "m.npz")
    with pytest.raises(UsageError, match="other-encoder"):
        resolve_query_map(path, "fake-concepts/v1", 9)
    monkeypatch.setattr(qm, "bundled_map_path", lambda: path)
    assert resolve_query_map("auto", "fake-concepts/v1", 9) is None
    assert resolve_query_map("auto", "other-encoder", 9) is not None
    assert resolve_query_map("none", "other-encoder", 9) is None


def test_the_bundled_map_was_trained_for_the_bundled_encoder() -> None:
    from core.selection.encoder import bundled_model_dir, model_identity

    qmap = load_query_map(qm.bundled_map_path())
    assert qmap.encoder_id == model_identity(bundled_model_dir())
    assert qmap.matrix.shape == (384, 384)
    assert qmap.meta["validation_unseen_tools"]["mapped"]["acc@1"] > qmap.meta["validation_unseen_tools"]["base"]["acc@1"]


def test_training_learns_a_map_that_sends_requests_to_their_tools() -> None:
    """Requests for tool i embed near tool perm(i): the base ranking is wrong, the trained map fixes it."""
    from training.query_map import accuracy, train_map

    rng = np.random.default_rng(0)
    t = rng.normal(size=(20, 16)).astype(np.float32)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    perm = np.roll(np.arange(20), 1)
    y = np.repeat(np.arange(20), 5)
    q = t[perm[y]] + 0.1 * rng.normal(size=(100, 16)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    mat = train_map(q, t, y, np.ones(100, dtype=np.float32), epochs=300, lr=1e-2, wd=1e-5, batch=100)
    assert accuracy(q, t, y, None)["acc@1"] < 0.2
    assert accuracy(q, t, y, mat)["acc@1"] > 0.9


def test_texts_that_overlap_an_evaluation_set_are_dropped() -> None:
    from core.selection.paraphrases import Pair
    from training.query_map import drop_overlap

    pairs = [Pair("turn off the lights in the kitchen please", "a", "paraphrase"),
             Pair("order a pizza to the office", "b", "paraphrase")]
    kept, dropped = drop_overlap(pairs, ["Could you turn off the lights in the kitchen please, thanks"])
    assert [p.tool_id for p in kept] == ["b"] and [p.tool_id for p in dropped] == ["a"]


def test_pair_targets_index_tools_in_catalog_order_and_weight_paraphrases() -> None:
    from types import SimpleNamespace

    from core.selection.paraphrases import Pair
    from training.query_map import pair_targets

    cat = [SimpleNamespace(tool_id="a"), SimpleNamespace(tool_id="b")]
    y, w = pair_targets(cat, [Pair("x", "b", "intent"), Pair("y", "a", "paraphrase")], 5.0)
    assert y.tolist() == [1, 0] and w.tolist() == [1.0, 5.0]


def test_a_bad_paraphrase_line_names_the_file_line_and_field(tmp_path: Path) -> None:
    from core.selection.paraphrases import read_paraphrases

    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps({"tool_id": "a", "paraphrases": ["x", "x", " y "]}) + "\n"
                 + json.dumps({"tool_id": "zzz", "paraphrases": []}) + "\n")
    with pytest.raises(DataError) as err:
        read_paraphrases(f, {"a"})
    assert (err.value.line, err.value.field) == (2, "tool_id") and "p.jsonl" in str(err.value)
    f.write_text(json.dumps({"tool_id": "a", "paraphrases": ["x", "x", " y "]}) + "\n")
    assert [p.text for p in read_paraphrases(f, {"a"})] == ["x", "y"]


def test_a_query_map_for_a_selector_that_does_not_embed_the_query_is_a_usage_error(catalog) -> None:
    from core.planning.registry import make_selector

    with pytest.raises(UsageError, match="keyword"):
        make_selector(catalog, "keyword", query_map="auto")


def test_planners_get_the_bundled_map_unless_told_otherwise(catalog, monkeypatch) -> None:
    """make_selector (plan, the TUI, eval planning) gives an embedding selector the default map ("auto"), keeps an
    explicit "none", and a keyword selector has no map and no error."""
    from core.planning import registry
    from core.selection import registry as sel_registry

    asked: list[dict] = []
    monkeypatch.setattr(sel_registry, "get_selector", lambda name, cat, **kw: asked.append({"name": name, **kw}))
    registry.make_selector(catalog, "two_stage")
    registry.make_selector(catalog, "embedding", query_map="none")
    registry.make_selector(catalog, "keyword")
    registry.make_selector(catalog)
    assert registry.DEFAULT_QUERY_MAP == "auto"
    assert asked == [{"name": "two_stage", "query_map": "auto"}, {"name": "embedding", "query_map": "none"},
                     {"name": "keyword"}, {"name": registry.DEFAULT_SELECTOR}]
    assert registry.default_query_map("two_stage") == "auto" and registry.default_query_map("keyword") is None
