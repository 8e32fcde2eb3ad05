"""Tune the rule timing decider's threshold and score scale on the validation split and MetaTool Task1.

    .venv/bin/python bench/tune_timing.py [--metatool ../shared/benchmarks/metatool]

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--metatool", default=str(ROOT.parent / "shared" / "benchmarks" / "metatool"))
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
    for name, r in out.items():
        print(f"{name}: n={r['n']} best scale:threshold={r['best']} acc={r['best_acc']:.3f}; "
              f"default {r['default']} acc={r['default_acc']:.3f}")
    p = ROOT / "bench" / "results" / f"timing-tuning-{time.strftime('%Y%m%d-%H%M%S')}.json"
    p.write_text(json.dumps(out, indent=2))
    print(f"wrote {p}")


if __name__ == "__main__":
    main()
