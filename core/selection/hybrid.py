"""Catalog-independent fusion of the keyword and embedding stages (the `hybrid` fusion of two_stage).

Why: the earlier fusion min-max normalised both stages inside a BM25 top-100 and set the embedding
weight per query from a BM25 threshold. Min-max makes a stage's scale depend on its worst candidate,
the BM25 coarse set drops tools that only the embedding finds, and the thresholds were tuned on our
generator's vocabulary; on a catalog it had never seen the fusion lost to plain MiniLM.

What: both stages score every candidate tool (BM25 through the inverted index, cosine through one
matvec: well under a millisecond each for a few thousand tools). Each stage's scores are put on a
common, catalog-free scale (`norm`):

* ``"z"``: standardised against the stage's own best ``norm_k`` scores, ``(x - mean) / std`` of that
  head, so "how far above the other good candidates" counts, not the raw BM25 or cosine scale. A
  stage with one clear winner gives it a large value; a flat stage gives none, so the fusion leans on
  whichever stage is confident for this query without any threshold.
* ``"rrf"``: reciprocal rank ``1 / (norm_k + rank)`` (tools no query term matches get 0 from BM25).

The fused score is ``weight * norm(cosine) + (1 - weight) * norm(BM25)``. A multi-intent query adds
``subquery_weight * max over sub-queries of their fused score``, and each sub-query's own best
``subquery_slots`` tools are guaranteed a place in the top 8 (the planner's candidate list): those
missing from the merged top 8 take its last places, round robin (every intent's best tool before any
intent's second), so the top 5 changes only when more than three intents were missing.

The parameters are not hand-set: ``bench/selection.py --lobo`` chooses them by leave-one-benchmark-out
on the dev/validation splits (``core/selection/tuning.py``) and writes ``fusion_weights.json`` beside
this file, which `load_params` reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import DataError, UsageError

WEIGHTS_FILE = Path(__file__).with_name("fusion_weights.json")
NORMS = ("z", "rrf")
MAX_SLOTTED_SUBQUERIES = 7  # 1 + 7 slots <= 8: every slotted intent stays inside the planner's top 8
SLOT_WINDOW = 8  # each intent's own best tools are guaranteed a place among the first 8


@dataclass(frozen=True)
class HybridParams:
    """Everything that changes a hybrid ranking (stored with runs through TwoStageSelector.config)."""

    norm: str = "z"
    norm_k: float = 50.0  # z: size of each stage's head used for mean/std (0 = all tools); rrf: the k constant
    weight: float = 0.6  # embedding weight; 1 - weight goes to BM25
    subquery_weight: float = 1.0
    subquery_slots: int = 1

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise UsageError(f"unknown normalisation {self.norm!r}; expected one of {NORMS}")
        if not 0.0 <= float(self.weight) <= 1.0:
            raise UsageError(f"weight must be in [0, 1], got {self.weight}")
        if float(self.norm_k) < 0 or (self.norm == "rrf" and float(self.norm_k) <= 0):
            raise UsageError(f"norm_k must be positive, got {self.norm_k}")
        if float(self.subquery_weight) < 0:
            raise UsageError(f"subquery_weight must be >= 0, got {self.subquery_weight}")
        if int(self.subquery_slots) < 0:
            raise UsageError(f"subquery_slots must be >= 0, got {self.subquery_slots}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HybridParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def replace(self, **kw: Any) -> HybridParams:
        return HybridParams.from_dict({**self.to_dict(), **{k: v for k, v in kw.items() if v is not None}})


@lru_cache(maxsize=4)
def _read(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
        params = HybridParams.from_dict(data["params"])
    except FileNotFoundError:
        raise DataError("the fusion weights file is missing", path=path) from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"unreadable fusion weights: {exc}", path=path) from None
    return {"params": params, "id": str(data.get("id", "")), "meta": data}


def load_params(path: str | Path | None = None) -> HybridParams:
    """The committed hybrid parameters (``fusion_weights.json``), or those of another file."""
    return _read(str(path or WEIGHTS_FILE))["params"]


def weights_id(path: str | Path | None = None) -> str:
    """A short identity of the weights file (stored in selector configs)."""
    return _read(str(path or WEIGHTS_FILE))["id"]


def normalize(x: np.ndarray, norm: str, k: float, positive_only: bool = False) -> np.ndarray:
    """Stage scores on the catalog-free scale of `norm`, along the last axis (one row per text)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    if n == 0:
        return x
    if norm == "z":
        top = int(k)
        head = np.partition(x, n - top, axis=-1)[..., n - top:] if 0 < top < n else x
        sd = head.std(axis=-1, keepdims=True)
        return (x - head.mean(axis=-1, keepdims=True)) / np.where(sd > 1e-12, sd, 1.0)
    if norm == "rrf":
        order = np.argsort(-x, axis=-1, kind="stable")  # ties by position
        ranks = np.empty_like(x)
        np.put_along_axis(ranks, order, np.broadcast_to(np.arange(1, n + 1, dtype=np.float64), x.shape), axis=-1)
        out = 1.0 / (float(k) + ranks)
        if positive_only:
            out[x <= 0] = 0.0  # a tool that shares no term with the query earns nothing from BM25
        return out
    raise UsageError(f"unknown normalisation {norm!r}")


def fuse(kw: np.ndarray, emb: np.ndarray, p: HybridParams) -> np.ndarray:
    """Fused score of each candidate (kw = BM25, emb = cosine, aligned; 1-D for one text or 2-D with one
    row per text: rows are independent, so a batch gives exactly the per-text result)."""
    return p.weight * normalize(emb, p.norm, p.norm_k) + (1.0 - p.weight) * normalize(kw, p.norm, p.norm_k, positive_only=True)


@dataclass
class HybridRanking:
    order: np.ndarray  # indices into the candidate arrays, best first
    score: np.ndarray  # final score per candidate (whole fused + subquery_weight * best sub-query fused)
    whole: np.ndarray  # the whole query's fused score per candidate
    sub: np.ndarray  # (n_sub, n) fused score per sub-query and candidate (empty when not split)
    slotted: dict[int, int]  # candidate index -> sub-query index whose guaranteed slot placed it


def top_order(x: np.ndarray, depth: int | None = None) -> np.ndarray:
    """Indices of the `depth` best entries (all when None), best first, ties by position."""
    n = len(x)
    if depth is None or depth >= n:
        return np.lexsort((np.arange(n), -x))
    keep = np.flatnonzero(x >= np.partition(x, n - depth)[n - depth])  # every entry tied with the depth-th
    return keep[np.lexsort((keep, -x[keep]))][:depth]


def rank(kw: Sequence[np.ndarray], emb: Sequence[np.ndarray], p: HybridParams, depth: int | None = None) -> HybridRanking:
    """Rank candidates from per-text stage scores: index 0 = the whole query, 1.. = its sub-queries.

    ``order`` holds every candidate, or only the best `depth` (faster; what tuning uses). Ties are
    broken by candidate position (catalog order), so rankings are deterministic."""
    return rank_fused(fuse(np.asarray(kw), np.asarray(emb), p), p, depth)


def rank_fused(fused: np.ndarray, p: HybridParams, depth: int | None = None) -> HybridRanking:
    """`rank` from already fused scores: row 0 = the whole query, rows 1.. = its sub-queries."""
    whole = fused[0]
    subs = fused[1:]
    score = whole + p.subquery_weight * subs.max(axis=0) if len(subs) else whole
    slotted: dict[int, int] = {}
    if not (len(subs) and p.subquery_slots > 0):
        return HybridRanking(top_order(score, depth), score, whole, subs, slotted)
    need: list[int] = []  # round robin: every intent's best tool before any intent's second
    owner: dict[int, int] = {}
    own = [top_order(s, p.subquery_slots).tolist() for s in subs[:MAX_SLOTTED_SUBQUERIES]]
    for level in range(p.subquery_slots):
        for j, best in enumerate(own):
            if level < len(best) and best[level] not in owner:
                need.append(best[level])
                owner[best[level]] = j
    window = SLOT_WINDOW
    merged = top_order(score, None if depth is None else max(depth, window) + len(need)).tolist()
    top = merged[:window]
    missing = [t for t in need if t not in top][: window - 1]  # the merged best tool always stays first
    slotted = {t: owner[t] for t in missing}
    kept = [t for t in top if t not in slotted][: window - len(missing)]
    head = kept + missing  # the missing intents take the last places of the window, so the top 5 rarely moves
    taken = set(head)
    order = np.asarray(head + [i for i in merged if i not in taken], dtype=np.int64)
    return HybridRanking(order if depth is None else order[:depth], score, whole, subs, slotted)
