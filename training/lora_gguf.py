"""Export a peft LoRA adapter as a GGUF LoRA adapter that llama.cpp loads (`--lora`).

Written with the `gguf` package's GGUFWriter (the llama.cpp converter needs a newer gguf than
PyPI has). Tensor names come from gguf's HF->GGUF name map for the base GGUF's architecture;
every LoRA pair is checked against the base tensor's shape, so an adapter trained for another
architecture is rejected with a ModelError instead of producing a file llama.cpp refuses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.errors import ModelError, NotFoundError

NO_PERMUTE = {"gemma3", "gemma2", "gemma", "qwen2", "qwen3", "phi3"}
_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<mod>.+)\.lora_(?P<ab>[AB])(?:\.weight)?$")


def _base_shapes(base_gguf: Path) -> tuple[str, int, dict[str, tuple[int, ...]]]:
    from gguf import GGUFReader

    r = GGUFReader(str(base_gguf))
    field = r.fields["general.architecture"]
    arch = bytes(field.parts[field.data[0]]).decode()
    blk = r.fields.get(f"{arch}.block_count")
    n_blocks = int(blk.parts[blk.data[0]][0]) if blk else 0
    shapes = {t.name: tuple(int(x) for x in t.shape) for t in r.tensors}  # GGUF order: (in, out)
    return arch, n_blocks, shapes


def export_lora_gguf(adapter_dir: str | Path, base_gguf: str | Path, output: str | Path) -> Path:
    """Write `output` (GGUF LoRA) from a peft adapter directory trained on `base_gguf`'s model."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    adapter_dir, base_gguf, output = Path(adapter_dir), Path(base_gguf), Path(output)
    cfg_p, w_p = adapter_dir / "adapter_config.json", adapter_dir / "adapter_model.safetensors"
    if not cfg_p.exists() or not w_p.exists():
        raise NotFoundError(f"{adapter_dir}: not a peft adapter (needs adapter_config.json + adapter_model.safetensors)")
    if not base_gguf.exists():
        raise NotFoundError(f"base GGUF {base_gguf} not found")
    acfg = json.loads(cfg_p.read_text())
    arch, n_blocks, shapes = _base_shapes(base_gguf)
    if arch not in NO_PERMUTE:
        raise ModelError(f"GGUF LoRA export supports {sorted(NO_PERMUTE)}, not {arch!r}")
    model_arch = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    names = gguf.get_tensor_name_map(model_arch, n_blocks)
    weights = load_file(str(w_p))
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, arr in weights.items():
        m = _KEY.match(key)
        if not m:
            raise ModelError(f"{w_p}: unexpected tensor {key!r} (only LoRA A/B weights can be exported)")
        pairs.setdefault(m["mod"], {})[m["ab"]] = arr.astype(np.float32)
    w = gguf.GGUFWriter(str(output), arch)
    w.add_string("general.type", "adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", float(acfg.get("lora_alpha", acfg.get("r", 8))))
    for mod, ab in sorted(pairs.items()):
        if set(ab) != {"A", "B"}:
            raise ModelError(f"{w_p}: incomplete LoRA pair for {mod}")
        gname = names.get_name(mod + ".weight", try_suffixes=(".weight",))
        if gname is None:
            raise ModelError(f"{mod}: no {arch} tensor for this module (adapter from another architecture?)")
        base_shape = shapes.get(gname)
        a, b = ab["A"], ab["B"]  # A: [r, in], B: [out, r]
        if base_shape is None or (a.shape[1], b.shape[0]) != base_shape[:2]:
            raise ModelError(
                f"{mod}: LoRA shape (in={a.shape[1]}, out={b.shape[0]}) does not match base tensor {gname} "
                f"{base_shape}; the adapter was trained for another model"
            )
        w.add_tensor(gname[: -len(".weight")] + ".weight.lora_a", a)
        w.add_tensor(gname[: -len(".weight")] + ".weight.lora_b", b)
    output.parent.mkdir(parents=True, exist_ok=True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return output
