"""Selector registry: built-ins, entry-point plugins, unknown names, per-process cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selection_support import write_catalog

from core.catalog import load_catalog
from core.errors import NotFoundError, UsageError
from core.selection import registry as reg
from core.selection.base import Selection, Selector


class ReverseSelector:
    """Ranks tools in reverse catalog order (a plugin used only by this test)."""

    name = "reverse"

    def __init__(self, **kw: Any) -> None:
        self.kw = kw

    def fit(self, catalog):
        self.ids = list(reversed(catalog.ids))
        return self

    def select(self, query, top_k=5, candidates=None):
        return [Selection(t, 0.0, i + 1) for i, t in enumerate(self.ids[:top_k])]

    def config(self):
        return {"name": self.name}


class _EP:
    def __init__(self, name: str, value: str, obj: Any = None, exc: Exception | None = None) -> None:
        self.name, self.value, self._obj, self._exc = name, value, obj, exc

    def load(self) -> Any:
        if self._exc:
            raise self._exc
        return self._obj


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> reg.SelectorRegistry:
    eps = [_EP("reverse", "tests:ReverseSelector", ReverseSelector), _EP("broken", "nope:X", exc=ImportError("no module nope")),
           _EP("keyword", "evil:Override", ReverseSelector)]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: eps if group == reg.ENTRY_POINT_GROUP else [])
    r = reg.SelectorRegistry()
    r.register("keyword", reg._keyword, description="bm25")
    return r


def test_builtins_are_registered() -> None:
    assert {"keyword", "embedding", "two_stage"} <= set(reg.REGISTRY.names())


def test_plugins_load_lazily_and_builtins_win(registry, tmp_path: Path) -> None:
    names = registry.names()
    assert "reverse" in names and "broken" not in names
    info = {i.name: i for i in registry.infos()}
    assert info["broken"].error and "no module nope" in info["broken"].error
    assert info["keyword"].source == "builtin"
    sel = registry.create("reverse").fit(load_catalog(write_catalog(tmp_path / "t.jsonl")))
    assert isinstance(sel, Selector)
    assert sel.select("anything", 2)[0].tool_id == "create_calendar_event"
    with pytest.raises(NotFoundError, match="failed to load"):
        registry.create("broken")


def test_unknown_name_lists_known_ones(registry) -> None:
    with pytest.raises(NotFoundError, match="known: keyword, reverse"):
        registry.create("bm42")
    with pytest.raises(UsageError):
        registry.register("keyword", reg._keyword)
    with pytest.raises(UsageError):
        registry.create("keyword", no_such_option=1)


def test_get_selector_is_fitted_and_cached(tmp_path: Path) -> None:
    cat = load_catalog(write_catalog(tmp_path / "t.jsonl"))
    a = reg.get_selector("keyword", cat)
    assert a.select("weather forecast", 1)[0].tool_id == "get_weather_forecast"
    assert reg.get_selector("keyword", cat) is a
    assert reg.get_selector("keyword", cat, k1=1.2) is not a
    with pytest.raises(NotFoundError):
        reg.get_selector("nope", cat)
