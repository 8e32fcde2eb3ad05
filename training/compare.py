"""`sage-tui train compare`: train methods A, B1, B2, B3, C, D (+ R, the random-coreset control)
with the same base config and seeds, and report each run in the `eval --json` shape.

Current scope: every method is trained for real and scored on the same held-out split of the
training dialogs (teacher-forced assistant-token accuracy and loss); the four-task test-split
evaluation of each trained model (training/evaluate.py) is not implemented yet.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from core.errors import UsageError
from training.config import load_config
from training.pipeline import METHOD_SETTINGS, apply_method, load_training_samples

DEFAULT_METHODS = ["A", "B1", "B2", "B3", "C", "D", "R"]


def run_compare(preset: str, store: Any, *, methods: list[str] | None = None, seeds: int = 1,
                log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    import json
    import tempfile
    from pathlib import Path

    from training.pipeline import run_training

    methods = methods or DEFAULT_METHODS
    bad = [m for m in methods if m not in METHOD_SETTINGS]
    if bad:
        raise UsageError(f"unknown method(s) {bad}; expected {DEFAULT_METHODS}")
    if seeds < 1:
        raise UsageError("--seeds must be >= 1")
    base = load_config(preset)
    samples, _, _ = load_training_samples(base)
    rng = random.Random(1234)
    held = set(rng.sample([str(s["id"]) for s in samples], max(1, len(samples) // 6)))
    train = [s for s in samples if str(s["id"]) not in held]
    val = [s for s in samples if str(s["id"]) in held]
    tmp = Path(tempfile.mkdtemp(prefix="sage-compare-"))
    (tmp / "train.jsonl").write_text("".join(json.dumps(s) + "\n" for s in train))
    parent = store.create_run("train", {"compare": preset, "methods": methods, "seeds": seeds}, name=f"compare-{preset}")
    out: list[dict[str, Any]] = []
    for seed in range(seeds):
        for m in methods:
            cfg = apply_method(base, m)
            cfg.train.seed = seed
            cfg.data.train = str(tmp / "train.jsonl")
            cfg.data.limit = 0
            cfg.output.dir = ""
            log(f"== method {m} seed {seed}")
            res = run_training(cfg, store, log=log, parent_id=parent, tags=("compare",))
            metrics = dict(res.summary)
            metrics.update({k: v for k, v in res.continual.items() if k in ("forgetting", "backward_transfer")})
            metrics.update(_heldout(cfg, res, val))
            store.log_metrics(res.run_id, {k: v for k, v in metrics.items() if k.startswith("heldout_")}, split="heldout")
            out.append({"run_id": res.run_id, "task": "training_dialogs",
                        "config": {"method": m, "seed": seed, "preset": preset}, "n": len(val), "metrics": metrics})
    store.finish_run(parent, "completed")
    return out


def _heldout(cfg: Any, res: Any, val: list[dict[str, Any]]) -> dict[str, float]:
    """Teacher-forced token accuracy and loss of the trained adapter on held-out dialogs."""
    from peft import PeftModel

    from training.base_models import resolve_base_model
    from training.formatting import encode_all
    from training.trainer import AgentSFTTrainer

    if res.adapter_dir is None:
        return {}
    tr = AgentSFTTrainer(cfg, res.adapter_dir.parent / "eval", log=lambda s: None)
    tr.setup(resolve_base_model(cfg.model.base))
    from transformers import AutoModelForCausalLM

    plain = AutoModelForCausalLM.from_pretrained(str(resolve_base_model(cfg.model.base)), dtype=tr.dtype)
    tr.model = PeftModel.from_pretrained(plain, str(res.adapter_dir)).to(tr.device)
    enc = encode_all(val, tr.tokenizer, max_len=cfg.model.max_seq_len, chat_format=cfg.model.chat_format)
    losses = tr.per_sample_losses(enc)
    return {"heldout_token_accuracy": tr.token_accuracy(enc), "heldout_loss": sum(losses) / max(1, len(losses))}
