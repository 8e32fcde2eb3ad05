"""Score fusion for the two-stage selector: reciprocal rank fusion or a weighted sum of normalised scores."""

from __future__ import annotations

import numpy as np

FUSIONS = ("hybrid", "adaptive", "weighted", "rrf", "rerank")  # hybrid: core/selection/hybrid.py

# adaptive: embedding weight = LO + (HI - LO) * sigmoid((T - matched) / S), where `matched` is the
# best tool's BM25 score over the query's ideal score (KeywordSelector.ideal_score: every in-vocabulary
# query term matched at saturation), a number in [0, 1] that does not grow with query length or with
# a catalog's BM25 scale. Tuned on dev/validation splits only (docs/SELECTION.md).
ADAPTIVE = (0.3, 0.8, 0.5, 0.1)
# the earlier rule on the raw best BM25 score (signal "bm25"): depends on the catalog's BM25 scale
ADAPTIVE_BM25 = (0.3, 0.8, 15.0, 2.0)
SIGNALS = ("share", "bm25")


def minmax(x: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] within the candidate set (all zeros when every score is equal)."""
    lo, hi = float(x.min()), float(x.max())
    return np.zeros_like(x, dtype=np.float64) if hi - lo < 1e-12 else (x - lo) / (hi - lo)


def rank_positions(x: np.ndarray) -> np.ndarray:
    """1-based rank of each entry (highest score = 1, ties broken by position)."""
    order = np.lexsort((np.arange(len(x)), -x))
    ranks = np.empty(len(x), dtype=np.int64)
    ranks[order] = np.arange(1, len(x) + 1)
    return ranks


def adaptive_weight(matched: float, params: tuple[float, float, float, float] = ADAPTIVE) -> float:
    """Embedding weight for one query from the share of its keyword weight that the best tool
    matches (0..1): high when no tool matches the query's words well, low when one does."""
    lo, hi, t, s = params
    return lo + (hi - lo) / (1.0 + float(np.exp(-(t - matched) / s)))


def fuse(
    kw: np.ndarray, emb: np.ndarray, method: str, weight: float, rrf_k: float,
    adaptive: tuple[float, float, float, float] = ADAPTIVE, ideal: float | None = None,
) -> np.ndarray:
    """Fused score of each coarse candidate (higher is better).

    adaptive: weighted, with the weight set per query by `adaptive_weight(max BM25 / ideal)` (a
              tool that matches most of the query's keyword weight shifts trust to BM25; a weak
              match to the embedding). `ideal` is the query's ideal BM25 score; without it the
              match share counts as 0 (embedding-heavy).
    weighted: weight * minmax(cosine) + (1 - weight) * minmax(BM25)
    rrf:      weight / (rrf_k + rank_emb) + (1 - weight) / (rrf_k + rank_kw)   (weight 0.5 = plain RRF)
    rerank:   cosine only (the keyword stage only chooses the candidates)
    """
    if method == "adaptive":
        matched = float(kw.max()) / ideal if len(kw) and ideal else 0.0
        weight = adaptive_weight(matched, adaptive)
        method = "weighted"
    if method == "weighted":
        return weight * minmax(emb) + (1.0 - weight) * minmax(kw)
    if method == "rrf":
        return weight / (rrf_k + rank_positions(emb)) + (1.0 - weight) / (rrf_k + rank_positions(kw))
    if method == "rerank":
        return emb.astype(np.float64)
    raise ValueError(f"unknown fusion {method!r}")
