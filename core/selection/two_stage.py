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
from core.selection.fusion import ADAPTIVE, ADAPTIVE_BM25, FUSIONS, SIGNALS, fuse, minmax, rank_positions
from core.selection.hybrid import HybridParams, load_params, weights_id
from core.selection.hybrid import rank as hybrid_rank
from core.selection.keyword import KeywordSelector
from core.selection.subquery import split_intents

COARSE_MODES = ("keyword", "union")

# Defaults tuned on dev/validation data only (Seal-Tools dev.jsonl, MetaTool rows i % 5 == 1, our
# validation split; bench/selection.py --tune; docs/SELECTION.md has the tables). Coarse "keyword"
# N=100, min-max weighted fusion. No fixed weight helps both external sets (Seal-Tools wants ~0.25 on
# the embedding, MetaTool ~0.7), so "adaptive" sets the weight per query from the share of the
# query's keyword weight that the best BM25 tool matches (fusion.ADAPTIVE). Multi-intent queries are
# split into sub-queries (core/selection/subquery.py), each ranked the same way, and a tool's final
# score is its whole-query score plus DEFAULT_SUBQUERY_WEIGHT x its best sub-query score (both min-max
# normalised); each sub-query's own top tool then follows the first DEFAULT_SUBQUERY_SLOTS tools, so
# every intent gets a slot in the top 5. Dev R@5 (validation / Seal dev / MetaTool dev): BM25 0.760 /
# 0.861 / 0.631, embedding 0.813 / 0.617 / 0.769, this default 0.920 / 0.918 / 0.783. RRF was worse everywhere; N in 50..200 and
# coarse "union" changed R@5 by < 0.5 pt.
# The default fusion is "hybrid" (core/selection/hybrid.py): every tool scored by both stages, each
# stage standardised against its own best scores, a fixed weighted sum, sub-query merge with slots;
# its parameters come from core/selection/fusion_weights.json, chosen by leave-one-benchmark-out
# (bench/selection.py --lobo). The earlier fusions below stay available by name.
DEFAULT_COARSE_N = 100
DEFAULT_FUSION = "hybrid"
DEFAULT_WEIGHT = 0.6
DEFAULT_RRF_K = 60.0
DEFAULT_COARSE = "keyword"
DEFAULT_SUBQUERY_WEIGHT = 1.0
DEFAULT_SUBQUERY_SLOTS = 1
DEFAULT_SIGNAL = "share"


def _norm_in(x: np.ndarray, n: int, rows: np.ndarray) -> np.ndarray:
    """Min-max normalised scores placed at `rows` of a length-n array; -1 everywhere else."""
    out = np.full(n, -1.0)
    out[rows] = minmax(np.asarray(x, dtype=np.float64))
    return out


class TwoStageSelector:
    """Coarse-to-fine selection.

    Stage 1 (keyword): the ``coarse_n`` best tools by BM25. When fewer than ``coarse_n`` tools
    share a term with the query, the rest of the coarse set is filled with the best tools by
    embedding, so a query worded unlike any tool still gets candidates (``coarse="union"``
    always adds the embedding top ``coarse_n``).
    Stage 2 (embedding): cosine similarity of the coarse candidates to the query.
    Fusion: ``adaptive`` (default: weighted, weight chosen per query from the share of the
    query's keyword weight the best tool matches), ``weighted`` (min-max normalised scores,
    ``weight`` on the embedding), ``rrf`` or ``rerank`` (embedding order only).
    Sub-queries (``split=True``): a multi-intent query ("do X. Then do Y, and Z") is also split
    into one sub-query per intent; each is ranked like the whole query, and a tool scores
    minmax(whole fused) + ``subquery_weight`` * max over sub-queries of minmax(sub fused)
    (-1 outside a ranking's coarse set), so each intent's best tools reach the top.
    """

    name = "two_stage"

    def __init__(
        self,
        coarse_n: int = DEFAULT_COARSE_N,
        fusion: str = DEFAULT_FUSION,
        weight: float | None = None,
        rrf_k: float = DEFAULT_RRF_K,
        coarse: str = DEFAULT_COARSE,
        split: bool = True,
        subquery_weight: float | None = None,
        subquery_slots: int | None = None,
        signal: str = DEFAULT_SIGNAL,
        norm: str | None = None,
        norm_k: float | None = None,
        weights_file: str | None = None,
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
        if weight is not None and not 0.0 <= float(weight) <= 1.0:
            raise UsageError(f"weight must be in [0, 1], got {weight}")
        if subquery_weight is not None and float(subquery_weight) < 0.0:
            raise UsageError(f"subquery_weight must be >= 0, got {subquery_weight}")
        if subquery_slots is not None and int(subquery_slots) < 0:
            raise UsageError(f"subquery_slots must be >= 0, got {subquery_slots}")
        if signal not in SIGNALS:
            raise UsageError(f"unknown adaptive signal {signal!r}; expected one of {SIGNALS}")
        self.coarse_n, self.fusion, self.rrf_k, self.coarse = int(coarse_n), fusion, float(rrf_k), coarse
        self.signal = signal
        self.split = bool(split)
        self.weights_file = weights_file
        self.hybrid: HybridParams | None = None
        if fusion == "hybrid":
            self.hybrid = load_params(weights_file).replace(
                weight=weight, norm=norm, norm_k=norm_k, subquery_weight=subquery_weight, subquery_slots=subquery_slots
            )
            self.weight = self.hybrid.weight
            self.subquery_weight, self.subquery_slots = self.hybrid.subquery_weight, self.hybrid.subquery_slots
        else:
            self.weight = DEFAULT_WEIGHT if weight is None else float(weight)
            self.subquery_weight = DEFAULT_SUBQUERY_WEIGHT if subquery_weight is None else float(subquery_weight)
            self.subquery_slots = DEFAULT_SUBQUERY_SLOTS if subquery_slots is None else int(subquery_slots)
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

    def subqueries(self, query: str) -> list[str]:
        """The sub-queries this selector ranks for `query` ([] for a single-intent query or split=False)."""
        return split_intents(query) if self.split else []

    def _fused(self, text: str, qvec: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """BM25 and cosine of every tool for one text, its coarse rows and their fused scores."""
        kw = self.keyword.scores(text)
        emb = self.embedding.scores(text, qvec)
        coarse = self._coarse(kw, emb, rows)
        if self.signal == "bm25":
            return kw, emb, coarse, fuse(kw[coarse], emb[coarse], self.fusion, self.weight, self.rrf_k, ADAPTIVE_BM25, ideal=1.0)
        ideal = self.keyword.ideal_score(text) if self.fusion == "adaptive" else None
        return kw, emb, coarse, fuse(kw[coarse], emb[coarse], self.fusion, self.weight, self.rrf_k, ideal=ideal)

    def rank(self, query: str, candidates: Sequence[str] | None = None, depth: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Candidates in final order, plus per-stage scores aligned with them.

        Keyword/embedding scores and ranks are the whole query's; ``subquery`` is the index (into
        ``subqueries``) of the sub-query where the tool scored best, -1 when the query was not split.
        """
        if self.catalog is None:
            raise UsageError("selector 'two_stage' is not fitted on a catalog")
        rows = candidate_indices(self.catalog, self.index, candidates)
        if self.hybrid is not None:
            return self._rank_hybrid(query, rows, depth)
        subs = self.subqueries(query)
        vecs = self.embedding.encode_queries([query, *subs])  # one batch
        kw, emb, coarse, fused = self._fused(query, vecs[0], rows)
        n = len(self.catalog)
        sub_best = np.full(n, -1)
        sub_rank = np.zeros(n, dtype=np.int64)
        sub_score = np.full(n, -1.0)
        if subs:
            total = _norm_in(fused, n, coarse)
            sub_norm = np.full((len(subs), n), -1.0)
            sub_ranks = np.zeros((len(subs), n), dtype=np.int64)
            pool = [coarse]
            for j, text in enumerate(subs, start=1):
                _, _, c, f = self._fused(text, vecs[j], rows)
                sub_norm[j - 1] = _norm_in(f, n, c)
                sub_ranks[j - 1, c] = rank_positions(f)
                pool.append(c)
            sub_score = sub_norm.max(axis=0)
            total = total + self.subquery_weight * sub_score
            sub_best = sub_norm.argmax(axis=0)
            sub_rank = sub_ranks[sub_best, np.arange(n)]
            cand = np.unique(np.concatenate(pool))
            score = total[cand]
        else:
            cand, score = coarse, fused
        order = np.lexsort((cand, -score))
        if subs and self.subquery_slots > 0:
            # each sub-query's own best tool follows the first `subquery_slots` tools of the merged order
            pos = {int(r): i for i, r in enumerate(cand[order])}
            head = list(order[: self.subquery_slots])
            for j in range(len(subs)):
                i = pos[int(np.argmax(sub_norm[j]))]
                if order[i] not in head:
                    head.append(order[i])
            taken = set(head)
            order = np.asarray(head + [i for i in order if i not in taken], dtype=np.int64)
        if depth is not None:
            order = order[:depth]
        ranked = cand[order]
        return ranked, {
            "keyword": kw[ranked],
            "embedding": emb[ranked],
            "fused": score[order],
            "keyword_rank": rank_positions(kw[cand])[order],
            "embedding_rank": rank_positions(emb[cand])[order],
            "subquery": sub_best[ranked],
            "subquery_rank": sub_rank[ranked],
            "subquery_score": sub_score[ranked],
            "subqueries": subs,
            "slot": np.full(len(ranked), -1),
        }

    def _rank_hybrid(self, query: str, rows: np.ndarray, depth: int | None) -> tuple[np.ndarray, dict[str, Any]]:
        """The hybrid fusion over every candidate row (core/selection/hybrid.py)."""
        from core.selection.tuning import rank_scores

        p = self.hybrid
        assert p is not None
        subs = self.subqueries(query) if (p.subquery_weight > 0 or p.subquery_slots > 0) else []
        vecs = self.embedding.encode_queries([query, *subs])  # one batch
        kw = np.stack([self.keyword.scores(t)[rows] for t in [query, *subs]])
        emb = np.stack([self.embedding.scores(t, vecs[j])[rows] for j, t in enumerate([query, *subs])])
        r = hybrid_rank(kw, emb, p, depth)
        o = r.order
        n = len(rows)

        def ranks_in(x: np.ndarray) -> np.ndarray:  # 1-based rank among the candidates, ties by position
            idx = np.arange(n)
            return np.asarray([int(np.sum((x > x[i]) | ((x == x[i]) & (idx < i)))) + 1 for i in o.tolist()], dtype=np.int64)

        if len(subs):
            best_sub = r.sub[:, o].argmax(axis=0)
            sub_rank = np.asarray([int(np.sum(r.sub[j] > r.sub[j, i])) + 1 for j, i in zip(best_sub.tolist(), o.tolist(), strict=True)])
            sub_score = r.sub[best_sub, o]
        else:
            best_sub = np.full(len(o), -1)
            sub_rank = np.zeros(len(o), dtype=np.int64)
            sub_score = np.full(len(o), -1.0)
        return rows[o], {
            "keyword": kw[0, o],
            "embedding": emb[0, o],
            "fused": rank_scores(r.score, o),
            "keyword_rank": ranks_in(kw[0]),
            "embedding_rank": ranks_in(emb[0]),
            "subquery": best_sub,
            "subquery_rank": sub_rank,
            "subquery_score": sub_score,
            "subqueries": subs,
            "slot": np.asarray([r.slotted.get(int(i), -1) for i in o.tolist()], dtype=np.int64),
        }

    def select(self, query: str, top_k: int = 5, candidates: Sequence[str] | None = None) -> list[Selection]:
        query, top_k = check_query(query), check_top_k(top_k)
        ranked, st = self.rank(query, candidates, depth=top_k)
        cat = self.catalog
        assert cat is not None  # rank() raised otherwise
        subs: list[str] = st["subqueries"]
        out = []
        for i, r in enumerate(ranked[:top_k]):
            rank = i + 1
            terms = self.keyword.matched_terms(query, int(r))
            kw_r, emb_r = int(st["keyword_rank"][i]), int(st["embedding_rank"][i])
            kw_s, emb_s, f_s = float(st["keyword"][i]), float(st["embedding"][i]), float(st["fused"][i])
            kw_txt = f"keyword #{kw_r} (BM25 {kw_s:.2f}" + (f"; matched {', '.join(terms)})" if terms else "; no term matched)")
            label = f"hybrid {self.hybrid.norm}" if self.hybrid is not None else self.fusion
            why = f"{kw_txt} · embedding #{emb_r} (cosine {emb_s:.3f}) · fused #{rank} ({label} {f_s:.3f})"
            stages = [StageScore("keyword", kw_s, kw_r), StageScore("embedding", emb_s, emb_r), StageScore("fused", f_s, rank)]
            j, sub_r = int(st["subquery"][i]), int(st["subquery_rank"][i])
            if subs and j >= 0 and sub_r > 0:
                sub_terms = self.keyword.matched_terms(subs[j], int(r))
                why += f' · sub-query {j + 1}/{len(subs)} "{subs[j]}" #{sub_r}' + (f" (matched {', '.join(sub_terms)})" if sub_terms else "")
                if int(st["slot"][i]) >= 0:
                    why += f" · slot kept for sub-query {int(st['slot'][i]) + 1}"
                stages.append(StageScore(f"subquery {j + 1}", float(st["subquery_score"][i]), sub_r))
            out.append(Selection(cat.tools[r].tool_id, f_s, rank, stages, terms, explanation=why))
        return out

    def config(self) -> dict[str, Any]:
        if self.hybrid is not None:
            return {
                "name": self.name,
                "fusion": "hybrid",
                "hybrid": self.hybrid.to_dict(),
                "weights": weights_id(self.weights_file),
                "split": self.split,
                "subquery_rules": "subquery/v1" if self.split else None,
                "keyword": self.keyword.config(),
                "embedding": self.embedding.config(),
            }
        return {
            "name": self.name,
            "coarse_n": self.coarse_n,
            "coarse": self.coarse,
            "fusion": self.fusion,
            "weight": self.weight if self.fusion != "adaptive" else None,
            "adaptive": list(ADAPTIVE if self.signal == "share" else ADAPTIVE_BM25) if self.fusion == "adaptive" else None,
            "adaptive_signal": self.signal if self.fusion == "adaptive" else None,
            "rrf_k": self.rrf_k,
            "split": self.split,
            "subquery_weight": self.subquery_weight if self.split else None,
            "subquery_slots": self.subquery_slots if self.split else None,
            "subquery_rules": "subquery/v1" if self.split else None,
            "keyword": self.keyword.config(),
            "embedding": self.embedding.config(),
        }
