"""Selection benchmark: accuracy and per-query latency of keyword, embedding and two-stage selectors.

Measured in one run on one machine:
  (a) our extended retrieval test over the whole bundled catalog,
  (b) imported Seal-Tools / MetaTool (`sage-tui data import ... --out DIR`) when their folders are given;
index build time (cold: embed every tool; warm: a fresh process that loads the cached embeddings),
BM25 backend speed (rank-bm25 loop vs our inverted index over the same statistics), and ratios of
two-stage vs each single stage. Writes a JSON result (default results/bench/selection-<timestamp>.json).

    .venv/bin/python bench/selection.py --seal /tmp/imp/seal-tools --metatool /tmp/imp/metatool [--out FILE]
    .venv/bin/python bench/selection.py --tune ...   # grid over two-stage options on dev/validation splits only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.catalog import Catalog, load_catalog  # noqa: E402
from core.datasets import load_dataset  # noqa: E402
from core.metrics.selection import selection_metrics  # noqa: E402
from core.selection.embedding import EmbeddingSelector  # noqa: E402
from core.selection.keyword import KeywordSelector  # noqa: E402
from core.selection.subquery import split_intents  # noqa: E402
from core.selection.two_stage import TwoStageSelector  # noqa: E402

DEPTH = 10

WARM_SNIPPET = """
import time, sys
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from core.catalog import load_catalog
from core.selection.registry import get_selector
cat = load_catalog({catalog!r})
t1 = time.perf_counter()
sel = get_selector("two_stage", cat)
t2 = time.perf_counter()
sel.select("warm up query", 5)
t3 = time.perf_counter()
print(sel.embedding.cache_hit, t1 - t0, t2 - t1, t3 - t2, t3 - t0)
"""


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def evaluate(sel: Any, samples: list[dict[str, Any]]) -> dict[str, Any]:
    lat: list[float] = []
    per: list[dict[str, float]] = []
    for s in samples:
        t = time.perf_counter()
        res = sel.select(s["instruction"], DEPTH, s.get("candidate_tools"))
        lat.append((time.perf_counter() - t) * 1000)
        per.append(selection_metrics([r.tool_id for r in res], s["gold"]["tools"], [r.score for r in res]))
    metrics = {k: float(np.mean([p[k] for p in per])) for k in per[0]}
    return {"metrics": metrics, "latency_ms": {"p50": pct(lat, 50), "p95": pct(lat, 95), "mean": float(np.mean(lat))}}


def warm_start(catalog_path: str) -> dict[str, Any]:
    code = WARM_SNIPPET.format(root=str(ROOT), catalog=catalog_path)
    times = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        hit, load_cat, fit, first_q, total = out.stdout.split()
        times.append({"cache_hit": hit == "True", "catalog_s": float(load_cat), "fit_s": float(fit), "first_query_s": float(first_q), "process_total_s": float(total)})
    best = min(times, key=lambda t: t["fit_s"])
    return {"runs": times, "fit_s_min": best["fit_s"], "fit_s_median": float(np.median([t["fit_s"] for t in times]))}


def bm25_backends(cat: Catalog, queries: list[str]) -> dict[str, float]:
    out = {}
    for backend in ("rank_bm25", "sparse"):
        sel = KeywordSelector(backend=backend).fit(cat)
        lat = []
        for q in queries:
            t = time.perf_counter()
            sel.scores(q)
            lat.append((time.perf_counter() - t) * 1000)
        out[f"{backend}_p50_ms"] = pct(lat, 50)
    out["speedup"] = out["rank_bm25_p50_ms"] / max(out["sparse_p50_ms"], 1e-9)
    return out


def bench_set(label: str, catalog_path: Path, dataset_path: Path, limit: int | None, cache_root: Path) -> dict[str, Any]:
    cat = load_catalog(catalog_path)
    ds = load_dataset(dataset_path)
    samples = ds.samples[:limit] if limit else ds.samples
    print(f"[{label}] {len(cat)} tools, {len(samples)} queries", file=sys.stderr, flush=True)
    os.environ["SAGE_TUI_CACHE"] = str(cache_root)
    t = time.perf_counter()
    kw = KeywordSelector().fit(cat)
    kw_fit = time.perf_counter() - t
    t = time.perf_counter()
    emb = EmbeddingSelector().fit(cat)  # fresh cache folder: a cold build
    cold = time.perf_counter() - t
    assert emb.cache_hit is False
    ts = TwoStageSelector(keyword=kw, embedding=emb).fit(cat)
    res: dict[str, Any] = {"tools": len(cat), "queries": len(samples), "catalog": str(catalog_path), "dataset": str(dataset_path),
                           "build": {"keyword_fit_s": kw_fit, "embedding_cold_s": cold, "warm_start": warm_start(str(catalog_path))},
                           "two_stage_config": ts.config(), "selectors": {}}
    for name, sel in (("keyword", kw), ("embedding", emb), ("two_stage", ts)):
        sel.select("warm up", 5)
        res["selectors"][name] = evaluate(sel, samples)
        m = res["selectors"][name]
        print(f"  {name:<10} R@5 {m['metrics']['recall@5']:.3f}  MRR {m['metrics']['mrr']:.3f}  acc@1 {m['metrics']['acc@1']:.3f}  "
              f"p50 {m['latency_ms']['p50']:.1f} ms  p95 {m['latency_ms']['p95']:.1f} ms", file=sys.stderr, flush=True)
    res["bm25_backends"] = bm25_backends(cat, [s["instruction"] for s in samples[:300]])
    s = res["selectors"]
    r5 = {k: v["metrics"]["recall@5"] for k, v in s.items()}
    best_single = max(r5["keyword"], r5["embedding"])
    res["ratios"] = {
        "two_stage_r5_minus_best_single_points": 100 * (r5["two_stage"] - best_single),
        "two_stage_r5_over_keyword": r5["two_stage"] / max(r5["keyword"], 1e-9),
        "two_stage_r5_over_embedding": r5["two_stage"] / max(r5["embedding"], 1e-9),
        "two_stage_p50_over_keyword": s["two_stage"]["latency_ms"]["p50"] / max(s["keyword"]["latency_ms"]["p50"], 1e-9),
        "two_stage_p50_over_embedding": s["two_stage"]["latency_ms"]["p50"] / max(s["embedding"]["latency_ms"]["p50"], 1e-9),
        "warm_fit_over_cold_build": res["build"]["warm_start"]["fit_s_min"] / max(cold, 1e-9),
    }
    res["targets"] = {
        "r5_plus_3_points": res["ratios"]["two_stage_r5_minus_best_single_points"] >= 3.0,
        "p50_le_15ms": s["two_stage"]["latency_ms"]["p50"] <= 15.0,
        "warm_start_le_1s": res["build"]["warm_start"]["fit_s_min"] <= 1.0,
    }
    print(f"  two-stage R@5 {r5['two_stage']:.3f} vs best single {best_single:.3f}: "
          f"{res['ratios']['two_stage_r5_minus_best_single_points']:+.1f} points; x{res['ratios']['two_stage_p50_over_embedding']:.2f} embedding latency; "
          f"warm fit {res['build']['warm_start']['fit_s_min']:.2f} s vs cold {cold:.1f} s", file=sys.stderr, flush=True)
    return res


def tune_set(label: str, catalog_path: Path, dataset_path: Path, limit: int | None) -> dict[str, Any]:
    """Grid over two-stage options on a dev/validation split (never a test file).

    Query and sub-query embeddings are computed once and served from a dict, so each grid point
    only re-runs BM25, coarse selection and fusion through TwoStageSelector.rank itself."""
    cat = load_catalog(catalog_path)
    samples = load_dataset(dataset_path).samples[:limit] if limit else load_dataset(dataset_path).samples
    kw = KeywordSelector().fit(cat)
    emb = EmbeddingSelector().fit(cat)
    qs = [s["instruction"] for s in samples]
    texts = list(dict.fromkeys(qs + [p for q in qs for p in split_intents(q)]))
    vec = dict(zip(texts, emb.encoder.encode(texts, batch_size=64), strict=True))
    real = emb.encoder

    class Cached:  # serves precomputed vectors; same interface as the encoder
        model_id, dim = real.model_id, real.dim

        def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
            return np.stack([vec[t] for t in texts])

    emb._encoder = Cached()
    golds = [s["gold"]["tools"] for s in samples]
    ids = np.asarray(cat.ids)
    rows = np.arange(len(cat))

    def r5(rank_fn: Any) -> float:
        return float(np.mean([selection_metrics(list(ids[rank_fn(q)[:DEPTH]]), g)["recall@5"] for q, g in zip(qs, golds, strict=True)]))

    grid: dict[str, float] = {
        "keyword": r5(lambda q: np.lexsort((rows, -kw.scores(q)))),
        "embedding": r5(lambda q: np.lexsort((rows, -emb.scores(q, vec[q])))),
    }
    points = [(n, "adaptive", 0.6, split) for n in (50, 100, 200) for split in (False, True)]
    points += [(100, fusion, w, split) for fusion in ("weighted", "rrf") for w in (0.3, 0.5, 0.7) for split in (False, True)]
    for n, fusion, w, split in points:
        ts = TwoStageSelector(coarse_n=n, fusion=fusion, weight=w, split=split, keyword=kw, embedding=emb).fit(cat)
        grid[f"{n}|{fusion}|{w if fusion != 'adaptive' else '-'}|{'split' if split else 'whole'}"] = r5(lambda q, ts=ts: ts.rank(q)[0])
    best = sorted(((k, v) for k, v in grid.items() if "|" in k), key=lambda kv: -kv[1])[:10]
    print(f"[tune {label}] keyword {grid['keyword']:.3f} embedding {grid['embedding']:.3f}; best: " + ", ".join(f"{k}={v:.3f}" for k, v in best[:5]), file=sys.stderr, flush=True)
    return {"dataset": str(dataset_path), "queries": len(qs), "grid": grid, "best": best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog", type=Path, default=ROOT / "assets" / "catalog" / "tools.jsonl")
    ap.add_argument("--dataset", type=Path, default=ROOT / "assets" / "datasets" / "test_extended" / "tool_retrieval.jsonl")
    ap.add_argument("--validation", type=Path, default=ROOT / "assets" / "datasets" / "validation" / "tool_retrieval.jsonl")
    ap.add_argument("--seal", type=Path, help="folder written by `sage-tui data import seal-tools`")
    ap.add_argument("--metatool", type=Path, help="folder written by `sage-tui data import metatool`")
    ap.add_argument("--limit", type=int, help="first N queries per set")
    ap.add_argument("--skip-ours", action="store_true", help="only the external sets (e.g. to run them in parallel processes)")
    ap.add_argument("--only-ours", action="store_true", help="only our extended retrieval test")
    ap.add_argument("--tune", action="store_true", help="grid-search two-stage options on dev/validation splits (never test)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench" / f"selection-{time.strftime('%Y%m%d-%H%M%S')}.json")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                                          "loadavg_start": os.getloadavg()}, "sets": {}}
    if args.tune:
        sets = [("ours-validation", args.catalog, args.validation)]
        if args.seal:
            sets.append(("seal-tools-dev", args.seal / "catalog.jsonl", args.seal / "tool_retrieval_dev.jsonl"))
        if args.metatool:
            sets.append(("metatool-dev", args.metatool / "catalog.jsonl", args.metatool / "tool_retrieval_dev.jsonl"))
        for label, c, d in sets:
            if c.exists() and d.exists():
                result["sets"][label] = tune_set(label, c, d, args.limit)
    else:
        sets = [] if args.skip_ours else [("ours-test_extended", args.catalog, args.dataset)]
        if args.seal and not args.only_ours:
            sets.append(("seal-tools-test", args.seal / "catalog.jsonl", args.seal / "tool_retrieval_test.jsonl"))
        if args.metatool and not args.only_ours:
            sets.append(("metatool", args.metatool / "catalog.jsonl", args.metatool / "tool_retrieval.jsonl"))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="sage-bench-cache-") as tmp:
            for label, c, d in sets:
                if not (c.exists() and d.exists()):
                    print(f"[{label}] skipped: {c} or {d} missing", file=sys.stderr)
                    continue
                result["sets"][label] = bench_set(label, c, d, args.limit, Path(tmp) / label)
                args.out.write_text(json.dumps(result, indent=2, default=str))  # partial result after each set
    result["machine"]["loadavg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
