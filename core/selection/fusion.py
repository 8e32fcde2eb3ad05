"""Score fusion for the two-stage selector: reciprocal rank fusion or a weighted sum of normalised scores."""

from __future__ import annotations

import numpy as np

FUSIONS = ("adaptive", "weighted", "rrf", "rerank")

# adaptive: embedding weight = LO + (HI - LO) * sigmoid((T - max BM25) / S)
ADAPTIVE = (0.3, 0.8, 15.0, 2.0)


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


def adaptive_weight(kw_max: float, params: tuple[float, float, float, float] = ADAPTIVE) -> float:
    """Embedding weight for one query: high when no tool matches the query's words strongly."""
    lo, hi, t, s = params
    return lo + (hi - lo) / (1.0 + float(np.exp(-(t - kw_max) / s)))


def fuse(
    kw: np.ndarray, emb: np.ndarray, method: str, weight: float, rrf_k: float,
    adaptive: tuple[float, float, float, float] = ADAPTIVE,
) -> np.ndarray:
    """Fused score of each coarse candidate (higher is better).

    adaptive: weighted, with the weight set per query by `adaptive_weight(max BM25)` (a strong,
              many-term keyword match shifts trust to BM25; a weak one to the embedding)
    weighted: weight * minmax(cosine) + (1 - weight) * minmax(BM25)
    rrf:      weight / (rrf_k + rank_emb) + (1 - weight) / (rrf_k + rank_kw)   (weight 0.5 = plain RRF)
    rerank:   cosine only (the keyword stage only chooses the candidates)
    """
    if method == "adaptive":
        weight = adaptive_weight(float(kw.max()) if len(kw) else 0.0, adaptive)
        method = "weighted"
    if method == "weighted":
        return weight * minmax(emb) + (1.0 - weight) * minmax(kw)
    if method == "rrf":
        return weight / (rrf_k + rank_positions(emb)) + (1.0 - weight) / (rrf_k + rank_positions(kw))
    if method == "rerank":
        return emb.astype(np.float64)
    raise ValueError(f"unknown fusion {method!r}")
