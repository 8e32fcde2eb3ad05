"""GGUF LoRA export round trip in llama.cpp: the adapter changes the output, scale 0 is the base;
an adapter for another architecture is rejected."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from core.errors import ModelError
from training.base_models import bundled_gguf_path
from training.lora_gguf import export_lora_gguf

PROMPT = "<start_of_turn>user\nName a color.<end_of_turn>\n<start_of_turn>model\n"


def _adapter(d, shapes, n_layers=18):
    rng = np.random.default_rng(0)
    t = {}
    for i in range(n_layers):
        for proj, (inp, out) in shapes.items():
            pre = f"base_model.model.model.layers.{i}.self_attn.{proj}"
            t[f"{pre}.lora_A.weight"] = rng.normal(0, 0.5, (8, inp)).astype(np.float32)
            t[f"{pre}.lora_B.weight"] = rng.normal(0, 0.5, (out, 8)).astype(np.float32)
    d.mkdir(parents=True, exist_ok=True)
    save_file(t, str(d / "adapter_model.safetensors"))
    (d / "adapter_config.json").write_text(json.dumps({"r": 8, "lora_alpha": 16, "peft_type": "LORA"}))
    return d


def _generate(gguf, lora=None, scale=1.0):
    from llama_cpp import Llama

    kw = {"model_path": str(gguf), "n_ctx": 128, "n_threads": 1, "verbose": False, "seed": 0}
    if lora:
        kw.update(lora_path=str(lora), lora_scale=scale)
    m = Llama(**kw)
    try:
        return m(PROMPT, max_tokens=8, temperature=0)["choices"][0]["text"]
    finally:
        m.close()


def test_round_trip_in_llama_cpp(tmp_path):
    base = bundled_gguf_path()
    ad = _adapter(tmp_path / "ad", {"q_proj": (640, 1024), "v_proj": (640, 256)})
    out = export_lora_gguf(ad, base, tmp_path / "a.gguf")
    ref = _generate(base)
    assert _generate(base, out, 1.0) != ref
    assert _generate(base, out, 0.0) == ref


def test_other_architecture_rejected(tmp_path):
    ad = _adapter(tmp_path / "ad", {"q_proj": (32, 32)}, n_layers=2)  # a tiny-llama adapter
    with pytest.raises(ModelError, match="another model"):
        export_lora_gguf(ad, bundled_gguf_path(), tmp_path / "a.gguf")
