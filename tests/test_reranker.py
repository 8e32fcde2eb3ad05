"""The tool reranker: pairs read together by the numpy encoder, its file, its training and the planner's use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import DataError, NotFoundError, UsageError
from core.selection import reranker as rk
from core.selection.encoder import bundled_model_dir, load_encoder
from core.selection.reranker import Reranker, load_reranker

PAIRS = [("share it with ana", "Share Trip: share a trip with someone"),
         ("is CI green on main?", "Get Build Status: the state of the latest build of a branch " * 8)]


@pytest.fixture(scope="module")
def encoder():
    return load_encoder()


def _layers(enc, i: int = 5) -> dict[str, np.ndarray]:
    keep = ("qkv.", "attention.output.", "intermediate.", ".output.dense.", ".output.LayerNorm.")
    return {k: v.copy() for k, v in enc.w.items() if k.startswith(f"encoder.layer.{i}.") and any(s in k for s in keep)}


def test_pairs_pool_like_the_torch_model_with_token_types_and_the_cut(encoder) -> None:
    torch = pytest.importorskip("torch")
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(bundled_model_dir()), AutoModel.from_pretrained(bundled_model_dir())
    b = tok([a for a, _ in PAIRS], [d for _, d in PAIRS], padding=True, truncation="only_second", max_length=32,
            return_tensors="pt")
    with torch.no_grad():
        h, m = model(**b).last_hidden_state, b["attention_mask"].unsqueeze(-1).float()
        ref = ((h * m).sum(1) / m.sum(1)).numpy()
    assert int(b["token_type_ids"].sum()) > 0  # the second text is read as the second segment
    assert np.allclose(encoder.encode_pairs(PAIRS, 32), ref, atol=2e-4)
    assert not np.allclose(encoder.encode_pairs(PAIRS, 64)[1], ref[1], atol=1e-3)  # a longer cut reads more


def test_scores_use_the_swapped_layers_and_the_head_and_a_file_round_trips(encoder, tmp_path: Path) -> None:
    head = np.random.default_rng(0).normal(size=384).astype(np.float32)
    base = Reranker(_layers(encoder), head, 0.5, encoder.model_id, 32)
    docs = [d for _, d in PAIRS]
    s = base.scores("share it with ana", docs, encoder)
    assert np.allclose(s, encoder.encode_pairs([("share it with ana", d) for d in docs], 32) @ head + 0.5, atol=1e-4)
    moved = _layers(encoder)
    moved["encoder.layer.5.intermediate.dense.weight"] *= 1.5
    assert not np.allclose(Reranker(moved, head, 0.5, encoder.model_id, 32).scores("share it", docs, encoder),
                           base.scores("share it", docs, encoder), atol=1e-3)
    back = load_reranker(base.save(tmp_path / "r.npz"))
    assert (back.max_len, back.encoder_id, back.id) != (0, "", "") and back.max_len == 32
    assert np.allclose(back.scores("share it with ana", docs, encoder), s, atol=2e-2)  # float16 layers
    assert base.scores("x", [], encoder).shape == (0,)
    with pytest.raises(UsageError, match="numpy encoder"):
        base.scores("x", docs, object())


def test_bad_reranker_files_name_the_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nope.npz"):
        load_reranker(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, kind=np.array("query_tower"), encoder_id=np.array("e"), head_w=np.zeros(3), head_b=np.array(0.0),
             max_len=np.array(8))
    with pytest.raises(DataError) as err:
        load_reranker(bad)
    assert err.value.field == "kind" and "bad.npz" in str(err.value)
    nan = tmp_path / "nan.npz"
    np.savez(nan, kind=np.array(rk.KIND), encoder_id=np.array("e"), head_w=np.array([np.nan]), head_b=np.array(0.0),
             max_len=np.array(8))
    with pytest.raises(DataError) as err:
        load_reranker(nan)
    assert err.value.field == "head_w"


def test_training_learns_to_put_the_asked_tool_first() -> None:
    from training.reranker import train_reranker

    docs = ["Get Weather Forecast: the weather for coming days in a city", "Send Email: send an email message"]
    texts = ["will it rain in leeds tomorrow", "mail ana that I am late"]
    y, neg = np.array([0, 1]), np.array([[1], [0]])
    state, summary = train_reranker(texts, docs, y, neg, np.ones(2, dtype=np.float32), bundled_model_dir(), layers=1,
                                    steps=30, lr=1e-3, batch=2, max_len=32, seed=0, max_minutes=5, log_every=100,
                                    log=lambda _m: None)
    assert summary["steps_done"] == 30 and {"head.weight", "head.bias"} <= set(state)
    assert all(k.startswith(("encoder.layer.5.", "head.")) for k in state)
    from core.selection.encoder import numpy_layout

    enc = load_encoder()
    layers = {k: v for k, v in numpy_layout({k: v for k, v in state.items() if not k.startswith("head.")},
                                            [5]).items()}
    rr = Reranker(layers, state["head.weight"], float(state["head.bias"][0]), enc.model_id, 32)
    for text, want in zip(texts, y, strict=True):
        assert int(np.argmax(rr.scores(text, docs, enc))) == want


class _Prefers:
    """A reranker double: a high score for the tool whose description text starts with `name`."""

    def __init__(self, name: str) -> None:
        self.name, self.seen = name, []

    def scores(self, query: str, docs: list[str], encoder) -> np.ndarray:
        self.seen.append((query, len(docs)))
        return np.array([5.0 if d.startswith(self.name) else 0.0 for d in docs], dtype=np.float32)


def test_the_grounded_planner_reorders_a_clauses_top_k_by_the_reranker_and_shows_the_stage() -> None:
    from core.catalog import load_catalog
    from core.planning.base import PlannerConfig
    from core.planning.registry import make_planner, make_selector
    from core.selection.embedding import name_description

    cat = load_catalog(None)
    sel = make_selector(cat, "two_stage")
    goal = "Is it going to rain in Leeds tomorrow?"
    plain = make_planner("grounded", cat, selector=sel, backend=object(), config=PlannerConfig())
    plain.backend = None
    first = plain.plan(goal).steps[0].tool_id
    ranked = sel.select(goal, top_k=5)
    other = next(s.tool_id for s in ranked[1:4] if s.tool_id != first)
    double = _Prefers(name_description(cat.get(other)))
    for k, w, want in [(5, 1.0, other), (5, 1e-3, first)]:
        p = make_planner("grounded", cat, selector=sel, backend=object(), config=PlannerConfig(rerank_k=k, rerank_weight=w))
        p.backend, p._rr = None, (double, None)
        plan = p.plan(goal)
        assert plan.steps[0].tool_id == want
    assert double.seen and all(n == 5 for _, n in double.seen)
    assert any(st.stage == "rerank" for st in p.picked[first].stages)
    with pytest.raises(UsageError, match="rerank_k"):
        PlannerConfig(rerank_k=1)


def test_a_query_longer_than_the_cut_is_shortened_not_an_error(encoder) -> None:
    long = "please " * 80 + "send the invoice"
    out = encoder.encode_pairs([(long, "Send Email: send an email message")], 32)
    assert out.shape == (1, 384) and np.isfinite(out).all()
