"""Generic, resumable evaluation loop: one stored run per configuration, per-sample results.

A task-specific `Evaluator` scores one sample at a time; this module owns run bookkeeping:
creating the run, skipping samples an interrupted run already finished (resume), storing
per-sample results in batches, aggregating metrics and closing the run with a status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.datasets import Dataset
from core.store import RunStore
from core.store.environment import record_environment
from core.store.runstore import config_hash, pid_alive


@dataclass
class SampleResult:
    sample_id: str
    ok: bool
    metrics: dict[str, float]
    payload: dict[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None


class Evaluator(Protocol):
    """Scores samples of one task for one configuration."""

    task: str
    config: dict[str, Any]  # JSON-serialisable; identifies the configuration (and its run for resuming)

    def evaluate_sample(self, sample: dict[str, Any]) -> SampleResult: ...

    def aggregate(self, results: list[SampleResult]) -> dict[str, float]: ...


def mean_metrics(results: Iterable[SampleResult]) -> dict[str, float]:
    """Average each per-sample metric over the samples that report it."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for r in results:
        for k, v in r.metrics.items():
            sums[k] = sums.get(k, 0.0) + float(v)
            counts[k] = counts.get(k, 0) + 1
    return {k: sums[k] / counts[k] for k in sums}


@dataclass
class EvalRun:
    run_id: str
    task: str
    config: dict[str, Any]
    n: int
    metrics: dict[str, float]
    resumed_from: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "task": self.task, "config": self.config, "n": self.n, "metrics": self.metrics}


ProgressFn = Callable[[int, int], None]


def _load_results(store: RunStore, run_id: str) -> list[SampleResult]:
    out = []
    for row in store.sample_results(run_id):
        out.append(
            SampleResult(
                sample_id=row["sample_id"],
                ok=row["ok"],
                metrics=row.get("metrics", {}),
                payload={k: v for k, v in row.items() if k not in ("sample_id", "ok", "metrics")},
                latency_ms=row.get("latency_ms"),
            )
        )
    return out


def run_evaluation(
    evaluator: Evaluator,
    dataset: Dataset,
    store: RunStore,
    *,
    catalog_hash: str | None = None,
    method: str | None = None,
    tags: Iterable[str] = (),
    resume: bool = True,
    batch_size: int = 20,
    progress: ProgressFn | None = None,
    limit: int | None = None,
) -> EvalRun:
    """Evaluate `dataset` with `evaluator`, storing a run; resume an interrupted identical run."""
    samples = [s for s in dataset.samples if s["task"] == evaluator.task] or list(dataset.samples)
    if limit is not None:
        samples = samples[:limit]
    run_config = {**evaluator.config, "task": evaluator.task, "dataset": dataset.path, "limit": limit}
    if dataset.split:  # a named subset of the file (handwritten-test): shown, and part of the identity
        run_config["split"] = dataset.split
    chash = config_hash({**run_config, "dataset_hash": dataset.sha256, "catalog_hash": catalog_hash})
    run_id: str | None = None
    done: set[str] = set()
    if resume:
        prev = store.find_run(kind="eval", config_hash_=chash, statuses=("interrupted", "running", "failed"))
        if prev and not (prev["status"] == "running" and pid_alive(prev["pid"])):
            run_id = prev["id"]
            done = store.done_sample_ids(run_id)
            store.update_run(run_id, status="running", pid=__import__("os").getpid(), ended=None, error=None)
            store.log_event(run_id, f"resumed with {len(done)} of {len(samples)} samples already done")
    if run_id is None:
        run_id = store.create_run(
            "eval",
            run_config,
            task=evaluator.task,
            method=method or evaluator.config.get("method"),
            name=evaluator.config.get("name"),
            tags=tags,
            dataset_hash=dataset.sha256,
            catalog_hash=catalog_hash,
        )
        store.update_run(run_id, config_hash=chash)
    record_environment(store, run_id)
    resumed_from = len(done)
    pending: list[SampleResult] = []

    def flush() -> None:
        if pending:
            store.add_sample_results(
                run_id,
                (
                    {"sample_id": r.sample_id, "ok": r.ok, "metrics": r.metrics, "latency_ms": r.latency_ms, **r.payload}
                    for r in pending
                ),
            )
            pending.clear()

    total = len(samples)
    finished = len(done)
    if progress:
        progress(finished, total)
    with store.finishing(run_id, before=flush):
        for s in samples:
            if s["id"] in done:
                continue
            t0 = time.perf_counter()
            res = evaluator.evaluate_sample(s)
            if res.latency_ms is None:
                res.latency_ms = (time.perf_counter() - t0) * 1000.0
            pending.append(res)
            finished += 1
            if len(pending) >= batch_size:
                flush()
            if progress:
                progress(finished, total)
        flush()
    results = _load_results(store, run_id)
    metrics = evaluator.aggregate(results)
    lat = sorted(r.latency_ms for r in results if r.latency_ms is not None)
    if lat:
        metrics.setdefault("latency_p50_ms", lat[len(lat) // 2])
        metrics.setdefault("latency_p95_ms", lat[min(len(lat) - 1, int(len(lat) * 0.95))])
    store.log_metrics(run_id, metrics, split=dataset.split or (dataset.path.rsplit("/", 2)[-2] if "/" in dataset.path else None))
    store.update_run(run_id, config=run_config)
    store.finish_run(run_id, "completed")
    return EvalRun(run_id=run_id, task=evaluator.task, config=run_config, n=len(results), metrics=metrics, resumed_from=resumed_from)
