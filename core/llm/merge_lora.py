"""Merge a GGUF LoRA adapter into its GGUF base model: one file, no per-call adapter cost in llama.cpp.

llama.cpp applies a LoRA at every forward pass as two extra small matmuls per adapted weight, and those
cannot use the repacked CPU layout of the base weights ("cannot use buft 'CPU_REPACK', fallback to CPU"):
on the shipped Gemma adapter that costs 6-22 ms per forward call (docs/PLANNING.md). Merging writes
`W' = W + scale * B @ A` (scale = alpha / rank, as llama.cpp applies it) for every adapted tensor, with
gguf-py only (no compiled tool): each adapted tensor is dequantised to float32, the delta added, and the
result re-quantised as Q8_0 (finer than the base's Q4_K / Q5_0, so the merge adds almost no rounding
error of its own; the other tensors are copied byte for byte). The merged file records both inputs'
SHA-256 in `sage_tui.merged_from`, so a cached merge is reused only for the same base and adapter.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from core.errors import DataError, ModelError

MERGED_TYPE = "Q8_0"
META_KEY = "sage_tui.merged_from"
MERGE_ENV = "SAGE_TUI_MERGE_LORA"  # 1 / 0: merge every LoRA / none; unset: only the shipped adapter
_MERGE_LOCK = threading.Lock()


def _sha256(path: Path) -> str:
    from core.filehash import file_sha256

    return file_sha256(path)


def _reader(path: Path, what: str) -> Any:
    import gguf

    try:
        return gguf.GGUFReader(str(path))
    except FileNotFoundError:
        raise ModelError(f"{what} not found: {path}") from None
    except Exception as exc:  # gguf-py raises ValueError / struct errors on a file that is not GGUF
        raise DataError(f"not a GGUF file ({exc})", path=str(path)) from None


def _field(reader: Any, name: str) -> Any:
    f = reader.fields.get(name)
    return None if f is None else f.contents()


def lora_pairs(lora: Any) -> tuple[dict[str, tuple[Any, Any]], float]:
    """{base tensor name: (lora_a tensor, lora_b tensor)} and alpha of a GGUF LoRA adapter."""
    if _field(lora, "adapter.type") != "lora":
        raise DataError("not a GGUF LoRA adapter (adapter.type != 'lora')", field="adapter.type")
    alpha = float(_field(lora, "adapter.lora.alpha") or 0.0)
    a, b = {}, {}
    for t in lora.tensors:
        if t.name.endswith(".lora_a"):
            a[t.name[: -len(".lora_a")]] = t
        elif t.name.endswith(".lora_b"):
            b[t.name[: -len(".lora_b")]] = t
    if set(a) != set(b):
        missing = sorted(set(a) ^ set(b))
        raise DataError(f"LoRA tensors without their pair: {missing[:3]}", field="tensors")
    if not a:
        raise DataError("the LoRA adapter holds no lora_a / lora_b tensors", field="tensors")
    return {k: (a[k], b[k]) for k in a}, alpha


def merged_tensor(base_t: Any, a_t: Any, b_t: Any, alpha: float) -> Any:
    """Float32 W + scale * B @ A for one tensor (numpy shapes: W (out, in), A (r, in), B (out, r))."""
    import numpy as np
    from gguf import quants

    w = quants.dequantize(base_t.data, base_t.tensor_type).astype(np.float32)
    a = quants.dequantize(a_t.data, a_t.tensor_type).astype(np.float32)
    b = quants.dequantize(b_t.data, b_t.tensor_type).astype(np.float32)
    rank = a.shape[0]
    if a.shape[1] != w.shape[1] or b.shape != (w.shape[0], rank):
        raise DataError(f"LoRA shapes {tuple(a.shape)} / {tuple(b.shape)} do not fit {base_t.name} {tuple(w.shape)}",
                        field=base_t.name)
    scale = alpha / rank if alpha else 1.0
    return w + scale * (b @ a)


def merge_lora(base: str | Path, lora: str | Path, out: str | Path) -> dict[str, Any]:
    """Write base + LoRA merged to `out` (atomically); returns what was merged. Q8_0 for merged tensors."""
    import gguf
    import numpy as np
    from gguf import quants

    base, lora, out = Path(base), Path(lora), Path(out)
    rb, rl = _reader(base, "base model"), _reader(lora, "LoRA adapter")
    pairs, alpha = lora_pairs(rl)
    names = {t.name for t in rb.tensors}
    unknown = sorted(set(pairs) - names)
    if unknown:
        raise DataError(f"the adapter changes tensors the base model lacks: {unknown[:3]}", path=str(lora))
    arch = _field(rb, gguf.Keys.General.ARCHITECTURE)
    qtype = getattr(gguf.GGMLQuantizationType, MERGED_TYPE)
    provenance = {"base": base.name, "base_sha256": _sha256(base), "lora": lora.name,
                  "lora_sha256": _sha256(lora), "alpha": alpha, "merged_type": MERGED_TYPE,
                  "tensors": len(pairs)}
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".part", dir=out.parent)
    os.close(fd)
    try:
        w = gguf.GGUFWriter(tmp, arch, endianess=rb.endianess)
        for field in rb.fields.values():
            if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
                continue
            vt = field.types[0]
            sub = field.types[-1] if vt == gguf.GGUFValueType.ARRAY else None
            w.add_key_value(field.name, field.contents(), vt, sub_type=sub)
        w.add_string(META_KEY, json.dumps(provenance, sort_keys=True))
        data = {}
        for t in rb.tensors:
            if t.name in pairs:
                a_t, b_t = pairs[t.name]
                q = quants.quantize(merged_tensor(t, a_t, b_t, alpha), qtype)
                data[t.name] = (q, qtype)
                w.add_tensor_info(t.name, q.shape, q.dtype, q.nbytes, qtype)
            else:
                data[t.name] = (t.data, t.tensor_type)
                w.add_tensor_info(t.name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        for t in rb.tensors:
            w.write_tensor_data(np.ascontiguousarray(data[t.name][0]), tensor_endianess=rb.endianess)
        w.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return provenance


def merged_provenance(path: str | Path) -> dict[str, Any] | None:
    """The `sage_tui.merged_from` record of a merged file (None when absent or unreadable)."""
    try:
        raw = _field(_reader(Path(path), "merged model"), META_KEY)
        return json.loads(raw) if raw else None
    except (DataError, ModelError, ValueError):
        return None


def merge_default(model: Any) -> bool:
    """Whether a backend merges this model's LoRA when not told: `$SAGE_TUI_MERGE_LORA` (1 / 0) decides if set,
    else only the shipped adapter is merged (built once, ~20 s; measured 19 % faster plans, bench/planning.py).
    Other adapters (freshly trained ones, the TUI's adapter picker) are applied at run time: no merge wait."""
    lora = getattr(model, "lora", None)
    if not lora:
        return False
    env = os.environ.get(MERGE_ENV, "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    from core.llm.models import sage_adapter_path

    try:
        return Path(lora).resolve() == sage_adapter_path().resolve()
    except OSError:
        return False


def merged_model_path(base: str | Path, lora: str | Path, cache: Path | None = None, *, build: bool = True) -> Path:
    """The merged file of this base + adapter in the cache (built on first use, ~20 s for Gemma 270M;
    `build=False` only names it).

    Named by both inputs' SHA-256, so a changed adapter or base gets a new merge; a file whose recorded
    provenance does not match (a torn copy, a hand edit) is rebuilt."""
    from core.paths import cache_dir

    base, lora = Path(base), Path(lora)
    for p, what in ((base, "base model"), (lora, "LoRA adapter")):
        if not p.is_file():
            raise ModelError(f"{what} not found: {p}")
    sb, sl = _sha256(base), _sha256(lora)
    root = cache or (cache_dir() / "models" / "merged")
    out = root / f"{base.stem}+lora-{sl[:12]}-base-{sb[:12]}-{MERGED_TYPE.lower()}.gguf"
    if not build:
        return out
    with _MERGE_LOCK:
        prov = merged_provenance(out) if out.is_file() else None
        if not prov or prov.get("base_sha256") != sb or prov.get("lora_sha256") != sl:
            merge_lora(base, lora, out)
    return out
