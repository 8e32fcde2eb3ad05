"""Shared fixtures: an isolated run store and cache per test session, no hub access."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own default run store, so nothing touches the user's."""
    db = tmp_path / "runs.db"
    monkeypatch.setenv("SAGE_TUI_DB", str(db))
    return db


@pytest.fixture
def db_path(_isolated_db: Path) -> Path:
    return _isolated_db


@pytest.fixture
def store(db_path: Path):
    from core.store import RunStore

    s = RunStore(db_path)
    yield s
    s.close()
