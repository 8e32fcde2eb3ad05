"""Input checks and ranking helpers shared by the selectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.catalog import Catalog
from core.errors import NotFoundError, UsageError


def check_query(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise UsageError("the query is empty", hint="type what the tool should do")
    return query.strip()


def check_top_k(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0:
        raise UsageError(f"top_k must be a positive integer, got {top_k!r}")
    return top_k


def check_catalog(catalog: Catalog) -> Catalog:
    if len(catalog) == 0:
        raise UsageError("the catalog has no tools to select from")
    return catalog


def candidate_indices(catalog: Catalog, index: dict[str, int], candidates: Sequence[str] | None) -> np.ndarray:
    """Row indices to rank: all tools, or the given candidate ids (each must be in the catalog)."""
    if candidates is None:
        return np.arange(len(catalog))
    rows = []
    for tid in dict.fromkeys(candidates):
        if tid not in index:
            raise NotFoundError(f"candidate tool {tid!r} is not in the catalog")
        rows.append(index[tid])
    if not rows:
        raise UsageError("the candidate list is empty")
    return np.asarray(rows, dtype=np.int64)


def top_rows(scores: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The k best rows by score (ties broken by catalog order, so rankings are deterministic)."""
    sub = scores[rows]
    k = min(k, len(rows))
    if k < len(rows):
        part = np.argpartition(-sub, k - 1)[:k]
        thresh = sub[part].min()
        keep = np.flatnonzero(sub >= thresh)  # every row tied with the k-th stays in the race
    else:
        keep = np.arange(len(rows))
    order = sorted(keep.tolist(), key=lambda i: (-sub[i], rows[i]))[:k]
    return rows[np.asarray(order, dtype=np.int64)]


def ranks_of(scores: np.ndarray, rows: np.ndarray) -> dict[int, int]:
    """1-based rank of each row among `rows` (same tie-break as top_rows)."""
    order = sorted(rows.tolist(), key=lambda r: (-scores[r], r))
    return {r: i + 1 for i, r in enumerate(order)}
