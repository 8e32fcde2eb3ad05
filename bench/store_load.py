"""Run store under concurrent writer load: throughput per writer count, rows lost, integrity.

    .venv/bin/python bench/store_load.py [--writers 1 2 4 8] [--runs 20] [--metrics 50] [--samples 20] [--json]

Each writer is a separate process doing what an eval or training job does: create a run, log
metric rows one transaction at a time (like per-step training metrics), add per-sample results
in one batch, log an event, finish the run. Throughput is printed as a ratio against the
single-writer baseline measured in the same invocation; every configuration checks that every
row arrived and that `PRAGMA integrity_check` is ok. Results go to results/bench/store_load-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _writer(db: str, worker: int, runs: int, metrics: int, samples: int, start: mp.Event, out: mp.Queue) -> None:
    from core.store import RunStore

    store = RunStore(db)
    start.wait()
    t0 = time.perf_counter()
    waits: list[float] = []
    for i in range(runs):
        rid = store.create_run("bench", {"worker": worker, "i": i}, tags=[f"w{worker}"])
        for j in range(metrics):
            t = time.perf_counter()
            store.log_metrics(rid, {"loss": 1.0 / (j + 1), "lr": 1e-4}, step=j)
            waits.append(time.perf_counter() - t)
        store.add_sample_results(rid, [{"sample_id": f"s{k}", "ok": k % 2 == 0, "pred": [k]} for k in range(samples)])
        store.log_event(rid, "done", payload={"i": i})
        store.finish_run(rid)
    store.close()
    waits.sort()
    out.put({"worker": worker, "seconds": time.perf_counter() - t0, "p50_ms": waits[len(waits) // 2] * 1e3,
             "p99_ms": waits[min(len(waits) - 1, int(len(waits) * 0.99))] * 1e3})


def run_config(writers: int, runs: int, metrics: int, samples: int) -> dict:
    from core.store import RunStore

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "load.db")
        RunStore(db).close()
        ctx = mp.get_context("spawn")
        start, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_writer, args=(db, w, runs, metrics, samples, start, out)) for w in range(writers)]
        for p in procs:
            p.start()
        time.sleep(1.0)  # let every process import and open the store before the clock starts
        t0 = time.perf_counter()
        start.set()
        stats = [out.get(timeout=600) for _ in procs]
        wall = time.perf_counter() - t0
        for p in procs:
            p.join(60)
        failed = [p.exitcode for p in procs if p.exitcode != 0]
        s = RunStore(db)
        counts, integrity = s.counts(), s.integrity_check()
        completed = len(s.list_runs(kind="bench", status="completed"))
        s.close()
    expected = {"runs": writers * runs, "metrics": writers * runs * metrics * 2, "samples": writers * runs * samples,
                "events": writers * runs}
    transactions = writers * runs * (metrics + 4)
    return {
        "writers": writers,
        "wall_s": round(wall, 3),
        "transactions": transactions,
        "tx_per_s": round(transactions / wall, 1),
        "rows_lost": sum(max(0, expected[k] - counts[k]) for k in expected),
        "completed_runs": completed,
        "integrity": integrity,
        "failed_processes": len(failed),
        "write_p50_ms": round(max(x["p50_ms"] for x in stats), 2),
        "write_p99_ms": round(max(x["p99_ms"] for x in stats), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--runs", type=int, default=20, help="runs per writer")
    ap.add_argument("--metrics", type=int, default=50, help="metric transactions per run")
    ap.add_argument("--samples", type=int, default=20, help="per-sample results per run (one transaction)")
    ap.add_argument("--json", action="store_true", help="print the result JSON only")
    args = ap.parse_args()
    writers = sorted(set([1, *args.writers]))  # the single-writer baseline is always measured
    rows = [run_config(w, args.runs, args.metrics, args.samples) for w in writers]
    base = rows[0]["tx_per_s"]
    for r in rows:
        r["throughput_vs_1_writer"] = round(r["tx_per_s"] / base, 2)
    result = {"bench": "store_load", "time": datetime.now(UTC).isoformat(timespec="seconds"),
              "params": {"runs": args.runs, "metrics": args.metrics, "samples": args.samples}, "results": rows}
    out_dir = ROOT / "results" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"store_load-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result))
    else:
        cols = ["writers", "wall_s", "tx_per_s", "throughput_vs_1_writer", "write_p50_ms", "write_p99_ms", "rows_lost", "integrity"]
        print("  ".join(f"{c:>22}" for c in cols))
        for r in rows:
            print("  ".join(f"{r[c]!s:>22}" for c in cols))
    ok = all(r["rows_lost"] == 0 and r["integrity"] == "ok" and r["failed_processes"] == 0 for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
