"""The workstation's user config: a TOML file found through platformdirs.

```toml
[general]
db = "~/runs.db"          # run store (overridden by --db)
default_model = "gemma3-270m"
selector = "two_stage"
planner = "grounded"
timing = "hybrid"
answer_directly = false   # true: no plan when the goal's timing decision is "answer directly" (ctrl+t plans anyway)
rewrite_clauses = false   # true: the grounded planner's model rewrites each clause before retrieval (slower; for
                          # an instruction model such as qwen2.5-coder-1.5b, docs/PLANNING.md)

[engine]                  # local llama.cpp inference (core/llm/cpu.py, core/llm/factory.py)
extra_bufts = "auto"      # weight repack buffers: auto (off on AMX CPUs) | on | off; $SAGE_TUI_EXTRA_BUFTS wins
isolation = "child"       # child: llama.cpp in its own process (a crash never takes the app down) | inprocess

[keymap]                  # binding id -> key(s); see docs/TUI.md
"app.help" = "f1"
"dashboard.compare" = "ctrl+o"

[[endpoints]]             # OpenAI-compatible servers offered by the plan screen's model picker
name = "local-llama"      # shown as "endpoint: local-llama"
base_url = "http://127.0.0.1:8080/v1"
model = "default"         # optional: the served model name
api_key_env = "MY_KEY"    # optional: environment variable holding the API key (never the key itself)
chat_format = "gemma"     # optional: render prompts ourselves (base models without a chat template)
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.paths import config_path

GENERAL_KEYS: dict[str, type] = {"db": str, "default_model": str, "selector": str, "planner": str, "timing": str,
                                 "answer_directly": bool, "rewrite_clauses": bool}
# [engine] is read by core (core/llm/cpu.py, core/llm/factory.py); validated here so the app names a bad value
ENGINE_KEYS = {"extra_bufts": ("auto", "on", "off"), "isolation": ("child", "inprocess")}
ENDPOINT_KEYS = {"name": str, "base_url": str, "model": str, "api_key_env": str, "chat_format": str,
                 "schema_style": str, "timeout_s": (int, float)}


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible server from `[[endpoints]]`; the API key is read from `api_key_env` at use."""

    name: str
    base_url: str
    model: str = "default"
    api_key_env: str | None = None
    chat_format: str | None = None
    schema_style: str = "llama-cpp"
    timeout_s: float = 120.0

    def api_key(self) -> str | None:
        import os

        return os.environ.get(self.api_key_env) if self.api_key_env else None


@dataclass
class UIConfig:
    """Settings of the Textual app (all optional)."""

    db: Path | None = None
    default_model: str | None = None
    selector: str = "two_stage"
    planner: str = "grounded"
    timing: str = "hybrid"
    answer_directly: bool = False
    rewrite_clauses: bool = False
    keymap: dict[str, str] = field(default_factory=dict)
    endpoints: list[Endpoint] = field(default_factory=list)
    source: Path | None = None

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)


def parse_config(data: dict[str, Any], *, path: Path | None = None) -> UIConfig:
    """Validate a decoded TOML document; unknown keys and wrong types raise ConfigError."""
    where = str(path) if path else None
    cfg = UIConfig(source=path)
    for section in data:
        if section not in ("general", "keymap", "endpoints", "engine"):
            raise ConfigError("unknown section (expected [general], [keymap], [engine] or [[endpoints]])", path=where,
                              field=section)
    general = data.get("general", {})
    if not isinstance(general, dict):
        raise ConfigError("must be a table", path=where, field="general")
    for key, value in general.items():
        if key not in GENERAL_KEYS:
            raise ConfigError(f"unknown key (expected one of {sorted(GENERAL_KEYS)})", path=where, field=f"general.{key}")
        if not isinstance(value, GENERAL_KEYS[key]):
            raise ConfigError(f"must be a {'boolean' if GENERAL_KEYS[key] is bool else 'string'}", path=where,
                              field=f"general.{key}")
    if "db" in general:
        cfg.db = Path(general["db"]).expanduser()
    for key in ("default_model", "selector", "planner", "timing", "answer_directly", "rewrite_clauses"):
        if key in general:
            setattr(cfg, key, general[key])
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict):
        raise ConfigError("must be a table of binding id = key", path=where, field="keymap")
    for bid, keys in keymap.items():
        if not isinstance(keys, str) or not keys.strip():
            raise ConfigError("key must be a non-empty string such as 'ctrl+o' or 'f2,ctrl+2'", path=where, field=f"keymap.{bid}")
    cfg.keymap = dict(keymap)
    cfg.endpoints = parse_endpoints(data.get("endpoints", []), where)
    engine = data.get("engine", {})
    if not isinstance(engine, dict):
        raise ConfigError("must be a table", path=where, field="engine")
    for key, value in engine.items():
        if key not in ENGINE_KEYS:
            raise ConfigError(f"unknown key (expected one of {sorted(ENGINE_KEYS)})", path=where, field=f"engine.{key}")
        if value not in ENGINE_KEYS[key]:
            raise ConfigError(f"expected one of {list(ENGINE_KEYS[key])}", path=where, field=f"engine.{key}")
    return cfg


def parse_endpoints(items: Any, where: str | None = None) -> list[Endpoint]:
    """`[[endpoints]]` tables -> Endpoints; ConfigError names the entry and key (endpoints[2].base_url)."""
    if not isinstance(items, list):
        raise ConfigError("must be an array of tables ([[endpoints]])", path=where, field="endpoints")
    out: list[Endpoint] = []
    for i, item in enumerate(items):
        at = f"endpoints[{i}]"
        if not isinstance(item, dict):
            raise ConfigError("must be a table", path=where, field=at)
        for key, value in item.items():
            if key not in ENDPOINT_KEYS:
                raise ConfigError(f"unknown key (expected one of {sorted(ENDPOINT_KEYS)})", path=where, field=f"{at}.{key}")
            kind = ENDPOINT_KEYS[key]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ConfigError("must be a number" if key == "timeout_s" else "must be a string", path=where, field=f"{at}.{key}")
        for key in ("name", "base_url"):
            if not str(item.get(key, "")).strip():
                raise ConfigError("is required", path=where, field=f"{at}.{key}")
        if not item["base_url"].startswith(("http://", "https://")):
            raise ConfigError("must start with http:// or https://", path=where, field=f"{at}.base_url")
        if any(e.name == item["name"] for e in out):
            raise ConfigError(f"duplicate endpoint name {item['name']!r}", path=where, field=f"{at}.name")
        if item.get("schema_style", "llama-cpp") not in ("llama-cpp", "openai"):
            raise ConfigError("must be 'llama-cpp' or 'openai'", path=where, field=f"{at}.schema_style")
        out.append(Endpoint(name=item["name"], base_url=item["base_url"], model=item.get("model", "default"),
                            api_key_env=item.get("api_key_env"), chat_format=item.get("chat_format"),
                            schema_style=item.get("schema_style", "llama-cpp"),
                            timeout_s=float(item.get("timeout_s", 120.0))))
    return out


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
