"""AgentSFTTrainer: a torchtune-shaped LoRA SFT recipe (setup / train / save_checkpoint / cleanup).

* LoRA through peft (rank/alpha/dropout/targets from the config; per-architecture defaults).
* Loss only on assistant tokens, logits only at those positions (training/loss.py).
* Dynamic padding, gradient accumulation, cosine schedule with warmup, optional gradient
  checkpointing, bf16 on a GPU that supports it, fp32 on CPU.
* Every checkpoint holds the adapter, optimizer, scheduler, the config (TOML) and the recipe
  state (step, epoch, seed, data hash); `setup()` resumes from the last one.
* One parseable log line per optimizer step, and the same values streamed to the RunStore.
"""

from __future__ import annotations

import json
import math
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ModelError, NotFoundError, TrainingError
from training.config import Config, dump_toml
from training.formatting import Encoded, collate

DEFAULT_TARGETS = {
    "gpt2": ["c_attn", "c_proj"],
    "gpt_neox": ["query_key_value", "dense"],
    "phi": ["q_proj", "k_proj", "v_proj", "dense"],
}
STD_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
LogFn = Callable[[str], None]


def pick_device_dtype(device: str = "auto", dtype: str = "auto") -> tuple[str, Any]:
    """cuda when present (bf16 if the GPU supports it), otherwise cpu with fp32."""
    import torch

    dev = device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    if dev == "cuda" and not torch.cuda.is_available():
        raise TrainingError("train.device = 'cuda' but no CUDA GPU is available")
    if dtype == "auto":
        if dev == "cuda" and torch.cuda.is_bf16_supported():
            return dev, torch.bfloat16
        return dev, torch.float32
    return dev, {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]


def peak_memory_mb(device: str) -> float:
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def data_hash(encoded: list[Encoded]) -> str:
    import hashlib

    h = hashlib.sha256()
    for e in encoded:
        h.update(e.sample_id.encode())
        h.update(b"\0")
        h.update(",".join(map(str, e.input_ids)).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def cosine_lambda(warmup: int, total: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        prog = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, prog)))

    return f


BASE_CACHE: dict[tuple[str, str], tuple[Any, Any]] = {}  # (model dir, dtype) -> (tokenizer, pristine base)


def load_base(model_dir: Path, dtype: Any, *, reuse: bool = False) -> tuple[Any, Any]:
    """(tokenizer, base model). With `reuse`, the first load is kept (one entry) and a deep copy is
    returned, so training one copy never touches the kept weights."""
    import copy

    from transformers import AutoModelForCausalLM, AutoTokenizer

    key = (str(Path(model_dir).resolve()), str(dtype))
    if reuse and key in BASE_CACHE:
        tok, base = BASE_CACHE[key]
        return tok, copy.deepcopy(base)
    try:
        tok = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{model_dir}: cannot load the base model: {exc}") from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    if not reuse:
        return tok, model
    model.requires_grad_(False)
    BASE_CACHE.clear()
    BASE_CACHE[key] = (tok, model)
    return tok, copy.deepcopy(model)


@dataclass
class RecipeState:
    step: int = 0  # optimizer steps done
    epoch: int = 0
    batch_in_epoch: int = 0  # micro-batches consumed in the current epoch
    seed: int = 0
    data_hash: str = ""
    total_steps: int = 0
    tokens_seen: int = 0
    train_seconds: float = 0.0
    model_type: str = ""
    history: list[dict[str, float]] = field(default_factory=list)


class AgentSFTTrainer:
    """LoRA SFT recipe. `setup()` -> `train(data)` -> `save_checkpoint()` -> `cleanup()`."""

    def __init__(
        self,
        cfg: Config,
        out_dir: str | Path,
        *,
        store: Any = None,
        run_id: str | None = None,
        log: LogFn | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.store = store
        self.run_id = run_id
        self.log = log or (lambda line: print(line, flush=True))
        self.cancel = cancel or threading.Event()
        self.state = RecipeState(seed=cfg.train.seed)
        self.model: Any = None
        self.tokenizer: Any = None
        self.optimizer: Any = None
        self.scheduler: Any = None
        self.device = "cpu"
        self.dtype: Any = None
        self.model_dir: Path | None = None
        self.batch_log: list[list[str]] | None = None  # set to [] to record the ids of every batch

    # ---- setup -------------------------------------------------------------------------------
    @property
    def ckpt_dir(self) -> Path:
        return self.out_dir / "checkpoint-last"

    def setup(self, model_dir: str | Path, *, reuse_base: bool = False) -> None:
        """Load tokenizer + base model, wrap it with a fresh LoRA, move it to the device.

        `reuse_base`: keep the loaded base model in this process (`BASE_CACHE`) and give every
        later setup a deep copy of it, so `compare` loads the weights once for all its methods;
        the LoRA weights are new each time (same seed -> same initial adapter as a cold load)."""
        import torch
        from peft import LoraConfig, get_peft_model

        from training.base_models import model_architecture

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        t = self.cfg.train
        if t.threads:
            torch.set_num_threads(t.threads)
        torch.manual_seed(t.seed)
        self.device, self.dtype = pick_device_dtype(t.device, t.dtype)
        self.model_dir = Path(model_dir)
        arch = model_architecture(self.model_dir)
        self.state.model_type = arch
        self.tokenizer, model = load_base(self.model_dir, self.dtype, reuse=reuse_base)
        targets = self.cfg.lora.target_modules or DEFAULT_TARGETS.get(arch, STD_TARGETS)
        names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        missing = [m for m in targets if m not in names]
        if missing:
            raise ModelError(f"LoRA target modules {missing} do not exist in a {arch!r} model", hint="set lora.target_modules")
        lcfg = LoraConfig(
            r=self.cfg.lora.r,
            lora_alpha=self.cfg.lora.alpha,
            lora_dropout=self.cfg.lora.dropout,
            target_modules=targets,
            task_type="CAUSAL_LM",
        )
        if t.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
        model.config.use_cache = False
        torch.manual_seed(t.seed)  # the LoRA init does not depend on how the base was obtained
        self.model = get_peft_model(model, lcfg).to(self.device)
        if self.cfg.lora.init_adapter:
            self._load_init_adapter(Path(self.cfg.lora.init_adapter).expanduser())
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay)
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()

    def _load_init_adapter(self, path: Path) -> None:
        """Start from an existing adapter's LoRA weights (same r and target modules; new optimizer/schedule)."""
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        f = path / "adapter_model.safetensors"
        if not f.exists():
            raise NotFoundError(f"lora.init_adapter: {f} not found")
        cfg_p = path / "adapter_config.json"
        if cfg_p.exists():
            ac = json.loads(cfg_p.read_text())
            if ac.get("r") not in (None, self.cfg.lora.r):
                raise ModelError(f"lora.init_adapter {path} has r={ac.get('r')}, this config r={self.cfg.lora.r}")
        res = set_peft_model_state_dict(self.model, load_file(str(f)))
        unexpected = list(getattr(res, "unexpected_keys", []) or [])
        if unexpected:
            raise ModelError(f"lora.init_adapter {path} does not fit this model: {unexpected[:3]}")
        self.log(f"initialised LoRA weights from {path}")

    def plan(self, n_samples: int, *, epochs: int | None = None, max_steps: int | None = None) -> int:
        """Schedule the next `train()` over `n_samples` per epoch (cosine with warmup).

        Called once for plain SFT; once per chunk in continual learning (a warm restart).
        Returns the number of optimizer steps planned.
        """
        import torch

        t = self.cfg.train
        per_epoch = math.ceil(math.ceil(n_samples / t.batch_size) / t.grad_accum)
        steps = max_steps or t.max_steps or per_epoch * (epochs or t.epochs)
        self.state.total_steps = self.state.step + steps
        self.state.epoch = 0
        self.state.batch_in_epoch = 0
        warm = int(round(t.warmup_ratio * steps))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, cosine_lambda(warm, steps))
        return steps

    # ---- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        import torch

        tmp = self.out_dir / "checkpoint-tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(tmp))
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}, tmp / "optim.pt")
        (tmp / "state.json").write_text(json.dumps(self.state.__dict__, indent=1))
        (tmp / "config.toml").write_text(dump_toml(self.cfg))
        # swap without a window where no complete checkpoint exists (a kill -9 may land anywhere)
        import shutil

        prev = self.out_dir / "checkpoint-prev"
        if self.ckpt_dir.exists():
            if prev.exists():
                shutil.rmtree(prev)
            self.ckpt_dir.rename(prev)
        tmp.rename(self.ckpt_dir)
        shutil.rmtree(prev, ignore_errors=True)
        return self.ckpt_dir

    def try_resume(self, data_hash_: str) -> bool:
        """Load the last checkpoint when it matches this data; False when there is none."""
        import torch
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        ckpt = next((c for c in (self.ckpt_dir, self.out_dir / "checkpoint-prev") if (c / "state.json").exists()), None)
        if ckpt is None:
            return False
        if ckpt != self.ckpt_dir:  # killed between the two renames of save_checkpoint: the previous one is complete
            ckpt.rename(self.ckpt_dir)
        sp = self.ckpt_dir / "state.json"
        st = json.loads(sp.read_text())
        if st.get("model_type") and st["model_type"] != self.state.model_type:
            raise ModelError(
                f"{self.ckpt_dir}: checkpoint is for a {st['model_type']!r} model, not {self.state.model_type!r}"
            )
        if st.get("data_hash") and st["data_hash"] != data_hash_:
            raise TrainingError(f"{self.ckpt_dir}: checkpoint was trained on other data (hash {st['data_hash']})")
        weights = load_file(str(self.ckpt_dir / "adapter_model.safetensors"))
        set_peft_model_state_dict(self.model, weights)
        opt = torch.load(self.ckpt_dir / "optim.pt", weights_only=False)
        self.optimizer.load_state_dict(opt["optimizer"])
        self.scheduler.load_state_dict(opt["scheduler"])
        self.state = RecipeState(**st)
        return True

    # ---- training ------------------------------------------------------------------------------
    def _order(self, data: list[Encoded], epoch: int) -> list[int]:
        """Seeded shuffle; with `group_by_length`, each batch holds samples of similar length
        (sorted within windows of 16 batches, then the batches are shuffled)."""
        import random

        rng = random.Random(self.cfg.train.seed * 1_000_003 + epoch)
        idx = list(range(len(data)))
        rng.shuffle(idx)
        if not self.cfg.train.group_by_length:
            return idx
        bs = self.cfg.train.batch_size
        win = 16 * bs
        batches = []
        for w in range(0, len(idx), win):
            part = sorted(idx[w: w + win], key=lambda i: len(data[i].input_ids))
            batches += [part[i: i + bs] for i in range(0, len(part), bs)]
        rng.shuffle(batches)
        return [i for b in batches for i in b]

    def train(self, data: list[Encoded], *, max_steps: int | None = None) -> str:
        """Run optimizer steps over `data` until the plan is done (or `max_steps` more steps).

        Returns "completed", or "cancelled" after saving a checkpoint when `cancel` was set.
        """
        import torch

        from training.loss import supervised_loss

        if not data:
            raise TrainingError("no training samples (empty dataset, or every sample truncated away)")
        t = self.cfg.train
        st = self.state
        pad = self.tokenizer.pad_token_id
        stop_at = st.total_steps if max_steps is None else min(st.total_steps, st.step + max_steps)
        self.model.train()
        n_batches = math.ceil(len(data) / t.batch_size)
        t_start = time.perf_counter() - st.train_seconds
        while st.step < stop_at:
            order = self._order(data, st.epoch)
            batches = [order[i : i + t.batch_size] for i in range(0, len(order), t.batch_size)]
            while st.batch_in_epoch < n_batches and st.step < stop_at:
                t0 = time.perf_counter()
                tokens = 0
                loss_sum = 0.0
                micro = batches[st.batch_in_epoch : st.batch_in_epoch + t.grad_accum]
                for b in micro:
                    if self.batch_log is not None:
                        self.batch_log.append([data[i].sample_id for i in b])
                    batch = {k: v.to(self.device) for k, v in collate([data[i] for i in b], pad).items()}
                    with torch.autocast(self.device, dtype=self.dtype, enabled=self.device == "cuda" and self.dtype != torch.float32):
                        loss = supervised_loss(self.model, batch)
                    (loss / len(micro)).backward()
                    loss_sum += float(loss.detach()) / len(micro)
                    tokens += int(batch["attention_mask"].sum())
                if t.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], t.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                st.batch_in_epoch += len(micro)
                st.step += 1
                st.tokens_seen += tokens
                dt = time.perf_counter() - t0
                st.train_seconds = time.perf_counter() - t_start
                self._log_step(loss_sum, tokens / dt if dt > 0 else 0.0, st.train_seconds)
                if t.save_every and st.step % t.save_every == 0:
                    self.save_checkpoint()
                if self.cancel.is_set():
                    self.save_checkpoint()
                    return "cancelled"
            if st.batch_in_epoch >= n_batches:
                st.epoch += 1
                st.batch_in_epoch = 0
        return "completed"

    def _log_step(self, loss: float, tps: float, elapsed: float) -> None:
        st = self.state
        lr = self.scheduler.get_last_lr()[0]
        mem = peak_memory_mb(self.device)
        self.log(
            f"step={st.step}/{st.total_steps} epoch={st.epoch} loss={loss:.4f} lr={lr:.3e} "
            f"tokens_per_second={tps:.1f} elapsed={elapsed:.1f}s peak_memory_mb={mem:.0f}"
        )
        rec = {"loss": loss, "lr": lr, "tokens_per_second": tps, "peak_memory_mb": mem}
        st.history.append({"step": st.step, **rec})
        if self.store is not None and self.run_id:
            self.store.log_metrics(self.run_id, rec, split="train", step=st.step)

    # ---- scoring / export ------------------------------------------------------------------------
    def per_sample_losses(self, data: list[Encoded], batch_size: int = 8) -> list[float]:
        """Mean assistant-token loss per sample (no grad, length-sorted batches)."""
        import torch

        from training.loss import supervised_loss

        self.model.eval()
        out = [0.0] * len(data)
        order = sorted(range(len(data)), key=lambda i: len(data[i].input_ids))
        with torch.no_grad():
            for i in range(0, len(order), batch_size):
                idx = order[i : i + batch_size]
                batch = {k: v.to(self.device) for k, v in collate([data[j] for j in idx], self.tokenizer.pad_token_id).items()}
                vals = supervised_loss(self.model, batch, per_sample=True).float().tolist()
                for j, v in zip(idx, vals, strict=True):
                    out[j] = v
        self.model.train()
        return out

    def token_accuracy(self, data: list[Encoded], batch_size: int = 8) -> float:
        """Teacher-forced next-token accuracy on assistant tokens (a cheap, real accuracy)."""
        import torch

        from training.loss import supervised_logits

        self.model.eval()
        hit = tot = 0
        with torch.no_grad():
            for i in range(0, len(data), batch_size):
                batch = {k: v.to(self.device) for k, v in collate(data[i : i + batch_size], self.tokenizer.pad_token_id).items()}
                logits, target, _ = supervised_logits(self.model, batch)
                hit += int((logits.argmax(-1) == target).sum())
                tot += int(target.numel())
        self.model.train()
        return hit / tot if tot else 0.0

    def save_adapter(self, path: str | Path) -> Path:
        p = Path(path)
        self.model.save_pretrained(str(p))
        (p / "config.toml").write_text(dump_toml(self.cfg))
        return p

    def summary(self) -> dict[str, float]:
        st = self.state
        return {
            "train_seconds": st.train_seconds,
            "tokens_per_second": st.tokens_seen / st.train_seconds if st.train_seconds else 0.0,
            "peak_memory_mb": peak_memory_mb(self.device),
            "steps": float(st.step),
            "final_loss": st.history[-1]["loss"] if st.history else float("nan"),
        }

    def cleanup(self) -> None:
        import gc

        self.model = None
        self.optimizer = None
        gc.collect()
