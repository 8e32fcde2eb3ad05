"""Online continual learning over a stream of chunks with experience replay.

Each chunk's training samples are mixed with `replay_ratio * len(chunk)` samples from the
replay buffer; after each chunk the model is evaluated on the validation data of every chunk
seen so far. From the accuracy matrix R[i][j] (after chunk i, on chunk j):
forgetting = mean over j<T-1 of max_{l<T-1} R[l][j] - R[T-1][j];
backward transfer = mean over j<T-1 of R[T-1][j] - R[j][j].
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from training.replay import ReplayBuffer

Sample = dict[str, Any]


@dataclass
class Chunk:
    name: str
    train: list[Sample]
    val: list[Sample]


@dataclass
class ContinualResult:
    names: list[str]
    acc: list[list[float]]  # acc[i][j]: after chunk i, on chunk j (j <= i)
    mixes: list[list[str]] = field(default_factory=list)  # sample ids trained in each chunk
    replayed: list[list[str]] = field(default_factory=list)

    @property
    def forgetting(self) -> float:
        t = len(self.acc)
        if t < 2:
            return 0.0
        vals = [max(self.acc[i][j] for i in range(j, t - 1)) - self.acc[t - 1][j] for j in range(t - 1)]
        return sum(vals) / len(vals)

    @property
    def backward_transfer(self) -> float:
        t = len(self.acc)
        if t < 2:
            return 0.0
        return sum(self.acc[t - 1][j] - self.acc[j][j] for j in range(t - 1)) / (t - 1)

    @property
    def average_accuracy(self) -> float:
        last = self.acc[-1] if self.acc else []
        return sum(last) / len(last) if last else 0.0


TrainFn = Callable[[list[Sample], int], None]  # (mixed samples, chunk index) -> trains the model in place
EvalFn = Callable[[list[Sample]], float]  # validation samples -> accuracy in [0, 1]


class OnlineContinualLearner:
    def __init__(
        self,
        train_fn: TrainFn,
        eval_fn: EvalFn,
        buffer: ReplayBuffer,
        *,
        replay_ratio: float = 0.3,
        seed: int = 0,
        on_chunk: Callable[[int, ContinualResult], None] | None = None,
    ) -> None:
        self.train_fn = train_fn
        self.eval_fn = eval_fn
        self.buffer = buffer
        self.replay_ratio = replay_ratio
        self.rng = random.Random(seed)
        self.on_chunk = on_chunk

    def run(self, chunks: list[Chunk]) -> ContinualResult:
        res = ContinualResult(names=[c.name for c in chunks], acc=[])
        for i, ch in enumerate(chunks):
            replay = self.buffer.sample(int(round(self.replay_ratio * len(ch.train))))
            mix = list(ch.train) + replay
            self.rng.shuffle(mix)
            res.mixes.append([str(s["id"]) for s in mix])
            res.replayed.append([str(s["id"]) for s in replay])
            self.train_fn(mix, i)
            self.buffer.add(ch.train)
            res.acc.append([self.eval_fn(chunks[j].val) for j in range(i + 1)])
            if self.on_chunk:
                self.on_chunk(i, res)
        return res
