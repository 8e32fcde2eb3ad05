"""Typed training configuration loaded from TOML; unknown keys are errors naming the key.

Presets live in `assets/configs/*.toml` (quick_cpu, medium_cpu, full_gpu, ship_gemma, ...).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from core.errors import ConfigError, NotFoundError
from core.paths import assets_dir

# the paper's methods, the one table of them: coreset strategy, continual learning on/off, a short description
# (training/pipeline.py `apply_method`, `train compare`, the training screen's method choices and defaults)
METHOD_SETTINGS: dict[str, dict[str, Any]] = {
    "A": {"strategy": "none", "continual": False, "label": "baseline SFT"},
    "B1": {"strategy": "loss_topk", "continual": False, "label": "coreset: loss"},
    "B2": {"strategy": "diversity", "continual": False, "label": "coreset: diversity"},
    "B3": {"strategy": "hybrid", "continual": False, "label": "coreset: hybrid"},
    "C": {"strategy": "none", "continual": True, "label": "continual replay"},
    "D": {"strategy": "hybrid", "continual": True, "label": "coreset + continual"},
    "R": {"strategy": "random", "continual": False, "label": "random coreset (control, same budget)"},
}
METHODS = tuple(METHOD_SETTINGS)
STRATEGIES = ("none", "loss_topk", "diversity", "hybrid", "random")
PLAN_BACKENDS = ("hf", "llamacpp", "auto")
EVAL_PLANNERS = ("flat", "hierarchical", "hierarchical_per_subgoal")
# the compare tiers (`sage-tui train compare --quick | --medium | --full`) -> preset in assets/configs
TIERS = {"quick": "quick_cpu", "medium": "medium_cpu", "full": "full_gpu"}


@dataclass
class ModelConfig:
    base: str = "bundled-gemma3-270m"  # an HF model directory, "bundled-gemma3-270m" or "tiny" (tests)
    max_seq_len: int = 256
    chat_format: str = "auto"  # auto | gemma | template


@dataclass
class LoraConfig:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=list)  # empty: per-architecture default
    init_adapter: str = ""  # a peft adapter dir (same r / targets) whose weights initialise the LoRA


@dataclass
class DataConfig:
    train: str = ""  # dialog JSONL; empty: the bundled train split
    tasks: list[str] = field(default_factory=list)  # empty: every task type
    limit: int = 0  # use the first N dialogs per task (0 = all)
    plan_views: list[str] = field(default_factory=lambda: ["flat"])  # flat | subgoals | steps (training/prompts_bridge.py)
    seed_shuffle: bool = True
    timing_share: float = 0.0  # > 0: timing samples = this share of the pool, call/no-call balanced (prompts_bridge)


@dataclass
class TrainConfig:
    epochs: int = 1
    max_steps: int = 0  # 0: epochs decide
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 2e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    gradient_checkpointing: bool = False
    dtype: str = "auto"  # auto | fp32 | bf16 | fp16
    device: str = "auto"  # auto | cpu | cuda
    save_every: int = 0  # checkpoint every N optimizer steps (0: only at the end)
    threads: int = 0  # torch CPU threads (0: leave torch's default)
    group_by_length: bool = False  # batches of similar length (less padding); order still seeded


@dataclass
class CoresetConfig:
    strategy: str = "none"
    budget: float = 0  # samples (>=1) or a fraction of the pool (<1)
    loss_ratio: float = 0.6  # hybrid: share of the budget chosen by loss
    embed_model: str = "minilm"  # minilm | tfidf (tests)
    score_batch_size: int = 8
    stratify: str = "none"  # none | task: split the budget over task types (training/coreset.py)


@dataclass
class ContinualConfig:
    enabled: bool = False
    chunk_by: str = "task"  # task | category
    replay_ratio: float = 0.3  # replayed samples per new sample in a chunk
    buffer_size: int = 200
    balanced: bool = True
    prune_strategy: str = "none"  # prune the buffer with a coreset strategy when it is full


@dataclass
class EvalConfig:
    """Evaluation of the trained model on the test splits (training/evaluate.py).

    Sizes are samples per task: 0 = the whole file, -1 = skip the task.
    """

    enabled: bool = False
    split: str = "test"
    tool_selection: int = 40
    tool_retrieval: int = 20  # only where the split has a retrieval file (test_extended, validation)
    timing_judgment: int = 30
    task_planning: int = 12
    limit: int = 0  # > 0: caps every task's sample count (the TUI form's "eval limit")
    max_new_tokens: int = 200
    plan_scored: int = 0  # planning samples scored teacher-forced (gold-plan token accuracy / NLL); 0 = off
    selection_split: str = ""  # per-task split overrides (empty: `split`)
    timing_split: str = ""
    planning_split: str = ""
    # generated plans (`task_planning` > 0): "hf" = greedy HF generate on the model in memory (~27 s a plan on
    # the 2-core CPU); "llamacpp" = the product path: the adapter exported to GGUF, loaded by llama.cpp on the
    # bundled base (guided decoding, ~2.5 s a plan), planned by `planner`; "auto" = llamacpp when the base is
    # the bundled Gemma, else hf
    plan_backend: str = "hf"
    planner: str = "flat"  # flat (the `flat` training view) | hierarchical (views subgoals + steps)
    plan_batch: int = 1  # hf: plans generated per batch (left-padded; > 1 pays off on a GPU)
    prefix_cache: bool = False  # scoring reuses the KV cache of a prompt family's shared prefix (timing, plans)
    plan_threads: int = 0  # llama.cpp threads for generated plans (0: train.threads, else llama.cpp's default)
    # external sets (folders written by `sage-tui data import`: catalog.jsonl + tool_retrieval.jsonl): top-1
    # tool choice of the trained model among the BM25 top-10 of that catalog; metrics `ext/<name>/acc@1` ...
    external: list[str] = field(default_factory=list)
    external_samples: int = 200  # first N rows of each external set (0 = all)


@dataclass
class OutputConfig:
    dir: str = ""  # empty: cache_dir()/runs/<run id>
    export_gguf: bool = False


@dataclass
class Config:
    name: str = "train"
    method: str = "A"
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    coreset: CoresetConfig = field(default_factory=CoresetConfig)
    continual: ContinualConfig = field(default_factory=ContinualConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self, path: str | None = None) -> Config:
        def bad(msg: str, fld: str) -> ConfigError:
            return ConfigError(msg, path=path, field=fld)

        if self.method not in METHODS:
            raise bad(f"unknown method {self.method!r}; expected one of {METHODS}", "method")
        if self.coreset.strategy not in STRATEGIES:
            raise bad(f"unknown strategy {self.coreset.strategy!r}; expected one of {STRATEGIES}", "coreset.strategy")
        if self.coreset.stratify not in ("none", "task"):
            raise bad(f"unknown stratify {self.coreset.stratify!r}; expected none or task", "coreset.stratify")
        if self.continual.prune_strategy not in STRATEGIES:
            raise bad(f"unknown strategy {self.continual.prune_strategy!r}", "continual.prune_strategy")
        if self.coreset.strategy != "none" and self.coreset.budget <= 0:
            raise bad("a coreset strategy needs budget > 0", "coreset.budget")
        if not 0 <= self.coreset.loss_ratio <= 1:
            raise bad("must be between 0 and 1", "coreset.loss_ratio")
        if self.continual.replay_ratio < 0:
            raise bad("must be >= 0", "continual.replay_ratio")
        if self.continual.chunk_by not in ("task", "category"):
            raise bad("expected task or category", "continual.chunk_by")
        for name in ("batch_size", "grad_accum", "epochs"):
            if getattr(self.train, name) < 1:
                raise bad("must be >= 1", f"train.{name}")
        if self.train.lr <= 0:
            raise bad("must be > 0", "train.lr")
        if self.train.dtype not in ("auto", "fp32", "bf16", "fp16"):
            raise bad("expected auto, fp32, bf16 or fp16", "train.dtype")
        if self.train.device not in ("auto", "cpu", "cuda"):
            raise bad("expected auto, cpu or cuda", "train.device")
        if self.model.chat_format not in ("auto", "gemma", "template"):
            raise bad("expected auto, gemma or template", "model.chat_format")
        if self.lora.r < 1:
            raise bad("must be >= 1", "lora.r")
        for fld in ("split", "selection_split", "timing_split", "planning_split"):
            v = getattr(self.eval, fld)
            if v not in ("test", "test_extended", "validation") and not (v == "" and fld != "split"):
                raise bad("expected test, test_extended or validation", f"eval.{fld}")
        if self.eval.plan_backend not in PLAN_BACKENDS:
            raise bad(f"expected one of {PLAN_BACKENDS}", "eval.plan_backend")
        if self.eval.planner not in EVAL_PLANNERS:
            raise bad(f"expected one of {EVAL_PLANNERS}", "eval.planner")
        if not 0 <= self.data.timing_share < 1:
            raise bad("must be >= 0 and < 1", "data.timing_share")
        from training.prompts_bridge import PLAN_VIEWS

        for v in self.data.plan_views:
            if v not in PLAN_VIEWS:
                raise bad(f"unknown planning view {v!r}; expected one of {PLAN_VIEWS}", "data.plan_views")
        return self


def _build(cls: type, data: Any, prefix: str, path: str | None) -> Any:
    if not isinstance(data, dict):
        raise ConfigError("expected a table", path=path, field=prefix or "<root>")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, val in data.items():
        fld = f"{prefix}.{key}" if prefix else key
        if key not in names:
            raise ConfigError(f"unknown key {fld!r}; known keys: {sorted(names)}", path=path, field=fld)
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            kwargs[key] = _build(typ, val, fld, path)
            continue
        kwargs[key] = _coerce(typ, val, fld, path)
    return cls(**kwargs)


def _coerce(typ: Any, val: Any, fld: str, path: str | None) -> Any:
    origin = get_origin(typ)
    if origin is list:
        (inner,) = get_args(typ)
        if not isinstance(val, list) or not all(isinstance(v, inner) for v in val):
            raise ConfigError(f"expected a list of {inner.__name__}", path=path, field=fld)
        return list(val)
    if typ is float and isinstance(val, int) and not isinstance(val, bool):
        return float(val)
    if typ is bool and not isinstance(val, bool):
        raise ConfigError(f"expected bool, got {type(val).__name__}", path=path, field=fld)
    if typ is int and (isinstance(val, bool) or not isinstance(val, int)):
        raise ConfigError(f"expected int, got {type(val).__name__}", path=path, field=fld)
    if not isinstance(val, typ):
        raise ConfigError(f"expected {typ.__name__}, got {type(val).__name__}", path=path, field=fld)
    return val


def config_from_dict(data: dict[str, Any], *, path: str | None = None) -> Config:
    return _build(Config, data, "", path).validate(path)


def load_config(path: str | Path) -> Config:
    """Load a TOML config file (or a preset name from assets/configs)."""
    p = Path(path)
    if not p.exists():
        preset = assets_dir() / "configs" / f"{path}.toml"
        if preset.exists():
            p = preset
        else:
            raise NotFoundError(f"config file {str(path)!r} not found", hint=f"presets: {', '.join(preset_names())}")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(p)) from None
    return config_from_dict(data, path=str(p))


def preset_names() -> list[str]:
    return sorted(q.stem for q in (assets_dir() / "configs").glob("*.toml"))


def dump_toml(cfg: Config) -> str:
    """Serialise a config back to TOML (saved next to each checkpoint)."""

    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return repr(v)

    d = cfg.to_dict()
    lines = [f"{k} = {val(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"\n[{k}]")
            lines += [f"{kk} = {val(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"
