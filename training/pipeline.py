"""One training run end to end: validate inputs, select (coreset), train (plain or continual),
save the adapter, record everything in the RunStore. Used by `sage-tui train run` and `compare`.

Every user mistake (unknown base model, empty dataset, budget > dataset, bad config) raises a
typed error *before* training starts; the run is then stored as failed with the reason.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import DataError, SageError, TrainingError
from core.paths import cache_dir
from training.config import METHOD_SETTINGS, Config

LogFn = Callable[[str], None]


def apply_method(cfg: Config, method: str, budget: float | None = None) -> Config:
    """A copy of `cfg` configured as one of the paper's methods."""
    import copy

    out = copy.deepcopy(cfg)
    s = METHOD_SETTINGS[method]
    out.method = method
    out.coreset.strategy = s["strategy"]
    out.continual.enabled = s["continual"]
    if budget is not None:
        out.coreset.budget = budget
    if out.coreset.strategy == "none":
        out.coreset.budget = 0
    return out.validate()


def load_training_samples(cfg: Config) -> tuple[list[dict[str, Any]], str, str]:
    """(samples, path, file sha256) after task filtering and per-task limits."""
    from core.datasets import default_dataset_path, load_dataset

    path = Path(cfg.data.train) if cfg.data.train else default_dataset_path("task_planning", "train")
    if not path.exists():
        raise DataError("training data file not found", path=str(path), field="data.train")
    ds = load_dataset(path)
    samples = ds.samples
    if cfg.data.tasks:
        samples = [s for s in samples if s["task"] in cfg.data.tasks]
    if cfg.data.limit:
        per: dict[str, int] = {}
        kept = []
        for s in samples:
            if per.get(s["task"], 0) < cfg.data.limit:
                per[s["task"]] = per.get(s["task"], 0) + 1
                kept.append(s)
        samples = kept
    if not samples:
        raise DataError("the training dataset is empty (after task filter / limit)", path=str(path), field="data")
    from training.prompts_bridge import expand_views

    return expand_views(samples, cfg.data.plan_views, cfg.data.timing_share, cfg.train.seed), str(path), ds.sha256


@dataclass
class TrainResult:
    run_id: str
    status: str
    adapter_dir: Path | None
    summary: dict[str, float] = field(default_factory=dict)
    selected_ids: list[str] = field(default_factory=list)
    continual: dict[str, Any] = field(default_factory=dict)


def _split_val(samples: list[dict[str, Any]], frac: float, seed: int) -> tuple[list, list]:
    rng = random.Random(seed)
    idx = list(range(len(samples)))
    rng.shuffle(idx)
    n_val = max(1, int(round(frac * len(samples)))) if len(samples) > 1 else 0
    val = {i for i in idx[:n_val]}
    return [s for i, s in enumerate(samples) if i not in val], [s for i, s in enumerate(samples) if i in val]


def run_training(
    cfg: Config,
    store: Any,
    *,
    run_id: str | None = None,
    resume: bool = False,
    log: LogFn | None = None,
    cancel: threading.Event | None = None,
    tags: tuple[str, ...] = (),
    parent_id: str | None = None,
    reuse_base: bool = False,
) -> TrainResult:
    """Run `cfg` as one stored `train` run (or continue run `run_id` when `resume`).

    `reuse_base` (set by `compare`): load the base model once per process and give each run a copy
    with a fresh LoRA (training/trainer.py `load_base`)."""
    from core.store.environment import record_environment
    from training.base_models import resolve_base_model

    log = log or (lambda s: print(s, flush=True))
    cancel = cancel or threading.Event()
    if resume and run_id:
        store.update_run(run_id, status="running", ended=None, error=None, pid=__import__("os").getpid())
        store.log_event(run_id, "resumed")
        rid = run_id
    else:
        rid = store.create_run("train", cfg.to_dict(), method=cfg.method, name=cfg.name, tags=tags,
                               run_id=run_id, parent_id=parent_id)
    record_environment(store, rid)
    out_dir = Path(cfg.output.dir) if cfg.output.dir else cache_dir() / "runs" / rid
    with store.finishing(rid, log_errors=True):
        model_dir = resolve_base_model(cfg.model.base)
        samples, path, sha = load_training_samples(cfg)
        if cfg.coreset.strategy != "none":
            from training.coreset import resolve_budget

            resolve_budget(cfg.coreset.budget, len(samples))
        store.update_run(rid, dataset_hash=sha, config={**cfg.to_dict(), "out_dir": str(out_dir), "data_path": path})
        out_dir.mkdir(parents=True, exist_ok=True)
        res = _train(cfg, store, rid, model_dir, samples, out_dir, log, cancel, resume, reuse_base)
    if res.status == "cancelled":
        store.finish_run(rid, "interrupted", error="stopped by user; resume with `sage-tui train resume`")
    return res


def _train(cfg: Config, store: Any, rid: str, model_dir: Path, samples: list[dict[str, Any]], out_dir: Path,
           log: LogFn, cancel: threading.Event, resume: bool, reuse_base: bool = False) -> TrainResult:
    import time

    from training.formatting import encode_all
    from training.trainer import AgentSFTTrainer, data_hash

    def log_and_store(line: str) -> None:  # the TUI's training screen shows the last log lines from events
        log(line)
        store.log_event(rid, line)

    tr = AgentSFTTrainer(cfg, out_dir, store=store, run_id=rid, log=log_and_store, cancel=cancel)
    t0 = time.perf_counter()
    tr.setup(model_dir, reuse_base=reuse_base)
    store.log_metrics(rid, {"setup_seconds": time.perf_counter() - t0})
    enc_all = encode_all(samples, tr.tokenizer, max_len=cfg.model.max_seq_len, chat_format=cfg.model.chat_format)
    by_id = {e.sample_id: e for e in enc_all}
    if not enc_all:
        raise DataError("every training sample was truncated away; raise model.max_seq_len", field="model.max_seq_len")
    samples = [s for s in samples if str(s["id"]) in by_id]
    chosen = samples
    if cfg.coreset.strategy != "none":
        chosen = _select(cfg, tr, samples, by_id, store, rid, out_dir)
    result = TrainResult(rid, "completed", None, selected_ids=[str(s["id"]) for s in chosen])
    if cfg.continual.enabled:
        result.continual = _continual(cfg, tr, chosen, by_id, store, rid)
        status = "cancelled" if cancel.is_set() else "completed"
    else:
        data = [by_id[str(s["id"])] for s in chosen]
        tr.plan(len(data))
        store.log_event(rid, f"training on {len(data)} samples for {tr.state.total_steps} steps",
                        payload={"total_steps": tr.state.total_steps})
        dh = data_hash(data)
        if resume and tr.try_resume(dh):
            log(f"resumed from {tr.ckpt_dir} at step {tr.state.step}")
        tr.state.data_hash = dh
        status = tr.train(data)
    result.status = status
    summary = tr.summary()
    summary["samples_used"] = float(len(chosen))
    result.summary = summary
    if status == "completed":
        adapter = tr.save_adapter(out_dir / "adapter")
        manifest = {"run_id": rid, "method": cfg.method, "seed": cfg.train.seed, "steps": tr.state.step,
                    "data_hash": tr.state.data_hash, "base_model": cfg.model.base, "model_type": tr.state.model_type,
                    "summary": summary}
        (adapter / "manifest.json").write_text(json.dumps(manifest, indent=1))
        store.add_artifact(rid, "adapter", adapter, {"steps": tr.state.step})
        store.log_metrics(rid, {k: summary[k] for k in ("train_seconds", "samples_used", "peak_memory_mb", "tokens_per_second", "final_loss", "steps")})
        result.adapter_dir = adapter
        gguf = None
        if cfg.output.export_gguf or (cfg.eval.enabled and plan_backend(cfg) == "llamacpp"):
            gguf = export_gguf(cfg, adapter)
            store.add_artifact(rid, "adapter_gguf", gguf)
        if cfg.eval.enabled:
            summary.update(_evaluate(cfg, tr, store, rid, log_and_store, gguf))
        store.finish_run(rid, "completed")
    tr.cleanup()
    return result


def plan_backend(cfg: Config) -> str:
    """How generated plans are made: "hf" or "llamacpp" ("auto": llama.cpp on the bundled base)."""
    from training.base_models import ALIASES

    b = cfg.eval.plan_backend
    if b == "auto":
        b = "llamacpp" if cfg.model.base in ALIASES else "hf"
    return b if cfg.eval.task_planning >= 0 else "none"


def _evaluate(cfg: Config, tr: Any, store: Any, rid: str, log: LogFn, gguf: Path | None = None) -> dict[str, float]:
    """Evaluate the just-trained model on the test split; metrics + per-sample rows go on this run.
    Generated plans come from llama.cpp with `gguf` (the exported adapter) when `plan_backend` says so."""
    from training.evaluate import EvalSizes, ModelScorer, evaluate_model, load_external, store_evaluation

    e = cfg.eval
    def cap(n: int) -> int:
        return n if e.limit <= 0 or n < 0 else (e.limit if n == 0 else min(n, e.limit))

    splits = {t: v for t, v in (("tool_selection", e.selection_split), ("timing_judgment", e.timing_split),
                                ("task_planning", e.planning_split)) if v}
    sizes = EvalSizes(cap(e.tool_selection), cap(e.tool_retrieval), cap(e.timing_judgment), cap(e.task_planning),
                      e.max_new_tokens, cap(e.plan_scored) if e.plan_scored > 0 else 0, splits or None, e.plan_batch)
    store.log_event(rid, f"evaluating on the {e.split} split", payload={"sizes": sizes.to_dict()})

    def progress(task: str, i: int, n: int) -> None:
        if i == n or i % 10 == 0:
            log(f"eval {task} {i}/{n}")

    scorer = ModelScorer(tr.model, tr.tokenizer, tr.device, cfg.model.chat_format, prefix_cache=e.prefix_cache)
    external = [load_external(f, e.external_samples) for f in e.external]
    gen = None
    if gguf is not None and plan_backend(cfg) == "llamacpp" and sizes.task_planning >= 0:
        from core.catalog import load_catalog_cached

        gen = make_plan_generator(gguf, load_catalog_cached(), planner=e.planner, max_tokens=e.max_new_tokens,
                                  threads=e.plan_threads or cfg.train.threads)
        store.log_event(rid, f"generated plans: llama.cpp, planner {e.planner}, adapter {gguf}")
    try:
        summary, rows = evaluate_model(scorer, split=e.split, sizes=sizes, progress=progress, plan_fn=gen,
                                       external=external)
    finally:
        if gen is not None:
            gen.close()
    store_evaluation(store, rid, summary, rows)
    tr.model.train()
    return summary


def export_gguf(cfg: Config, adapter: Path) -> Path:
    """The trained peft adapter as a GGUF LoRA for llama.cpp (`adapter/adapter.gguf`); bundled base only."""
    from training.base_models import ALIASES, bundled_gguf_path
    from training.lora_gguf import export_lora_gguf

    if cfg.model.base not in ALIASES:
        raise TrainingError("output.export_gguf / eval.plan_backend = 'llamacpp' need the bundled base model; "
                            "use `sage-tui train export-gguf`")
    return export_lora_gguf(adapter, bundled_gguf_path(), adapter / "adapter.gguf")


def make_plan_generator(gguf: Path, catalog: Any, **kw: Any) -> Any:
    """The llama.cpp plan generator (a seam: tests swap in a scripted one, CI has no bundled-model GGUF run)."""
    from training.evaluate import LlamaPlanGenerator

    return LlamaPlanGenerator(gguf, catalog, **kw)


def _select(cfg: Config, tr: Any, samples: list, by_id: dict, store: Any, rid: str, out_dir: Path) -> list:
    from training.coreset import CoresetSelector

    c = cfg.coreset

    def loss_fn(ss: list[dict[str, Any]]) -> list[float]:
        # the model is untrained here: a fresh LoRA (B = 0) computes exactly the base model's loss,
        # so scores are cached per (base, dtype, encoded sample) and shared by B1/B3/D and all seeds
        enc = [by_id[str(s["id"])] for s in ss]
        keys = [_loss_key(tr, e) for e in enc]
        _load_loss_cache()
        todo = [i for i, k in enumerate(keys) if k not in BASE_LOSS_CACHE]
        if todo:
            vals = tr.per_sample_losses([enc[i] for i in todo], batch_size=c.score_batch_size)
            new = {keys[i]: v for i, v in zip(todo, vals, strict=True)}
            BASE_LOSS_CACHE.update(new)
            _save_loss_cache(new)
        counts["coreset_scored"] += len(todo)
        counts["coreset_cached"] += len(enc) - len(todo)
        return [BASE_LOSS_CACHE[k] for k in keys]

    counts = {"coreset_scored": 0, "coreset_cached": 0}  # summed over calls (one per task type when stratified)

    sel = CoresetSelector(c.strategy, c.budget, seed=cfg.train.seed, loss_ratio=c.loss_ratio, embedder=c.embed_model,
                          loss_fn=loss_fn if c.strategy in ("loss_topk", "hybrid") else None, stratify=c.stratify)
    res = sel.select(samples)
    if c.strategy in ("loss_topk", "hybrid"):
        store.log_metrics(rid, {k: float(v) for k, v in counts.items()})
    (out_dir / "coreset.json").write_text(json.dumps({"strategy": res.strategy, "ids": res.ids, "scores": res.scores}))
    store.log_event(rid, f"coreset {res.strategy}: {len(res.ids)} of {len(samples)} samples in {res.seconds:.1f}s",
                    payload={"strategy": res.strategy, "ids": res.ids,
                             "per_task": _count_tasks(samples, set(res.ids))})
    store.add_artifact(rid, "coreset", out_dir / "coreset.json", {"n": len(res.ids)})
    store.log_metrics(rid, {"coreset_seconds": res.seconds})
    keep = set(res.ids)
    return [s for s in samples if str(s["id"]) in keep]


BASE_LOSS_CACHE: dict[str, float] = {}  # per-sample loss of the untrained (base) model, per process
_LOSS_CACHE_LOADED: set[str] = set()


def loss_cache_path() -> Path:
    """The base-model losses on disk (one JSON line per sample key), so a comparison resumed in another
    process (`train compare --resume`) does not score the pool again."""
    return cache_dir() / "base_losses.jsonl"


def _load_loss_cache() -> None:
    p = loss_cache_path()
    if str(p) in _LOSS_CACHE_LOADED:
        return
    _LOSS_CACHE_LOADED.add(str(p))
    if not p.is_file():
        return
    for line in p.read_text().splitlines():
        try:
            row = json.loads(line)
            BASE_LOSS_CACHE.setdefault(str(row["k"]), float(row["v"]))
        except (ValueError, KeyError, TypeError):  # a line cut by a kill: skipped, recomputed when needed
            continue


def _save_loss_cache(new: dict[str, float]) -> None:
    p = loss_cache_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a") as fh:
        fh.write("".join(json.dumps({"k": k, "v": v}) + "\n" for k, v in new.items()))


def _loss_key(tr: Any, e: Any) -> str:
    import hashlib

    h = hashlib.sha256(f"{tr.model_dir}|{tr.dtype}|{tr.cfg.lora.dropout}|".encode())
    h.update(",".join(map(str, e.input_ids)).encode())
    h.update(b"|")
    h.update(",".join(map(str, e.labels)).encode())
    return h.hexdigest()


def _count_tasks(samples: list, ids: set[str]) -> dict[str, int]:
    """Chosen samples per task type (shown by the TUI's training screen)."""
    out: dict[str, int] = {}
    for s in samples:
        if str(s["id"]) in ids:
            out[str(s.get("task"))] = out.get(str(s.get("task")), 0) + 1
    return out


CHUNK_VAL_SAMPLES = 12


def _validation_samples(task: str, tr: Any, cfg: Config, by_id: dict) -> list[dict[str, Any]]:
    """First CHUNK_VAL_SAMPLES of the bundled validation split of `task`, encoded into `by_id`
    (rendered with the same inference prompts); [] when the split is missing or not renderable
    (retrieval rows have no candidate list) so the caller holds out training dialogs instead."""
    from core.datasets import default_dataset_path, load_dataset
    from training.formatting import encode_all

    try:
        rows = load_dataset(default_dataset_path(task, "validation")).samples[:CHUNK_VAL_SAMPLES]
        enc = encode_all(rows, tr.tokenizer, max_len=cfg.model.max_seq_len, chat_format=cfg.model.chat_format)
    except SageError:
        return []
    by_id.update({e.sample_id: e for e in enc})
    keep = {e.sample_id for e in enc}
    return [r for r in rows if str(r["id"]) in keep]


def _continual(cfg: Config, tr: Any, samples: list, by_id: dict, store: Any, rid: str) -> dict[str, Any]:
    from training.continual import Chunk, OnlineContinualLearner
    from training.replay import ReplayBuffer

    cc = cfg.continual
    key = "task" if cc.chunk_by == "task" else "category"
    order: list[str] = []
    groups: dict[str, list] = {}
    for s in samples:
        g = str(s.get(key) or s.get("task"))
        if g not in groups:
            order.append(g)
            groups[g] = []
        groups[g].append(s)
    chunks = []
    for g in order:
        val = _validation_samples(g, tr, cfg, by_id) if key == "task" else []
        if val:  # the task's validation split: every training sample stays in training (as for A)
            chunks.append(Chunk(g, groups[g], val))
            continue
        tr_part, val = _split_val(groups[g], 0.15, cfg.train.seed)
        chunks.append(Chunk(g, tr_part or groups[g], val or groups[g][:1]))
    if len(chunks) < 2:
        raise TrainingError("continual learning needs at least two chunks (task types) in the data")
    buffer = ReplayBuffer(cc.buffer_size, balanced=cc.balanced, seed=cfg.train.seed, key=key)
    tr.batch_log = []

    def train_fn(mix: list, i: int) -> None:
        data = [by_id[str(s["id"])] for s in mix]
        tr.plan(len(data))
        store.log_event(rid, f"training on {len(data)} samples for {tr.state.total_steps} steps",
                        payload={"total_steps": tr.state.total_steps})
        tr.train(data)

    def eval_fn(val: list) -> float:
        return tr.token_accuracy([by_id[str(s["id"])] for s in val])

    def on_chunk(i: int, res: Any) -> None:
        store.log_event(rid, f"chunk {i + 1}/{len(chunks)} {chunks[i].name}: replayed {len(res.replayed[i])}",
                        payload={"chunk": chunks[i].name, "acc": res.acc[i], "replayed": res.replayed[i]})
        # accuracy on every chunk seen so far, measured after training chunk i (step = i)
        store.log_metrics(rid, {f"chunk_acc/{chunks[j].name}": a for j, a in enumerate(res.acc[i])}, step=i)
        store.log_metrics(rid, {"cl_avg_accuracy": sum(res.acc[i]) / len(res.acc[i])}, split="continual", step=i)

    learner = OnlineContinualLearner(train_fn, eval_fn, buffer, replay_ratio=cc.replay_ratio, seed=cfg.train.seed,
                                     on_chunk=on_chunk)
    res = learner.run(chunks)
    store.log_metrics(rid, {"forgetting": res.forgetting, "backward_transfer": res.backward_transfer,
                            "cl_avg_accuracy": res.average_accuracy})
    return {"names": res.names, "acc": res.acc, "forgetting": res.forgetting, "backward_transfer": res.backward_transfer,
            "replayed": res.replayed, "batches": tr.batch_log}
