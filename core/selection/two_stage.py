"""Two-stage selector: BM25 picks the coarse candidates, embeddings rerank them, scores are fused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.catalog import Catalog
from core.errors import UsageError
from core.selection.base import Selection, StageScore
from core.selection.common import candidate_indices, check_catalog, check_query, check_top_k, top_rows
from core.selection.embedding import EmbeddingSelector
from core.selection.fusion import ADAPTIVE, FUSIONS, fuse, rank_positions
from core.selection.keyword import KeywordSelector

COARSE_MODES = ("keyword", "union")

# Defaults tuned on dev data only (Seal-Tools dev.jsonl, MetaTool rows i % 5 == 1; bench/selection.py
# --tune; docs/SELECTION.md). R@5, coarse "keyword" N=100, min-max weighted fusion:
#   weight (on embedding)  0.3    0.5    0.7    | keyword  embedding
#   Seal-Tools dev         0.871  0.855  0.803  | 0.861    0.617
#   MetaTool dev (4,123)   0.712  0.756  0.789  | 0.631    0.769
# No fixed weight helps both (Seal wants ~0.25, MetaTool ~0.7), so the default "adaptive" fusion
# sets the weight per query from the best BM25 score (0.3 when it is high, 0.8 when low; see
# fusion.ADAPTIVE): Seal dev 0.8715 (+1.0 pt over BM25), MetaTool dev[:2000] 0.754 (+2.8 pts over
# embedding). RRF was worse everywhere; N in 50..200 and coarse "union" changed R@5 by < 0.3 pt.
DEFAULT_COARSE_N = 100
DEFAULT_FUSION = "adaptive"
DEFAULT_WEIGHT = 0.6
DEFAULT_RRF_K = 60.0
DEFAULT_COARSE = "keyword"


class TwoStageSelector:
    """Coarse-to-fine selection.

    Stage 1 (keyword): the ``coarse_n`` best tools by BM25. When fewer than ``coarse_n`` tools
    share a term with the query, the rest of the coarse set is filled with the best tools by
    embedding, so a query worded unlike any tool still gets candidates (``coarse="union"``
    always adds the embedding top ``coarse_n``).
    Stage 2 (embedding): cosine similarity of the coarse candidates to the query.
    Fusion: ``adaptive`` (default: weighted, weight chosen per query from the BM25 match
    strength), ``weighted`` (min-max normalised scores, ``weight`` on the embedding), ``rrf``
    or ``rerank`` (embedding order only).
    """

    name = "two_stage"

    def __init__(
        self,
        coarse_n: int = DEFAULT_COARSE_N,
        fusion: str = DEFAULT_FUSION,
        weight: float = DEFAULT_WEIGHT,
        rrf_k: float = DEFAULT_RRF_K,
        coarse: str = DEFAULT_COARSE,
        keyword: KeywordSelector | None = None,
        embedding: EmbeddingSelector | None = None,
        **embedding_kw: Any,
    ) -> None:
        if fusion not in FUSIONS:
            raise UsageError(f"unknown fusion {fusion!r}; expected one of {FUSIONS}")
        if coarse not in COARSE_MODES:
            raise UsageError(f"unknown coarse mode {coarse!r}; expected one of {COARSE_MODES}")
        if int(coarse_n) <= 0:
            raise UsageError(f"coarse_n must be positive, got {coarse_n}")
        if not 0.0 <= float(weight) <= 1.0:
            raise UsageError(f"weight must be in [0, 1], got {weight}")
        self.coarse_n, self.fusion, self.weight, self.rrf_k, self.coarse = int(coarse_n), fusion, float(weight), float(rrf_k), coarse
        self.keyword = keyword or KeywordSelector()
        self.embedding = embedding or EmbeddingSelector(**embedding_kw)
        self.catalog: Catalog | None = None

    def fit(self, catalog: Catalog) -> TwoStageSelector:
        self.catalog = check_catalog(catalog)
        self.index = {t.tool_id: i for i, t in enumerate(catalog)}
        if self.keyword.catalog is not catalog:
            self.keyword.fit(catalog)
        if self.embedding.catalog is not catalog:
            self.embedding.fit(catalog)
        return self

    def _coarse(self, kw: np.ndarray, emb: np.ndarray, rows: np.ndarray) -> np.ndarray:
        n = min(self.coarse_n, len(rows))
        positive = rows[kw[rows] > 0]
        picked = top_rows(kw, positive, n) if len(positive) else positive
        if self.coarse == "union":
            extra = top_rows(emb, rows, n)
        elif len(picked) < n:
            extra = top_rows(emb, np.setdiff1d(rows, picked), n - len(picked))
        else:
            return picked
        return np.concatenate([picked, np.setdiff1d(extra, picked)])

    def rank(self, query: str, candidates: Sequence[str] | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """All coarse candidates in final order, plus per-stage scores aligned with them."""
        if self.catalog is None:
            raise UsageError("selector 'two_stage' is not fitted on a catalog")
        rows = candidate_indices(self.catalog, self.index, candidates)
        kw = self.keyword.scores(query)
        emb = self.embedding.scores(query)
        coarse = self._coarse(kw, emb, rows)
        fused = fuse(kw[coarse], emb[coarse], self.fusion, self.weight, self.rrf_k)
        order = np.lexsort((coarse, -fused))
        return coarse[order], {
            "keyword": kw[coarse][order],
            "embedding": emb[coarse][order],
            "fused": fused[order],
            "keyword_rank": rank_positions(kw[coarse])[order],
            "embedding_rank": rank_positions(emb[coarse])[order],
        }

    def select(self, query: str, top_k: int = 5, candidates: Sequence[str] | None = None) -> list[Selection]:
        query, top_k = check_query(query), check_top_k(top_k)
        ranked, st = self.rank(query, candidates)
        cat = self.catalog
        assert cat is not None  # rank() raised otherwise
        out = []
        for i, r in enumerate(ranked[:top_k]):
            rank = i + 1
            terms = self.keyword.matched_terms(query, int(r))
            kw_r, emb_r = int(st["keyword_rank"][i]), int(st["embedding_rank"][i])
            kw_s, emb_s, f_s = float(st["keyword"][i]), float(st["embedding"][i]), float(st["fused"][i])
            kw_txt = f"keyword #{kw_r} (BM25 {kw_s:.2f}" + (f"; matched {', '.join(terms)})" if terms else "; no term matched)")
            why = f"{kw_txt} · embedding #{emb_r} (cosine {emb_s:.3f}) · fused #{rank} ({self.fusion} {f_s:.3f})"
            out.append(
                Selection(
                    cat.tools[r].tool_id,
                    f_s,
                    rank,
                    [StageScore("keyword", kw_s, kw_r), StageScore("embedding", emb_s, emb_r), StageScore("fused", f_s, rank)],
                    terms,
                    explanation=why,
                )
            )
        return out

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "coarse_n": self.coarse_n,
            "coarse": self.coarse,
            "fusion": self.fusion,
            "weight": self.weight if self.fusion != "adaptive" else None,
            "adaptive": list(ADAPTIVE) if self.fusion == "adaptive" else None,
            "rrf_k": self.rrf_k,
            "keyword": self.keyword.config(),
            "embedding": self.embedding.config(),
        }
