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
from core.metrics.stats import mean_ci, paired_diff  # noqa: E402
from core.selection.embedding import EmbeddingSelector  # noqa: E402
from core.selection.keyword import KeywordSelector  # noqa: E402
from core.selection.subquery import split_intents  # noqa: E402
from core.selection.tuning import (  # noqa: E402
    Benchmark,
    build_split,
    default_grid,
    full_grid,
    leave_one_out,
    query_metrics,
)
from core.selection.tuning import (  # noqa: E402
    evaluate as evaluate_params,
)
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


def summarize(per: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and 95 % CI (normal approximation, core.metrics.stats.mean_ci) of each metric."""
    out = {}
    for k in dict.fromkeys(k for p in per for k in p):
        vals = [p[k] for p in per if k in p]
        m, h = mean_ci(vals)
        out[k] = {"mean": m, "low": m - h, "high": m + h, "n": len(vals)}
    return out


def evaluate(sel: Any, samples: list[dict[str, Any]]) -> dict[str, Any]:
    lat: list[float] = []
    per: list[dict[str, float]] = []
    for s in samples:
        t = time.perf_counter()
        res = sel.select(s["instruction"], DEPTH, s.get("candidate_tools"))
        lat.append((time.perf_counter() - t) * 1000)
        per.append(query_metrics([r.tool_id for r in res], s["gold"]["tools"], [r.score for r in res]))
    summary = summarize(per)
    return {"metrics": {k: v["mean"] for k, v in summary.items()}, "ci95": summary, "per_query": per,
            "latency_ms": {"p50": pct(lat, 50), "p95": pct(lat, 95), "mean": float(np.mean(lat))}}


def paired(a: dict[str, Any], b: dict[str, Any], metric: str = "r@5") -> dict[str, float | int]:
    """Paired difference a - b over the same queries (mean, 95 % CI, queries better / worse)."""
    return paired_diff([p[metric] for p in a["per_query"]], [p[metric] for p in b["per_query"]])


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


class VectorStore:
    """An encoder that serves query vectors from a pickle under the cache folder (shared with --lobo)
    and encodes only texts it has not seen."""

    def __init__(self, root: Path, real: Any) -> None:
        import pickle

        self.path = Path(root) / "bench-query-vectors.pkl"
        self.real, self.model_id, self.dim = real, real.model_id, real.dim
        self.all = pickle.loads(self.path.read_bytes()) if self.path.exists() else {}
        self.vec = self.all.setdefault(real.model_id, {})
        self.added = 0

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.vec]
        if todo:
            self.vec.update(zip(todo, np.asarray(self.real.encode(todo, batch_size), dtype=np.float32), strict=True))
            self.added += len(todo)
        return np.stack([self.vec[t] for t in texts])

    def save(self) -> None:
        import pickle

        if self.added:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(pickle.dumps(self.all))


def fmt(m: dict[str, float]) -> str:
    return f"{m['mean']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"


def bench_set(label: str, catalog_path: Path, dataset_path: Path, limit: int | None, cache_root: Path,
              quick: bool = False, query_map: str = "none") -> dict[str, Any]:
    cat = load_catalog(catalog_path)
    ds = load_dataset(dataset_path)
    samples = ds.samples[:limit] if limit else ds.samples
    print(f"[{label}] {len(cat)} tools, {len(samples)} queries", file=sys.stderr, flush=True)
    os.environ["SAGE_TUI_CACHE"] = str(cache_root)
    t = time.perf_counter()
    kw = KeywordSelector().fit(cat)
    kw_fit = time.perf_counter() - t
    t = time.perf_counter()
    emb = EmbeddingSelector(query_map=query_map).fit(cat)  # a fresh cache folder gives a cold build; --cache reuses one
    cold = time.perf_counter() - t
    store = None
    if quick and query_map == "none":  # query vectors served from (and added to) the cache --lobo fills: accuracy only
        store = VectorStore(cache_root, emb.encoder)
        emb._encoder = store
    ts = TwoStageSelector(keyword=kw, embedding=emb).fit(cat)
    before = TwoStageSelector(keyword=kw, embedding=emb, fusion="adaptive").fit(cat)  # the earlier default
    build = {"keyword_fit_s": kw_fit, "embedding_fit_s": cold, "embedding_cache_hit": emb.cache_hit,
             "query_vectors": "cached (latency below excludes the query encoding)" if quick else "encoded per query"}
    if not quick:
        build["warm_start"] = warm_start(str(catalog_path))
    res: dict[str, Any] = {"tools": len(cat), "queries": len(samples), "catalog": str(catalog_path), "dataset": str(dataset_path),
                           "build": build, "two_stage_config": ts.config(), "two_stage_before_config": before.config(), "selectors": {}}
    for name, sel in (("keyword", kw), ("embedding", emb), ("two_stage", ts), ("two_stage_before", before)):
        sel.select("warm up", 5)
        res["selectors"][name] = evaluate(sel, samples)
        m = res["selectors"][name]
        c = m["ci95"]
        print(f"  {name:<16} R@1 {fmt(c['r@1'])}  R@5 {fmt(c['r@5'])}  R@10 {fmt(c['r@10'])}  MRR {fmt(c['mrr'])}  nDCG@5 {fmt(c['ndcg@5'])}"
              + (f"  intent@8 {fmt(c['intent@8'])} (n={c['intent@8']['n']})" if "intent@8" in c else "")
              + f"  p50 {m['latency_ms']['p50']:.1f} ms  p95 {m['latency_ms']['p95']:.1f} ms", file=sys.stderr, flush=True)
    if store is not None:
        store.save()
    if not quick:
        res["bm25_backends"] = bm25_backends(cat, [s["instruction"] for s in samples[:300]])
    s = res["selectors"]
    r5 = {k: v["metrics"]["r@5"] for k, v in s.items()}
    best = "keyword" if r5["keyword"] >= r5["embedding"] else "embedding"
    res["paired_r5"] = {"two_stage_minus_" + best: paired(s["two_stage"], s[best]),
                        "two_stage_minus_before": paired(s["two_stage"], s["two_stage_before"]),
                        "before_minus_" + best: paired(s["two_stage_before"], s[best])}
    res["ratios"] = {
        "two_stage_r5_minus_best_single_points": 100 * (r5["two_stage"] - r5[best]),
        "two_stage_p50_over_keyword": s["two_stage"]["latency_ms"]["p50"] / max(s["keyword"]["latency_ms"]["p50"], 1e-9),
        "two_stage_p50_over_embedding": s["two_stage"]["latency_ms"]["p50"] / max(s["embedding"]["latency_ms"]["p50"], 1e-9),
    }
    res["targets"] = {"r5_plus_3_points": res["ratios"]["two_stage_r5_minus_best_single_points"] >= 3.0,
                      "p50_le_15ms": s["two_stage"]["latency_ms"]["p50"] <= 15.0}
    if not quick:
        res["targets"]["warm_start_le_1s"] = res["build"]["warm_start"]["fit_s_min"] <= 1.0
    for k, d in res["paired_r5"].items():
        print(f"  R@5 {k}: {100 * d['diff']:+.1f} points [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}] "
              f"({d['better']} better / {d['worse']} worse of {d['n']})", file=sys.stderr, flush=True)
    return res


def lobo(args: argparse.Namespace) -> dict[str, Any]:
    """Leave-one-benchmark-out choice of the hybrid fusion; held-out numbers only (plus the final choice)."""
    from core.selection.hybrid import HybridParams

    os.environ["SAGE_TUI_CACHE"] = str(args.cache or Path(tempfile.gettempdir()) / "sage-bench-cache")
    specs = [("ours", args.catalog, args.validation, args.dataset)]
    if args.seal:
        specs.append(("seal-tools", args.seal / "catalog.jsonl", args.seal / "tool_retrieval_dev.jsonl", args.seal / "tool_retrieval_test.jsonl"))
    if args.metatool:
        specs.append(("metatool", args.metatool / "catalog.jsonl", args.metatool / "tool_retrieval_dev.jsonl", args.metatool / "tool_retrieval.jsonl"))
    benchmarks = []
    qcache = Path(os.environ["SAGE_TUI_CACHE"]) / "bench-query-vectors.pkl"  # query embeddings, reused across runs
    import pickle

    store: dict[str, dict[str, np.ndarray]] = pickle.loads(qcache.read_bytes()) if qcache.exists() else {}
    for name, cpath, dev, test in specs:
        cat = load_catalog(cpath)
        kw, emb = KeywordSelector().fit(cat), EmbeddingSelector(query_map=args.query_map).fit(cat)
        vec = store.setdefault(emb.query_model_id, {})  # mapped query vectors: keyed by encoder + map
        t = time.perf_counter()
        tune = build_split(f"{name}-dev", cat, load_dataset(dev).samples[: args.limit], kw, emb, vectors=vec)
        held = build_split(f"{name}-test", cat, load_dataset(test).samples[: args.limit], kw, emb, vectors=vec)
        qcache.parent.mkdir(parents=True, exist_ok=True)
        qcache.write_bytes(pickle.dumps(store))
        print(f"[lobo] {name}: {len(cat)} tools, tune {len(tune)} / test {len(held)} queries, scored in {time.perf_counter() - t:.0f} s",
              file=sys.stderr, flush=True)
        benchmarks.append(Benchmark(name, tune, held))
    grid = full_grid() if args.grid == "full" else default_grid()
    out = leave_one_out(benchmarks, grid, progress=lambda m: print(m, file=sys.stderr, flush=True))
    from core.selection.hybrid import WEIGHTS_FILE

    shipped = HybridParams.from_dict(json.loads(WEIGHTS_FILE.read_text())["params"])
    for b in benchmarks:  # the weights the selector ships with (chosen on every tuning split, never a test split)
        per = evaluate_params(b.test, shipped)
        best = max(("keyword", "embedding"), key=lambda k: float(np.mean([p["r@5"] for p in out["folds"][b.name]["per_query"][k]])))
        out["folds"][b.name]["shipped"] = {"params": shipped.to_dict(), "r@5": summarize(per)["r@5"], "best_single": best,
                                           "minus_best_single_r5": paired_diff([p["r@5"] for p in per],
                                                                               [p["r@5"] for p in out["folds"][b.name]["per_query"][best]])}
    report: dict[str, Any] = {"query_map": args.query_map, "grid": args.grid, "grid_size": len(grid), "objective": "max over the grid of min over tuning splits of (R@5 - best single stage R@5); mean margin breaks ties",
                              "final": out["final"], "chosen_on": out["chosen_on"], "folds": {}}
    for name, f in out["folds"].items():
        per = f["per_query"]
        summ = {k: summarize(v) for k, v in per.items()}
        r5 = {k: v["r@5"]["mean"] for k, v in summ.items()}
        best = "keyword" if r5["keyword"] >= r5["embedding"] else "embedding"
        diff = paired_diff([p["r@5"] for p in per["two_stage"]], [p["r@5"] for p in per[best]])
        report["folds"][name] = {"chosen_on": f["chosen_on"], "params": f["params"], "metrics": summ,
                                 "two_stage_minus_best_single_r5": diff, "best_single": best}
        print(f"[lobo] held out {name}: params {f['params']}", file=sys.stderr)
        for k in ("keyword", "embedding", "two_stage"):
            c = summ[k]
            print(f"    {k:<10} R@1 {fmt(c['r@1'])}  R@5 {fmt(c['r@5'])}  R@10 {fmt(c['r@10'])}  MRR {fmt(c['mrr'])}"
                  + (f"  intent@8 {fmt(c['intent@8'])}" if "intent@8" in c else ""), file=sys.stderr)
        print(f"    two_stage - {best}: {100 * diff['diff']:+.1f} points [{100 * diff['low']:+.1f}, {100 * diff['high']:+.1f}]", file=sys.stderr, flush=True)
        sh = f["shipped"]
        report["folds"][name]["shipped"] = sh
        print(f"    shipped weights {sh['params']}: R@5 {fmt(sh['r@5'])}, minus {sh['best_single']} "
              f"{100 * sh['minus_best_single_r5']['diff']:+.1f} points", file=sys.stderr, flush=True)
    top = sorted(out["final_table"], key=lambda r: r["objective"], reverse=True)[:15]
    report["final_top15"] = top
    if args.write_weights:
        final = HybridParams.from_dict(out["final"])
        stamp = time.strftime("%Y%m%d-%H%M%S")
        doc = {"id": f"lobo-{stamp}", "params": final.to_dict(),
               "chosen_by": "bench/selection.py --lobo: the grid point with the largest worst-case R@5 margin over the better single stage "
                            "on every benchmark's tuning split (core/selection/tuning.py); no test split was read for this choice",
               "chosen_on": out["chosen_on"], "grid": args.grid, "grid_size": len(grid),
               "held_out": {n: {"params": f["params"], "r@5": f["metrics"]["two_stage"]["r@5"]["mean"],
                                "best_single_r@5": f["metrics"][f["best_single"]]["r@5"]["mean"]} for n, f in report["folds"].items()}}
        WEIGHTS_FILE.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {WEIGHTS_FILE}", file=sys.stderr)
    return report


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
    ap.add_argument("--extra", type=Path, action="append", default=[],
                    help="another folder with catalog.jsonl + tool_retrieval.jsonl (e.g. MetaTool queries over MetaTool + Seal-Tools tools)")
    ap.add_argument("--limit", type=int, help="first N queries per set")
    ap.add_argument("--skip-ours", action="store_true", help="only the external sets (e.g. to run them in parallel processes)")
    ap.add_argument("--only-ours", action="store_true", help="only our extended retrieval test")
    ap.add_argument("--tune", action="store_true", help="grid-search two-stage options on dev/validation splits (never test)")
    ap.add_argument("--lobo", action="store_true", help="leave-one-benchmark-out choice of the hybrid fusion (held-out numbers)")
    ap.add_argument("--grid", choices=("weights", "full"), default="weights",
                    help="with --lobo: tune the normalisation and weight only (default) or the sub-query merge too")
    ap.add_argument("--write-weights", action="store_true", help="with --lobo: store the final choice in core/selection/fusion_weights.json")
    ap.add_argument("--cache", type=Path, help="embedding cache folder to reuse (default: a fresh one, i.e. a cold build)")
    ap.add_argument("--quick", action="store_true", help="skip the warm-start subprocesses and the BM25 backend comparison")
    ap.add_argument("--query-map", default="none",
                    help="the embedding stage's query encoder: none (default: the base model, as stored figures before "
                         "session 15), auto (the planners' default: the query tower), linear, or a file")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench" / f"selection-{time.strftime('%Y%m%d-%H%M%S')}.json")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                                          "loadavg_start": os.getloadavg()}, "sets": {}}
    if args.lobo:
        result["lobo"] = lobo(args)
    elif args.tune:
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
        for extra in [] if args.only_ours else args.extra:
            sets.append((f"extra-{extra.name}", extra / "catalog.jsonl", extra / "tool_retrieval.jsonl"))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="sage-bench-cache-") as tmp:
            for label, c, d in sets:
                if not (c.exists() and d.exists()):
                    print(f"[{label}] skipped: {c} or {d} missing", file=sys.stderr)
                    continue
                result["sets"][label] = bench_set(label, c, d, args.limit, args.cache or Path(tmp) / label, args.quick,
                                                 args.query_map)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(result, indent=2, default=str))  # partial result after each set
    result["machine"]["loadavg_end"] = os.getloadavg()
    for r in result["sets"].values():  # per-query rows make the file large: the summary keeps CIs and paired differences
        for sel in r["selectors"].values():
            sel.pop("per_query", None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
