"""Continual learning: replayed samples from earlier chunks enter later batches; forgetting/BWT maths."""

from __future__ import annotations

from training.continual import Chunk, ContinualResult, OnlineContinualLearner
from training.replay import ReplayBuffer


def test_forgetting_and_backward_transfer():
    r = ContinualResult(names=["a", "b", "c"], acc=[[0.8], [0.6, 0.9], [0.5, 0.7, 0.95]])
    assert abs(r.forgetting - ((0.8 - 0.5) + (0.9 - 0.7)) / 2) < 1e-9
    assert abs(r.backward_transfer - ((0.5 - 0.8) + (0.7 - 0.9)) / 2) < 1e-9
    assert abs(r.average_accuracy - (0.5 + 0.7 + 0.95) / 3) < 1e-9


def _chunk(name, n):
    return Chunk(name, [{"id": f"{name}{i}", "task": name} for i in range(n)], [{"id": f"{name}v", "task": name}])


def test_replay_enters_later_chunks_and_not_with_ratio_zero():
    trained: list[list[str]] = []
    evals: list[str] = []

    def train_fn(mix, i):
        trained.append([s["id"] for s in mix])

    def eval_fn(val):
        evals.append(val[0]["id"])
        return 1.0

    chunks = [_chunk("a", 10), _chunk("b", 10), _chunk("c", 10)]
    res = OnlineContinualLearner(train_fn, eval_fn, ReplayBuffer(8, seed=0), replay_ratio=0.5).run(chunks)
    assert not any(x.startswith(("b", "c")) for x in trained[0])
    assert sum(x.startswith("a") for x in trained[1]) == 5  # 0.5 * 10 replayed from chunk a
    later = trained[2]
    assert any(x.startswith("a") for x in later) and any(x.startswith("b") for x in later)
    assert res.replayed[1] and all(x.startswith("a") for x in res.replayed[1])
    assert evals == ["av", "av", "bv", "av", "bv", "cv"]  # every earlier chunk re-evaluated
    trained.clear()
    OnlineContinualLearner(train_fn, lambda v: 1.0, ReplayBuffer(8), replay_ratio=0.0).run(chunks)
    assert all(x.startswith("b") for x in trained[1])  # no replay: chunk b trains on b only
