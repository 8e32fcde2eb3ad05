"""Tune the rule timing decider's threshold and score scale on the validation split and MetaTool Task1.

    .venv/bin/python bench/tune_timing.py [--metatool ../shared/benchmarks/metatool] [--band-limit N]

With `--band-limit N` (> 0) the LLM decides the first N samples of each set once (default model) and the
hybrid band is swept offline: hybrid = rule where its confidence >= band, else the stored LLM decision.

Never reads test files. Prints accuracy per (scale, threshold) and the best setting per set; writes
bench/results/timing-tuning-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def metatool_samples(folder: Path):
    """(catalog of MetaTool's plugins, timing samples from Task1.json)."""
    from core.catalog import Catalog, Tool

    plugins = json.loads((folder / "plugin_des.json").read_text())
    tools, seen = [], set()
    for name, desc in plugins.items():
        tid = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "tool"
        if not tid[0].isalpha():
            tid = "t_" + tid
        if tid in seen:
            continue
        seen.add(tid)
        tools.append(Tool(tid, name, "metatool", desc or name, {"type": "object", "properties": {}}, ""))
    rows = json.loads((folder / "Task1.json").read_text())
    samples = [{"id": f"mt{i}", "message": r["query"], "context": [], "gold": {"should_call_tool": r["label"] == "positive"}}
               for i, r in enumerate(rows)]
    return Catalog(tools, source=str(folder)), samples


def sweep(catalog, samples, scales, thresholds) -> dict:
    from core.planning.registry import make_selector
    from core.timing.decider import TimingConfig, TimingDecider
    from core.timing.features import extract_features, logit

    sel = make_selector(catalog)
    tops = []
    for s in samples:
        r = sel.select(s["message"], top_k=1)
        tops.append(max(r[0].score, 0.0) if r else 0.0)
    grid = {}
    for scale in scales:
        probs = []
        for s, top in zip(samples, tops, strict=True):
            f = extract_features(s["message"], s.get("context") or [], top / (top + scale) if top > 0 else 0.0)
            import math

            probs.append(1 / (1 + math.exp(-logit(f))))
        for t in thresholds:
            acc = sum((p >= t) == s["gold"]["should_call_tool"] for p, s in zip(probs, samples, strict=True)) / len(samples)
            grid[f"{scale}:{t}"] = acc
    best = max(grid, key=grid.get)
    default = TimingConfig()
    key = f"{default.score_scale}:{default.threshold}"
    dec = TimingDecider("rule", catalog, selector=sel)
    acc_default = sum(dec.decide(s["message"], s.get("context") or []).should_call_tool == s["gold"]["should_call_tool"]
                      for s in samples) / len(samples)
    return {"n": len(samples), "best": best, "best_acc": grid[best], "default": key, "default_acc": acc_default,
            "grid": grid}


def band_sweep(catalog, samples, bands) -> dict:
    """Rule vs LLM vs hybrid accuracy per band, from one rule and one LLM decision per sample."""
    from core.planning.registry import make_selector
    from core.timing.decider import TimingDecider

    sel = make_selector(catalog)
    dec = TimingDecider("llm", catalog, selector=sel)
    rows = []
    t0 = time.perf_counter()
    for s in samples:
        ranked = dec._ranked(s["message"])
        rule = dec.rule(s["message"], s.get("context") or [], ranked)
        llm = dec.llm(s["message"], s.get("context") or [], ranked, fallback=rule)
        rows.append((rule.confidence, rule.should_call_tool, llm.should_call_tool, s["gold"]["should_call_tool"]))
    n = len(rows)
    out = {"n": n, "llm_s_per_decision": (time.perf_counter() - t0) / max(n, 1),
           "rule_acc": sum(r == g for _, r, _, g in rows) / n, "llm_acc": sum(m == g for _, _, m, g in rows) / n,
           "hybrid": {}}
    for b in bands:
        acc = sum(((r if c >= b else m) == g) for c, r, m, g in rows) / n
        rate = sum(c < b for c, *_ in rows) / n
        out["hybrid"][str(b)] = {"acc": acc, "llm_rate": rate}
    print(f"  rule {out['rule_acc']:.3f}  llm {out['llm_acc']:.3f}  " + "  ".join(
        f"band {b}: {v['acc']:.3f} (llm {v['llm_rate']:.2f})" for b, v in out["hybrid"].items()), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--metatool", default=str(ROOT.parent / "shared" / "benchmarks" / "metatool"))
    ap.add_argument("--band-limit", type=int, default=0, help="samples per set for the hybrid band sweep (0: skip)")
    args = ap.parse_args()
    from core.catalog import load_catalog
    from core.datasets import default_dataset_path, load_dataset

    scales = [4.0, 8.0, 16.0, 32.0, 64.0]
    thresholds = [round(0.3 + 0.05 * i, 2) for i in range(13)]
    out = {}
    mt = Path(args.metatool)
    if (mt / "Task1.json").is_file():
        cat, samples = metatool_samples(mt)
        out["metatool_task1"] = sweep(cat, samples, scales, thresholds)
    try:
        ds = load_dataset(default_dataset_path("timing_judgment", "validation"), task="timing_judgment")
        out["validation"] = sweep(load_catalog(), ds.samples, scales, thresholds)
    except Exception as exc:  # split not generated yet
        print(f"validation split unavailable: {exc}")
    if args.band_limit > 0:
        bands = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.5]
        if (mt / "Task1.json").is_file():
            cat, samples = metatool_samples(mt)
            # interleave positives and negatives (the file is sorted by label)
            pos = [s for s in samples if s["gold"]["should_call_tool"]]
            neg = [s for s in samples if not s["gold"]["should_call_tool"]]
            half = args.band_limit // 2
            print("band sweep metatool_task1")
            out["band_metatool_task1"] = band_sweep(cat, pos[::len(pos) // half][:half] + neg[::len(neg) // half][:half],
                                                    bands)
        ds = load_dataset(default_dataset_path("timing_judgment", "validation"), task="timing_judgment")
        print("band sweep validation")
        out["band_validation"] = band_sweep(load_catalog(), ds.samples[: args.band_limit], bands)
    for name, r in out.items():
        if name.startswith("band_"):
            continue
        print(f"{name}: n={r['n']} best scale:threshold={r['best']} acc={r['best_acc']:.3f}; "
              f"default {r['default']} acc={r['default_acc']:.3f}")
    p = ROOT / "bench" / "results" / f"timing-tuning-{time.strftime('%Y%m%d-%H%M%S')}.json"
    p.write_text(json.dumps(out, indent=2))
    print(f"wrote {p}")


if __name__ == "__main__":
    main()
