"""`[engine]` settings: an environment variable beats the user config file beats the default."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.errors import ConfigError


def engine_setting(key: str, env_var: str, choices: Sequence[str], default: str, *,
                   env: Mapping[str, str] | None = None, config: Path | None = None) -> tuple[str, str]:
    """(value, where it came from) for `[engine] KEY`; `$ENV_VAR` wins. A bad value is a ConfigError naming the
    variable, or the file and field."""
    env = os.environ if env is None else env
    raw = env.get(env_var, "").strip().lower()
    if raw:
        if raw not in choices:
            raise ConfigError(f"${env_var}: expected one of {list(choices)}, got {raw!r}")
        return raw, f"${env_var}"
    if config is None:
        from core.paths import config_path

        config = config_path()
    if not config.is_file():
        return default, "default"
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the config: {exc}", path=str(config)) from None
    engine = data.get("engine", {})
    if not isinstance(engine, dict):
        raise ConfigError("expected a table", path=str(config), field="engine")
    value = engine.get(key)
    if value is None:
        return default, "default"
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise ConfigError(f"expected one of {list(choices)}, got {value!r}", path=str(config), field=f"engine.{key}")
    return value.strip().lower(), str(config)
