"""`sage-tui train`: LoRA fine-tuning jobs (run / stop / resume), the method comparison, GGUF export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sage_tui.commands._common import (
    DbOption,
    JsonOption,
    err,
    handle_errors,
    open_store_opt,
    out,
    print_json,
)

train_app = typer.Typer(help="Fine-tune the agent model (LoRA), compare methods A/B1/B2/B3/C/D, export adapters.",
                        no_args_is_help=True)


@train_app.command("run")
@handle_errors
def run_cmd(
    config: Annotated[str, typer.Option("--config", help="TOML config file or preset name (quick_cpu, full_gpu, ship_gemma).")],
    run_id: Annotated[str | None, typer.Option("--run-id", help="Use this run id (set by the job launcher).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue run --run-id from its last checkpoint.")] = False,
    detach: Annotated[bool, typer.Option("--detach", help="Start the job in the background and print its run id.")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Train one configuration in this process (this process *is* the job), storing the run."""
    import signal
    import threading

    from core.errors import TrainingError
    from training.config import load_config
    from training.pipeline import run_training

    cfg = load_config(config)  # config errors surface before anything is stored
    if detach:
        from training import jobs

        rid, pid = jobs.launch(config, db, run_id=run_id)
        print_json({"run_id": rid, "pid": pid, "log": str(jobs.log_path(rid))}) if json_out else out.print(f"{rid} (pid {pid})")
        return
    store = open_store_opt(db)
    store.reap_stale_runs()
    cancel = threading.Event()

    def on_term(signum, frame):  # noqa: ANN001 - signal handler signature
        err.print("stop requested: saving a checkpoint after this step")
        cancel.set()

    signal.signal(signal.SIGTERM, on_term)
    res = run_training(cfg, store, run_id=run_id, resume=resume, log=lambda s: err.print(s, highlight=False), cancel=cancel)
    payload = {"run_id": res.run_id, "status": res.status, "adapter": str(res.adapter_dir) if res.adapter_dir else None,
               "summary": res.summary, "samples_used": len(res.selected_ids)}
    if json_out:
        print_json(payload)
    else:
        out.print(f"{res.run_id}: {res.status}" + (f" -> {res.adapter_dir}" if res.adapter_dir else ""))
    if res.status != "completed":
        raise TrainingError(f"run {res.run_id} was stopped; continue it with `sage-tui train resume {res.run_id}`")


@train_app.command("stop")
@handle_errors
def stop_cmd(run: Annotated[str, typer.Argument(help="Run id (or unique prefix).")],
             grace: Annotated[float, typer.Option(help="Seconds to wait for a checkpoint before SIGKILL.")] = 30.0,
             db: DbOption = None) -> None:
    """End a running training job's process tree; it is stored as interrupted (resumable)."""
    from training import jobs

    status = jobs.stop(open_store_opt(db), run, grace_s=grace)
    out.print(f"{run}: {status}")


@train_app.command("resume")
@handle_errors
def resume_cmd(run: Annotated[str, typer.Argument(help="Run id (or unique prefix).")], db: DbOption = None,
               wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the job to finish.")] = False,
               json_out: JsonOption = False) -> None:
    """Continue an interrupted training run from its last checkpoint (in a new background process)."""
    from training import jobs

    store = open_store_opt(db)
    rid, pid = jobs.resume(store, run, db)
    status = jobs.wait(store, rid, timeout_s=24 * 3600)["status"] if wait else "running"
    if json_out:
        print_json({"run_id": rid, "pid": pid, "status": status, "log": str(jobs.log_path(rid))})
    else:
        out.print(f"{rid}: {status} (pid {pid}, log {jobs.log_path(rid)})")


@train_app.command("compare")
@handle_errors
def compare_cmd(
    quick: Annotated[bool, typer.Option("--quick", help="Smoke test on the CPU (80 dialogs, <= 30 min for 7 methods; docs/TRAINING.md).")] = False,
    medium: Annotated[bool, typer.Option("--medium", help="CPU tier: 400 dialogs per seed, 200 evaluation samples per task, "
                                                          "50 generated plans via llama.cpp (docs/TRAINING.md).")] = False,
    full: Annotated[bool, typer.Option("--full", help="GPU tier: all 4,400 dialogs, bf16 (bench/gpu_full.sh).")] = False,
    method: Annotated[list[str] | None, typer.Option("--method", help="A, B1, B2, B3, C, D or R (random control); repeatable.")] = None,
    seeds: Annotated[int | None, typer.Option("--seeds", help="Seeds per method (default 1; with --resume: raise the count).")] = None,
    first_seed: Annotated[int, typer.Option("--first-seed", help="Run seeds FIRST..--seeds minus 1 only: more seeds for "
                                                                 "settings whose first seeds another comparison ran.")] = 0,
    config: Annotated[str | None, typer.Option("--config", help="Base config (default: the tier's preset).")] = None,
    resume: Annotated[str | None, typer.Option("--resume", metavar="PARENT_RUN",
                                               help="Continue comparison PARENT_RUN (its stored config, methods, seeds and "
                                                    "grid): finished (method, seed, variant) cells are skipped.")] = None,
    max_cells: Annotated[int, typer.Option("--max-cells", help="Stop after this many new cells (the comparison stays "
                                                               "resumable); 0 = all.")] = 0,
    ablation: Annotated[str | None, typer.Option("--ablation", help="A preset grid: budget (sample-efficiency curve), "
                                                                    "hybrid_ratio, replay.")] = None,
    budget: Annotated[list[float] | None, typer.Option("--budget", help="Coreset budget variant (fraction < 1 or count); repeatable.")] = None,
    loss_ratio: Annotated[list[float] | None, typer.Option("--loss-ratio", help="Hybrid loss share variant; repeatable.")] = None,
    replay_ratio: Annotated[list[float] | None, typer.Option("--replay-ratio", help="Replay ratio variant (C, D); repeatable.")] = None,
    buffer_size: Annotated[list[int] | None, typer.Option("--buffer-size", help="Replay buffer size variant (C, D); repeatable.")] = None,
    epochs: Annotated[list[int] | None, typer.Option("--epochs", help="Passes over each chunk variant (C, D: more steps "
                                                                     "without more replay); repeatable.")] = None,
    external: Annotated[list[str] | None, typer.Option("--external", help="Imported external set folder (catalog.jsonl + "
                                                                         "tool_retrieval.jsonl) to score tool selection on; repeatable.")] = None,
    summary: Annotated[str | None, typer.Option("--summary", metavar="PARENT_RUN",
                                                help="Train nothing: print the stored comparison PARENT_RUN (per-method "
                                                     "metrics with 95% intervals, paired differences vs A) as Markdown.")] = None,
    baseline: Annotated[list[str] | None, typer.Option("--baseline", help="With --summary: the method(s) the paired "
                                                       "differences are taken against (default A; e.g. R for "
                                                       "coreset vs random at the same budget); repeatable.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Train and evaluate the paper's methods; every model is evaluated on all four task types."""
    from core.errors import UsageError
    from training.compare import ABLATIONS, compare_summary, run_compare
    from training.config import TIERS

    if summary:
        store = open_store_opt(db)
        parent = store.get_run(summary)["id"]  # NotFoundError (exit 4) when unknown; unique prefixes work
        bases = baseline or ["A"]
        bad = [b for b in bases if b not in ("A", "B1", "B2", "B3", "C", "D", "R")]
        if bad:
            raise UsageError(f"unknown --baseline {bad}; expected A, B1, B2, B3, C, D or R")
        md = compare_summary(store, parent, baseline=bases[0])
        for b in bases[1:]:  # the per-method table once, then one paired-difference table per extra baseline
            md += "\n" + compare_summary(store, parent, baseline=b).split("\n\n", 1)[1]
        if json_out:
            print_json({"parent_id": parent, "markdown": md})
        else:
            print(md)
        return
    tiers = [t for t, on in (("quick", quick), ("medium", medium), ("full", full)) if on]
    if len(tiers) > 1:
        raise UsageError("--quick, --medium and --full are exclusive")
    grid: dict[str, list[float]] = {}
    if ablation:
        if ablation not in ABLATIONS:
            raise UsageError(f"unknown --ablation {ablation!r}; expected one of {sorted(ABLATIONS)}")
        grid = {k: list(v) for k, v in ABLATIONS[ablation]["grid"].items()}
        method = method or list(ABLATIONS[ablation]["methods"])
    for knob, vals in (("budget", budget), ("loss_ratio", loss_ratio), ("replay_ratio", replay_ratio),
                       ("buffer_size", buffer_size), ("epochs", epochs)):
        if vals:
            grid[knob] = [float(v) for v in vals]
    if resume and (tiers or config or grid or method or external or first_seed):
        raise UsageError("--resume continues a stored comparison with its own config, methods and grid; "
                         "only --seeds (to add seeds) and --max-cells combine with it")
    if max_cells < 0:
        raise UsageError("--max-cells must be >= 0")
    preset = None if resume else (config or TIERS[tiers[0] if tiers else "quick"])
    store = open_store_opt(db)
    import signal

    # SIGTERM (`kill`, a CI timeout, a closed session) ends the comparison like Ctrl-C: the run in
    # progress and the parent are stored as interrupted instead of being left "running"
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    def overrides(cfg) -> None:  # noqa: ANN001 - training.config.Config
        if external:
            cfg.eval.external = list(external)

    runs = run_compare(preset, store, methods=method or None, seeds=seeds, grid=grid or None, resume=resume,
                       max_cells=max_cells, overrides=overrides, first_seed=first_seed,
                       log=lambda s: err.print(s, highlight=False))
    if json_out:
        print_json({"runs": runs})
        return
    from rich.table import Table

    tab = Table(title="method comparison")
    for c in ("cell", "task", "run", "metrics"):
        tab.add_column(c)
    for r in runs:
        ms = "  ".join(f"{k}={v:.3f}" for k, v in sorted(r["metrics"].items()) if not k.startswith("latency"))
        tab.add_row(r["cell"], r["task"], r["run_id"], ms)
    out.print(tab)


@train_app.command("export-gguf")
@handle_errors
def export_cmd(
    adapter: Annotated[Path, typer.Argument(help="peft adapter directory (adapter_config.json + adapter_model.safetensors).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="GGUF LoRA file to write.")],
    base: Annotated[str, typer.Option(help="The base model's GGUF file, or bundled-gemma3-270m.")] = "bundled-gemma3-270m",
) -> None:
    """Convert a peft LoRA adapter to a GGUF LoRA adapter that llama.cpp loads (`--lora`)."""
    from training.base_models import ALIASES, bundled_gguf_path
    from training.lora_gguf import export_lora_gguf

    p = export_lora_gguf(adapter, bundled_gguf_path() if base in ALIASES else Path(base), output)
    out.print(str(p))


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
