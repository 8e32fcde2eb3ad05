"""Where bundled assets, the default run store and caches live."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

APP_NAME = "sage-tui"
DB_ENV = "SAGE_TUI_DB"
CACHE_ENV = "SAGE_TUI_CACHE"


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def assets_dir() -> Path:
    """The `assets/` folder (source checkout) or its copy inside an installed wheel."""
    src = project_root() / "assets"
    if src.is_dir():
        return src
    import importlib.util

    spec = importlib.util.find_spec("sage_tui")
    if spec and spec.origin:
        packaged = Path(spec.origin).parent / "_assets"
        if packaged.is_dir():
            return packaged
    return src


def default_catalog_path() -> Path:
    return assets_dir() / "catalog" / "tools.jsonl"


def datasets_dir() -> Path:
    return assets_dir() / "datasets"


def default_db_path() -> Path:
    """`--db` beats `$SAGE_TUI_DB` beats the platformdirs user data dir."""
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir(APP_NAME)) / "runs.db"


def cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    path = Path(env).expanduser() if env else Path(user_cache_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_path() -> Path:
    return Path(user_config_dir(APP_NAME)) / "config.toml"
