"""The query tower: the embedding model's top layers swapped for queries only; loading, resolving, training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import DataError, NotFoundError, UsageError
from core.selection import query_map as qm
from core.selection import query_tower as qt
from core.selection.encoder import load_encoder
from core.selection.query_map import QueryMap, resolve_query_map
from core.selection.query_tower import QueryTower, load_query_tower

TEXTS = ["kick off the nightly etl pipeline", "is CI green on main?"]


@pytest.fixture(scope="module")
def encoder():
    return load_encoder()  # the bundled MiniLM, numpy backend


def _top_layer(enc, i: int = 5) -> dict[str, np.ndarray]:
    keep = ("qkv.", "attention.output.", "intermediate.", ".output.dense.", ".output.LayerNorm.")
    return {k: v.copy() for k, v in enc.w.items() if k.startswith(f"encoder.layer.{i}.") and any(s in k for s in keep)}


def test_a_tower_with_the_base_weights_changes_nothing_and_other_weights_move_queries(encoder) -> None:
    same = QueryTower(_top_layer(encoder), encoder.model_id)
    assert np.allclose(same.encode(TEXTS, encoder), encoder.encode(TEXTS), atol=1e-5)
    moved = _top_layer(encoder)
    moved["encoder.layer.5.intermediate.dense.weight"] *= 1.5
    out = QueryTower(moved, encoder.model_id).encode(TEXTS, encoder)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert (out * encoder.encode(TEXTS)).sum(1).max() < 0.999  # the swapped layer is used
    assert np.allclose(encoder.encode(TEXTS), encoder.encode(TEXTS))  # the base encoder is left as it was


def test_a_tower_round_trips_in_half_precision_and_bad_files_name_the_field(encoder, tmp_path: Path) -> None:
    t = QueryTower(_top_layer(encoder), encoder.model_id, {"a": 1})
    back = load_query_tower(t.save(tmp_path / "t.npz"))
    assert (back.encoder_id, back.meta, set(back.weights)) == (t.encoder_id, {"a": 1}, set(t.weights))
    assert np.allclose(back.encode(TEXTS, encoder), t.encode(TEXTS, encoder), atol=2e-3)
    with pytest.raises(NotFoundError, match="nope.npz"):
        load_query_tower(tmp_path / "nope.npz")
    empty = tmp_path / "empty.npz"
    np.savez(empty, kind=np.array(qt.KIND), encoder_id=np.array("e"))
    with pytest.raises(DataError) as err:
        load_query_tower(empty)
    assert err.value.field == "w:*" and "empty.npz" in str(err.value)
    wrong = QueryMap(np.zeros((4, 4), dtype=np.float32), "e").save(tmp_path / "map.npz")
    with pytest.raises(DataError) as err:
        load_query_tower(wrong)
    assert err.value.field == "kind"


def test_auto_prefers_a_matching_tower_linear_keeps_the_map_and_a_path_must_match(encoder, tmp_path: Path,
                                                                                  monkeypatch) -> None:
    tower = QueryTower(_top_layer(encoder), encoder.model_id).save(tmp_path / "t.npz")
    linear = QueryMap(np.zeros((384, 384), dtype=np.float32), encoder.model_id).save(tmp_path / "m.npz")
    monkeypatch.setattr(qt, "bundled_tower_path", lambda: tower)
    monkeypatch.setattr(qm, "bundled_map_path", lambda: linear)
    assert isinstance(resolve_query_map("auto", encoder.model_id, 384), QueryTower)
    assert isinstance(resolve_query_map("linear", encoder.model_id, 384), QueryMap)
    assert isinstance(resolve_query_map(tower, encoder.model_id, 384), QueryTower)
    assert resolve_query_map("auto", "other-encoder", 384) is None  # neither fits another encoder
    with pytest.raises(UsageError, match="trained for encoder"):
        resolve_query_map(tower, "other-encoder", 384)
    monkeypatch.setattr(qt, "bundled_tower_path", lambda: tmp_path / "absent.npz")
    assert isinstance(resolve_query_map("auto", encoder.model_id, 384), QueryMap)  # no tower: the map


def test_the_bundled_tower_fits_the_bundled_encoder_and_beat_the_base_on_unseen_tools(encoder) -> None:
    tower = load_query_tower(qt.bundled_tower_path())
    assert tower.encoder_id == encoder.model_id
    val = tower.meta["validation_unseen_tools"]
    last = val[f"epoch_{tower.meta['epochs']}"]
    assert last["acc@1"] > val["before"]["acc@1"] and last["n"] > 100


def test_training_moves_requests_toward_their_tools() -> None:
    """Two requests whose base embeddings sit nearer the wrong tool: a short fit of the top layer fixes both."""
    from core.selection.encoder import bundled_model_dir
    from training.query_tower import train_tower

    enc = load_encoder()
    tools = enc.encode(["weather forecast for a city", "send an email message"])
    texts = ["email me the weather", "mail a note to ana about rain"]  # both go to tool 0 or 1 by the base model
    base = (enc.encode(texts) @ tools.T).argmax(1)
    y = 1 - base  # ask for the other tool
    state, hist = train_tower(texts, y, np.ones(2, dtype=np.float32), tools, bundled_model_dir(), layers=1, epochs=25,
                              lr=1e-3, batch=2, tau=0.05, seed=0, log=lambda _m: None, val=(texts, y))
    assert hist["before"]["acc@1"] == 0.0 and hist["epoch_25"]["acc@1"] == 1.0
    assert all(k.startswith("encoder.layer.5.") for k in state)
