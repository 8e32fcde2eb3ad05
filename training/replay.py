"""Experience replay buffer: reservoir sampling, optionally balanced per task, prunable by a coreset."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from core.errors import ConfigError

Sample = dict[str, Any]


class ReplayBuffer:
    """Fixed-capacity memory of past samples.

    Unbalanced: one reservoir (Algorithm R): after seeing N samples each one is kept with
    probability capacity/N. Balanced: one reservoir per task, each with an equal share of
    the capacity (shares shrink when a new task arrives, evicting uniformly at random).
    """

    def __init__(self, capacity: int, *, balanced: bool = True, seed: int = 0, key: str = "task") -> None:
        if capacity < 1:
            raise ConfigError("replay buffer capacity must be >= 1", field="continual.buffer_size")
        self.capacity = capacity
        self.balanced = balanced
        self.key = key
        self.rng = random.Random(seed)
        self.pools: dict[str, list[Sample]] = {}
        self.seen: dict[str, int] = {}

    def __len__(self) -> int:
        return sum(len(p) for p in self.pools.values())

    def items(self) -> list[Sample]:
        return [s for p in self.pools.values() for s in p]

    def groups(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.pools.items()}

    def _group(self, s: Sample) -> str:
        return str(s.get(self.key, "")) if self.balanced else "*"

    def _share(self) -> int:
        return max(1, self.capacity // max(1, len(self.pools)))

    def add(self, samples: Iterable[Sample]) -> None:
        for s in samples:
            g = self._group(s)
            if g not in self.pools:
                self.pools[g] = []
                self.seen[g] = 0
                self._shrink()
            pool = self.pools[g]
            self.seen[g] += 1
            cap = self._share() if self.balanced else self.capacity
            if len(pool) < cap:
                pool.append(s)
            else:
                j = self.rng.randrange(self.seen[g])
                if j < cap:
                    pool[j] = s

    def _shrink(self) -> None:
        share = self._share()
        for g, pool in self.pools.items():
            while len(pool) > share:
                pool.pop(self.rng.randrange(len(pool)))
            self.pools[g] = pool

    def sample(self, n: int) -> list[Sample]:
        """Up to `n` distinct samples; balanced buffers draw round-robin across tasks."""
        n = min(n, len(self))
        if n <= 0:
            return []
        if not self.balanced:
            return self.rng.sample(self.items(), n)
        shuffled = {g: self.rng.sample(p, len(p)) for g, p in sorted(self.pools.items())}
        out: list[Sample] = []
        while len(out) < n:
            for g in list(shuffled):
                if shuffled[g] and len(out) < n:
                    out.append(shuffled[g].pop())
        return out

    def prune(self, select: Callable[[list[Sample], int], list[str]], size: int) -> None:
        """Keep only `size` samples chosen by `select(samples, size) -> ids` (e.g. a coreset)."""
        items = self.items()
        if size >= len(items):
            return
        keep = set(select(items, size))
        for g in self.pools:
            self.pools[g] = [s for s in self.pools[g] if str(s["id"]) in keep]
