"""The hybrid fusion (core/selection/hybrid.py), its committed weights and the leave-one-benchmark-out
procedure that chooses them (core/selection/tuning.py). Real BM25 and the real fusion code on small
catalogs; the embedding comes from scripted encoders (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from selection_support import FakeEncoder, tool_row, write_catalog

from core.catalog import load_catalog
from core.errors import UsageError
from core.metrics.selection import pessimistic_order
from core.selection.embedding import EmbeddingSelector
from core.selection.hybrid import WEIGHTS_FILE, HybridParams, fuse, load_params, normalize, rank
from core.selection.keyword import KeywordSelector
from core.selection.tuning import (
    Benchmark,
    Split,
    choose,
    evaluate,
    leave_one_out,
    mean_of,
    query_metrics,
    rank_scores,
)
from core.selection.two_stage import TwoStageSelector

# ---------------------------------------------------------------- one stage fails, the fusion recovers

PARCEL_TOOLS = [
    ("track_shipment", "trackShipment", "logistics", "Track where a parcel is and when it will be delivered", {"tracking_id": "Tracking number"}),
    ("parcel_locker_rent", "rentParcelLocker", "logistics", "Rent a parcel locker: parcel size, parcel locker location", {"size": "Locker size"}),
    ("delivery_slot_book", "bookDeliverySlot", "logistics", "Book a time slot for a home delivery", {"slot": "Time slot"}),
    ("order_history", "orderHistory", "commerce", "List past orders of the customer", {"customer": "Customer id"}),
    ("invoice_create", "createInvoice", "commerce", "Create an invoice for an order", {"order": "Order id"}),
    ("refund_request", "requestRefund", "commerce", "Ask for a refund of an order", {"order": "Order id"}),
    ("store_hours", "storeHours", "commerce", "Opening hours of a store", {"store": "Store id"}),
    ("coupon_apply", "applyCoupon", "commerce", "Apply a coupon code to the cart", {"code": "Coupon code"}),
]


class ScriptedEncoder:
    """Embeds by a fixed table: the query and each tool (by name words) get chosen directions."""

    model_id = "scripted/v1"
    dim = 3
    TABLE = {
        "where is my parcel": [1.0, 1.0, 0.0],
        "track shipment": [0.7, 1.0, 0.0],  # the gold tool: second by cosine
        "rent parcel locker": [0.0, 0.05, 1.0],  # unrelated by meaning
        "book delivery slot": [1.0, 0.9, 0.0],  # the embedding's (wrong) favourite
        "order history": [0.0, 0.0, 1.0],
        "create invoice": [0.0, 0.1, 1.0],
        "request refund": [0.1, 0.0, 1.0],
        "store hours": [0.0, 0.2, 1.0],
        "apply coupon": [0.2, 0.0, 1.0],
    }

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = []
        for t in texts:
            key = next(k for k in self.TABLE if t.lower().startswith(k))
            v = np.asarray(self.TABLE[key], dtype=np.float32)
            out.append(v / np.linalg.norm(v))
        return np.asarray(out)


@pytest.fixture
def parcel_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    return load_catalog(write_catalog(tmp_path / "parcel.jsonl", [tool_row(*t) for t in PARCEL_TOOLS]))


def test_fusion_recovers_when_each_stage_alone_ranks_a_decoy_first(parcel_catalog) -> None:
    q = "where is my parcel"
    kw = KeywordSelector().fit(parcel_catalog)
    emb = EmbeddingSelector(encoder=ScriptedEncoder()).fit(parcel_catalog)
    assert kw.select(q, 1)[0].tool_id == "parcel_locker_rent"  # BM25: "parcel" three times in the decoy
    assert emb.select(q, 1)[0].tool_id == "delivery_slot_book"  # cosine: the semantic decoy
    for p in (HybridParams(norm="z", norm_k=3, weight=0.5), HybridParams(norm="rrf", norm_k=1, weight=0.5)):
        ts = TwoStageSelector(keyword=kw, embedding=emb, norm=p.norm, norm_k=p.norm_k, weight=p.weight).fit(parcel_catalog)
        top = ts.select(q, 2)[0]
        assert top.tool_id == "track_shipment", p  # second in both stages, first once they are fused
        stages = {s.stage: s for s in top.stages}
        assert stages["keyword"].rank == 2 and stages["embedding"].rank == 2 and stages["fused"].rank == 1
        assert top.matched_terms == ["parcel"]
        assert "keyword #2 (BM25" in top.explanation and "matched parcel" in top.explanation
        assert "embedding #2 (cosine" in top.explanation and f"fused #1 (hybrid {p.norm}" in top.explanation


def test_z_normalisation_ignores_each_stage_scale() -> None:
    rng = np.random.default_rng(1)
    kw, emb = rng.random(50) * (rng.random(50) > 0.5) * 20, rng.random(50)
    p = HybridParams(norm="z", norm_k=10, weight=0.6)
    # a catalog whose BM25 runs 10x higher (longer texts) or whose cosines sit higher ranks the same
    np.testing.assert_allclose(fuse(kw * 10, emb * 0.5 + 0.3, p), fuse(kw, emb, p), atol=1e-9)
    z = normalize(emb, "z", 10)
    head = np.sort(z)[-10:]
    assert abs(head.mean()) < 1e-9 and abs(head.std() - 1) < 1e-9
    # rows are independent: a batch gives each text's own result
    batch = fuse(np.stack([kw, kw[::-1]]), np.stack([emb, emb[::-1]]), p)
    np.testing.assert_allclose(batch[1], fuse(kw[::-1], emb[::-1], p))
    # rrf gives nothing from BM25 to a tool no query term matches
    r = normalize(np.array([3.0, 0.0, 1.0]), "rrf", 60, positive_only=True)
    assert r[1] == 0 and r[0] == pytest.approx(1 / 61) and r[2] == pytest.approx(1 / 62)


def test_subquery_slots_are_kept_and_visible_to_the_metrics() -> None:
    n = 12
    whole_kw, whole_emb = np.zeros(n), np.linspace(1, 0, n)  # the whole query prefers tools 0, 1, 2, ...
    sub_kw, sub_emb = np.zeros((2, n)), np.zeros((2, n))
    sub_emb[0, 9] = sub_emb[1, 11] = 1.0  # each intent's own best tool sits at the bottom of the whole ranking
    p = HybridParams(norm="z", norm_k=0, weight=1.0, subquery_weight=0.0, subquery_slots=1)
    r = rank(np.vstack([whole_kw, sub_kw]), np.vstack([whole_emb, sub_emb]), p)
    # the two intents' own tools take the last places of the top 8; the top 5 does not move
    assert r.order[:8].tolist() == [0, 1, 2, 3, 4, 5, 9, 11] and r.slotted == {9: 0, 11: 1}
    shown = rank_scores(r.score, r.order)
    assert all(a >= b for a, b in zip(shown, shown[1:], strict=False))  # never increasing: a score sort keeps the slots
    gold = ["t9", "t11"]
    ids = [f"t{i}" for i in r.order]
    assert pessimistic_order(ids, shown.tolist(), gold)[:8] == ids[:8]
    assert query_metrics(ids[:10], gold, shown[:10].tolist())["intent@8"] == 1.0
    assert rank(np.vstack([whole_kw, sub_kw]), np.vstack([whole_emb, sub_emb]), p, depth=4).order.tolist() == r.order[:4].tolist()
    # without slots the intents stay at the bottom
    r0 = rank(np.vstack([whole_kw, sub_kw]), np.vstack([whole_emb, sub_emb]), p.replace(subquery_slots=0))
    assert r0.order[:8].tolist() == list(range(8)) and not r0.slotted


def test_bad_hybrid_options() -> None:
    for bad in ({"norm": "minmax"}, {"weight": 1.2}, {"norm_k": -1}, {"norm": "rrf", "norm_k": 0}, {"subquery_slots": -1}):
        with pytest.raises(UsageError):
            HybridParams(**bad)
    with pytest.raises(UsageError):
        TwoStageSelector(encoder=FakeEncoder(), norm="minmax")


# ---------------------------------------------------------------- the committed weights


def test_the_default_two_stage_uses_the_committed_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    committed = json.loads(WEIGHTS_FILE.read_text())
    assert HybridParams.from_dict(committed["params"]) == load_params()
    ts = TwoStageSelector(encoder=FakeEncoder())
    assert ts.fusion == "hybrid" and ts.hybrid == load_params()
    cfg = ts.config()
    assert cfg["hybrid"] == committed["params"] and cfg["weights"] == committed["id"]
    # another weights file changes the ranking parameters; explicit options override the file
    other = tmp_path / "w.json"
    other.write_text(json.dumps({"id": "test", "params": {"norm": "rrf", "norm_k": 7, "weight": 0.3, "subquery_weight": 0, "subquery_slots": 2}}))
    alt = TwoStageSelector(encoder=FakeEncoder(), weights_file=str(other), weight=0.9)
    assert alt.hybrid == HybridParams(norm="rrf", norm_k=7, weight=0.9, subquery_weight=0, subquery_slots=2)
    assert alt.config()["weights"] == "test"


def test_committed_weights_record_how_they_were_chosen() -> None:
    doc = json.loads(WEIGHTS_FILE.read_text())
    assert doc["id"].startswith("lobo-")
    assert all(name.endswith("-dev") for name in doc["chosen_on"])  # tuning splits only, never a test split
    assert set(doc["held_out"]) == {"ours", "seal-tools", "metatool"}


# ---------------------------------------------------------------- leave-one-benchmark-out


def _split(name: str, strong: str, rng: np.random.Generator, log: list[str], q: int = 40, n: int = 30) -> Split:
    """A fake split whose gold tool is obvious to one stage (`strong`) and random noise to the other."""
    kw = rng.random((q, n)).astype(np.float32)
    emb = rng.random((q, n)).astype(np.float32)
    gold = rng.integers(0, n, q)
    good = kw if strong == "keyword" else emb
    good[np.arange(q), gold] += 0.6  # clear, but not always first
    return Split(name, kw, emb, list(range(q)), [[] for _ in range(q)], [[int(g)] for g in gold], log=log)


GRID = [HybridParams(norm="z", norm_k=0, weight=w, subquery_weight=0, subquery_slots=0) for w in (0.9, 0.5, 0.1)]


def _benchmarks(log: list[str]) -> list[Benchmark]:
    rng = np.random.default_rng(7)
    return [Benchmark("a", _split("a-dev", "embedding", rng, log), _split("a-test", "embedding", rng, log)),
            Benchmark("b", _split("b-dev", "embedding", rng, log), _split("b-test", "embedding", rng, log)),
            Benchmark("c", _split("c-dev", "keyword", rng, log), _split("c-test", "keyword", rng, log))]


def test_leave_one_out_never_reads_the_held_out_benchmark_while_choosing() -> None:
    log: list[str] = []
    bench = _benchmarks(log)
    a, b, c = bench
    # the fake keyword-heavy set c would change the choice if it leaked into its own fold
    without_c, _ = choose([a.tune, b.tune], GRID)
    with_c, _ = choose([a.tune, b.tune, c.tune], GRID)
    with_c_test, _ = choose([a.tune, b.tune, c.test], GRID)
    assert without_c.weight == 0.9 and with_c.weight != without_c.weight and with_c_test.weight != without_c.weight

    log.clear()
    events: list[str] = []
    out = leave_one_out(bench, GRID, progress=lambda m: events.append(f"# {m}") if m.startswith("fold") else None)
    assert out["folds"]["c"]["params"] == without_c.to_dict()  # chosen as if c did not exist
    assert out["folds"]["c"]["chosen_on"] == ["a-dev", "b-dev"]
    assert out["final"] == with_c.to_dict() and out["chosen_on"] == ["a-dev", "b-dev", "c-dev"]
    # replay the order of reads: inside each fold, until its held-out test is judged, nothing of the held-out set is read
    fold_logs = _per_fold(log, bench)
    for held, reads in fold_logs.items():
        choosing = reads[: next(i for i, r in enumerate(reads) if r.startswith(f"{held}-test|"))]
        assert not [r for r in choosing if r.split("|")[0].startswith(f"{held}-")], held
        judged = [r for r in reads if r.startswith(f"{held}-test|") and r.split("|")[1] not in ("keyword", "embedding")]
        assert len(judged) == 1 and judged[0].split("|")[1] == repr(sorted(out["folds"][held]["params"].items()))
    # the test splits are never read for the final choice
    tail = log[sum(len(v) for v in fold_logs.values()):]
    assert tail and all(r.split("|")[0].endswith("-dev") for r in tail)


def _per_fold(log: list[str], bench: list[Benchmark]) -> dict[str, list[str]]:
    """Split the shared read log at each fold's judgement (three reads of the held-out test split)."""
    out, start = {}, 0
    for b in bench:
        idx = [i for i, r in enumerate(log) if r.startswith(f"{b.name}-test|")][:3]
        out[b.name] = log[start: idx[-1] + 1]
        start = idx[-1] + 1
    return out


def test_held_out_numbers_come_from_the_test_split_with_the_fold_choice() -> None:
    bench = _benchmarks([])
    out = leave_one_out(bench, GRID)
    for b in bench:
        f = out["folds"][b.name]
        p = HybridParams.from_dict(f["params"])
        assert mean_of(f["per_query"]["two_stage"]) == mean_of(evaluate(b.test, p))
        assert len(f["per_query"]["two_stage"]) == len(b.test)
