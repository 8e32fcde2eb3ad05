"""Coreset selection: k-center greedy, budgets, determinism, hybrid split, real per-sample loss."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError, DataError
from training.coreset import CoresetSelector, k_center_greedy, resolve_budget, tfidf_embedder


def _naive_k_center(x, k, first):
    chosen = [first]
    while len(chosen) < k:
        d = np.min(((x[:, None, :] - x[chosen][None]) ** 2).sum(-1), axis=1)
        d[chosen] = -1
        chosen.append(int(np.argmax(d)))
    return chosen


def test_k_center_matches_naive_recomputation():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    fast = k_center_greedy(x, 25, seed=1)
    assert fast == _naive_k_center(x, 25, fast[0])
    assert len(set(fast)) == 25


def test_k_center_covers_clusters():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [50, 0], [0, 50], [50, 50]], dtype=np.float32)
    x = np.concatenate([c + rng.normal(size=(50, 2)) for c in centers])
    picked = k_center_greedy(x, 4, seed=0)
    assert sorted({i // 50 for i in picked}) == [0, 1, 2, 3]


def _samples(n):
    return [{"id": f"s{i}", "task": "tool_selection", "instruction": f"word{i % 7} thing{i % 3} item {i}"} for i in range(n)]


def test_budget_errors():
    with pytest.raises(ConfigError, match="larger than the dataset"):
        resolve_budget(11, 10)
    with pytest.raises(DataError, match="empty"):
        resolve_budget(3, 0)
    assert resolve_budget(0.25, 20) == 5
    with pytest.raises(ConfigError, match="larger than the dataset"):
        CoresetSelector("random", 50, embedder=tfidf_embedder).select(_samples(10))


def test_random_and_diversity_deterministic_per_seed():
    s = _samples(60)
    a = CoresetSelector("random", 10, seed=1, embedder=tfidf_embedder).select(s).ids
    b = CoresetSelector("random", 10, seed=1, embedder=tfidf_embedder).select(s).ids
    c = CoresetSelector("random", 10, seed=2, embedder=tfidf_embedder).select(s).ids
    assert a == b and a != c and len(set(a)) == 10
    d1 = CoresetSelector("diversity", 10, seed=1, embedder=tfidf_embedder).select(s).ids
    assert d1 == CoresetSelector("diversity", 10, seed=1, embedder=tfidf_embedder).select(s).ids


def test_loss_topk_and_hybrid_split():
    s = _samples(30)
    losses = {f"s{i}": float((i * 37) % 30) for i in range(30)}

    def loss_fn(ss):
        return [losses[x["id"]] for x in ss]

    top = CoresetSelector("loss_topk", 5, loss_fn=loss_fn, embedder=tfidf_embedder).select(s)
    assert set(top.ids) == {k for k, v in losses.items() if v >= 25}
    hyb = CoresetSelector("hybrid", 10, loss_fn=loss_fn, loss_ratio=0.6, embedder=tfidf_embedder).select(s)
    assert hyb.ids[:6] == sorted(hyb.ids[:6], key=lambda k: -losses[k])
    assert {k for k, v in losses.items() if v >= 24} == set(hyb.ids[:6])
    assert len(set(hyb.ids)) == 10
    with pytest.raises(ConfigError, match="needs a model"):
        CoresetSelector("loss_topk", 5)


def test_loss_topk_uses_real_model_loss(tmp_path):
    """A sample the model has memorised has low loss and is not picked by loss_topk."""
    from training.config import config_from_dict
    from training.formatting import encode_all
    from training.tiny import build_tiny_model_dir, tiny_dialogs
    from training.trainer import AgentSFTTrainer

    dialogs = tiny_dialogs(12)
    md = build_tiny_model_dir(tmp_path / "m", [m["content"] or "" for d in dialogs for m in d["messages"]])
    cfg = config_from_dict({"train": {"batch_size": 1, "lr": 0.05, "max_steps": 40, "warmup_ratio": 0.0},
                           "lora": {"r": 16, "alpha": 32, "dropout": 0.0,
                                    "target_modules": ["q_proj", "v_proj", "up_proj", "down_proj"]}})
    tr = AgentSFTTrainer(cfg, tmp_path / "out", log=lambda s: None)
    tr.setup(md)
    enc = encode_all(dialogs, tr.tokenizer, max_len=128)
    by_id = {e.sample_id: e for e in enc}
    before = tr.per_sample_losses(enc)
    tr.plan(1)
    tr.train([by_id["d0"]])  # memorise d0
    after = tr.per_sample_losses(enc)
    assert after[0] < before[0] - 0.5
    sel = CoresetSelector("loss_topk", 6, embedder=tfidf_embedder,
                          loss_fn=lambda ss: tr.per_sample_losses([by_id[x["id"]] for x in ss]))
    assert "d0" not in sel.select(dialogs).ids


def test_stratified_loss_topk_keeps_every_task_type():
    """Global loss_topk spends the budget on the task with the highest losses; stratify="task" gives
    each task type its proportional share and ranks by loss inside it."""
    tasks = ["tool_selection"] * 20 + ["task_planning"] * 10 + ["timing_judgment"] * 10
    s = [{"id": f"s{i}", "task": t, "instruction": f"w{i % 5} item {i}"} for i, t in enumerate(tasks)]
    loss = {f"s{i}": (10.0 if t == "tool_selection" else 1.0) + i / 100 for i, t in enumerate(tasks)}

    def loss_fn(ss):
        return [loss[x["id"]] for x in ss]

    flat = CoresetSelector("loss_topk", 8, loss_fn=loss_fn, embedder=tfidf_embedder).select(s)
    assert {s[int(i[1:])]["task"] for i in flat.ids} == {"tool_selection"}
    strat = CoresetSelector("loss_topk", 8, loss_fn=loss_fn, embedder=tfidf_embedder, stratify="task").select(s)
    by_task = {t: [i for i in strat.ids if s[int(i[1:])]["task"] == t] for t in set(tasks)}
    assert {t: len(v) for t, v in by_task.items()} == {"tool_selection": 4, "task_planning": 2, "timing_judgment": 2}
    assert sorted(by_task["task_planning"]) == ["s28", "s29"]  # the two highest losses of that task
    assert strat.ids == sorted(strat.ids, key=lambda i: int(i[1:]))  # pool order
    for strategy in ("random", "diversity", "hybrid"):
        a = CoresetSelector(strategy, 8, seed=3, loss_fn=loss_fn, embedder=tfidf_embedder, stratify="task").select(s)
        assert a.ids == CoresetSelector(strategy, 8, seed=3, loss_fn=loss_fn, embedder=tfidf_embedder,
                                        stratify="task").select(s).ids
        assert len(set(a.ids)) == 8 and len({s[int(i[1:])]["task"] for i in a.ids}) == 3, strategy
    with pytest.raises(ConfigError, match="stratify"):
        CoresetSelector("random", 8, stratify="category")


def test_stratum_quotas_largest_remainder_and_caps():
    from training.coreset import stratum_quotas

    assert stratum_quotas({"a": 20, "b": 10, "c": 10}, 8) == {"a": 4, "b": 2, "c": 2}
    q = stratum_quotas({"a": 5, "b": 3, "c": 1}, 5)  # exact 2.78 / 1.67 / 0.56 -> 2, 1, 0 + remainders
    assert q == {"a": 3, "b": 2, "c": 0} and sum(q.values()) == 5
    assert stratum_quotas({"a": 1, "b": 9}, 10) == {"a": 1, "b": 9}
    assert sum(stratum_quotas({"a": 7, "b": 7, "c": 7}, 10).values()) == 10
