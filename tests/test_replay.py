"""ReplayBuffer: reservoir sampling statistics, per-task balance, pruning."""

from __future__ import annotations

from collections import Counter

import pytest

from core.errors import ConfigError
from training.replay import ReplayBuffer


def _s(i, task="a"):
    return {"id": f"{task}{i}", "task": task}


def test_capacity_and_reservoir_uniformity():
    counts = Counter()
    for seed in range(300):
        buf = ReplayBuffer(10, balanced=False, seed=seed)
        buf.add(_s(i) for i in range(100))
        assert len(buf) == 10
        counts.update(s["id"] for s in buf.items())
    early = sum(counts[f"a{i}"] for i in range(50))
    late = sum(counts[f"a{i}"] for i in range(50, 100))
    assert abs(early - late) / (early + late) < 0.1  # each sample kept with probability k/N


def test_balanced_per_task_and_round_robin_sampling():
    buf = ReplayBuffer(12, balanced=True, seed=0)
    buf.add(_s(i, "a") for i in range(50))
    assert buf.groups() == {"a": 12}
    buf.add(_s(i, "b") for i in range(5))
    buf.add(_s(i, "c") for i in range(40))
    g = buf.groups()
    assert g["a"] == 4 and g["c"] == 4 and g["b"] == 4
    drawn = Counter(s["task"] for s in buf.sample(9))
    assert drawn == {"a": 3, "b": 3, "c": 3}
    assert len(buf.sample(100)) == len(buf)


def test_prune_with_selector():
    buf = ReplayBuffer(20, balanced=False, seed=0)
    buf.add(_s(i) for i in range(20))
    buf.prune(lambda items, k: [s["id"] for s in items if int(s["id"][1:]) % 2 == 0][:k], 5)
    assert len(buf) == 5 and all(int(s["id"][1:]) % 2 == 0 for s in buf.items())


def test_bad_capacity():
    with pytest.raises(ConfigError):
        ReplayBuffer(0)
