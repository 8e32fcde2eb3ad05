"""The workstation's user config: a TOML file found through platformdirs.

```toml
[general]
db = "~/runs.db"          # run store (overridden by --db)
default_model = "gemma3-270m"
selector = "two_stage"
planner = "hierarchical"
timing = "hybrid"

[keymap]                  # binding id -> key(s); see docs/TUI.md
"app.help" = "f1"
"dashboard.compare" = "ctrl+o"
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.paths import config_path

GENERAL_KEYS = {"db": str, "default_model": str, "selector": str, "planner": str, "timing": str}


@dataclass
class UIConfig:
    """Settings of the Textual app (all optional)."""

    db: Path | None = None
    default_model: str | None = None
    selector: str = "two_stage"
    planner: str = "hierarchical"
    timing: str = "hybrid"
    keymap: dict[str, str] = field(default_factory=dict)
    source: Path | None = None


def parse_config(data: dict[str, Any], *, path: Path | None = None) -> UIConfig:
    """Validate a decoded TOML document; unknown keys and wrong types raise ConfigError."""
    where = str(path) if path else None
    cfg = UIConfig(source=path)
    for section in data:
        if section not in ("general", "keymap"):
            raise ConfigError("unknown section (expected [general] or [keymap])", path=where, field=section)
    general = data.get("general", {})
    if not isinstance(general, dict):
        raise ConfigError("must be a table", path=where, field="general")
    for key, value in general.items():
        if key not in GENERAL_KEYS:
            raise ConfigError(f"unknown key (expected one of {sorted(GENERAL_KEYS)})", path=where, field=f"general.{key}")
        if not isinstance(value, GENERAL_KEYS[key]):
            raise ConfigError("must be a string", path=where, field=f"general.{key}")
    if "db" in general:
        cfg.db = Path(general["db"]).expanduser()
    for key in ("default_model", "selector", "planner", "timing"):
        if key in general:
            setattr(cfg, key, general[key])
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict):
        raise ConfigError("must be a table of binding id = key", path=where, field="keymap")
    for bid, keys in keymap.items():
        if not isinstance(keys, str) or not keys.strip():
            raise ConfigError("key must be a non-empty string such as 'ctrl+o' or 'f2,ctrl+2'", path=where, field=f"keymap.{bid}")
    cfg.keymap = dict(keymap)
    return cfg


def load_config(path: Path | None = None) -> UIConfig:
    """Read the config file (default: platformdirs user config dir); a missing file means defaults."""
    p = path or config_path()
    if not p.exists():
        return UIConfig()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(p)) from None
    return parse_config(data, path=p)
