"""The training form's values <-> a training Config (validated by training.config) and the command line."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from training.config import METHOD_SETTINGS
from training.config import STRATEGIES as CONFIG_STRATEGIES

# the methods the form offers (R, the random-coreset control, runs through `sage-tui train compare`)
FORM_METHODS = ("A", "B1", "B2", "B3", "C", "D")
METHOD_CHOICES = [(f"{m:<2} {METHOD_SETTINGS[m]['label']}", m) for m in FORM_METHODS]
STRATEGIES = list(CONFIG_STRATEGIES)
# what each method means for the form (the user can still change the fields afterwards)
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    m: {"strategy": METHOD_SETTINGS[m]["strategy"], "continual": METHOD_SETTINGS[m]["continual"]} for m in FORM_METHODS
}

# form field id -> (config section or None, key, type)
FIELDS: dict[str, tuple[str | None, str, type]] = {
    "t-name": (None, "name", str),
    "t-base": ("model", "base", str),
    "t-dataset": ("data", "train", str),
    "t-limit": ("data", "limit", int),
    "t-budget": ("coreset", "budget", float),
    "t-ratio": ("coreset", "loss_ratio", float),
    "t-buffer": ("continual", "buffer_size", int),
    "t-replay": ("continual", "replay_ratio", float),
    "t-r": ("lora", "r", int),
    "t-alpha": ("lora", "alpha", int),
    "t-dropout": ("lora", "dropout", float),
    "t-epochs": ("train", "epochs", int),
    "t-steps": ("train", "max_steps", int),
    "t-batch": ("train", "batch_size", int),
    "t-lr": ("train", "lr", float),
    "t-seed": ("train", "seed", int),
    "t-eval-limit": ("eval", "limit", int),
}


def config_to_form(cfg: Any) -> dict[str, str]:
    """Field id -> text for a training Config."""
    d = cfg.to_dict()
    out = {}
    for fid, (section, key, _typ) in FIELDS.items():
        v = d[key] if section is None else d[section][key]
        out[fid] = f"{v:g}" if isinstance(v, float) else str(v)
    out["t-method"] = d["method"]
    out["t-strategy"] = d["coreset"]["strategy"]
    out["t-continual"] = "on" if d["continual"]["enabled"] else "off"
    return out


def form_to_dict(values: dict[str, str], base: dict[str, Any]) -> dict[str, Any]:
    """Apply the form's text values over a base config dict; ConfigError names the bad field."""
    from core.errors import ConfigError

    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for fid, (section, key, typ) in FIELDS.items():
        raw = values.get(fid, "").strip()
        label = key if section is None else f"{section}.{key}"
        if raw == "" and typ is not str:
            continue
        try:
            val = typ(raw)
        except ValueError:
            raise ConfigError(f"expected {typ.__name__}, got {raw!r}", path="training form", field=label) from None
        if section is None:
            d[key] = val
        else:
            d[section][key] = val
    d["method"] = values.get("t-method", d.get("method", "A"))
    d["coreset"]["strategy"] = values.get("t-strategy", d["coreset"]["strategy"])
    d["continual"]["enabled"] = values.get("t-continual", "off") == "on"
    return d


def build_config(values: dict[str, str], preset: str | None) -> Any:
    """A validated training Config from a preset (or defaults) plus the form's values."""
    from training.config import Config, config_from_dict, load_config

    base = load_config(preset) if preset else Config()
    return config_from_dict(form_to_dict(values, base.to_dict()), path="training form")


def write_config(cfg: Any, directory: Path) -> Path:
    from training.config import dump_toml

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}.toml"
    path.write_text(dump_toml(cfg))
    return path


def train_command(config_path: Path | str, db: Path | None, run_id: str | None = None) -> list[str]:
    """`sage-tui train run --config FILE --detach`: starts the job in its own process and returns."""
    cmd = [sys.executable, "-m", "sage_tui", "train", "run", "--config", str(config_path), "--detach"]
    if run_id:
        cmd += ["--run-id", run_id]
    return cmd + (["--db", str(db)] if db else [])


def shown_command(cmd: list[str]) -> str:
    """The command as a person would type it."""
    shown = list(cmd[3:])
    if "--run-id" in shown:
        i = shown.index("--run-id")
        del shown[i : i + 2]
    return "sage-tui " + " ".join(shown)
