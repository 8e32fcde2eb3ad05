"""Selectors by name: the built-ins plus third-party ones from the `sage_tui.selectors` entry-point group.

A plugin package declares, in its pyproject.toml::

    [project.entry-points."sage_tui.selectors"]
    my_selector = "my_pkg.selector:MySelector"

where the object is a class or callable taking keyword options and returning an unfitted
object that follows `core.selection.base.Selector`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.catalog import Catalog
from core.errors import NotFoundError, UsageError
from core.selection.base import Selector

ENTRY_POINT_GROUP = "sage_tui.selectors"
Factory = Callable[..., Selector]


@dataclass
class SelectorInfo:
    name: str
    description: str
    source: str  # "builtin" or the entry point's "module:attr"
    factory: Factory | None = None
    error: str | None = None  # why a plugin failed to load


def _keyword(**kw: Any) -> Selector:
    from core.selection.keyword import KeywordSelector

    return KeywordSelector(**kw)


def _embedding(**kw: Any) -> Selector:
    from core.selection.embedding import EmbeddingSelector

    return EmbeddingSelector(**kw)


def _two_stage(**kw: Any) -> Selector:
    from core.selection.two_stage import TwoStageSelector

    return TwoStageSelector(**kw)


class SelectorRegistry:
    def __init__(self) -> None:
        self._items: dict[str, SelectorInfo] = {}
        self._plugins_loaded = False

    def register(self, name: str, factory: Factory, *, description: str = "", source: str = "builtin", replace: bool = False) -> None:
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise UsageError(f"invalid selector name {name!r}")
        if name in self._items and not replace:
            raise UsageError(f"selector {name!r} is already registered ({self._items[name].source})")
        self._items[name] = SelectorInfo(name, description, source, factory)

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in self._items:
                continue  # built-ins win over plugins of the same name
            try:
                factory = ep.load()
                doc = (getattr(factory, "__doc__", None) or "").strip().splitlines()
                self._items[ep.name] = SelectorInfo(ep.name, doc[0] if doc else "", ep.value, factory)
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the app
                self._items[ep.name] = SelectorInfo(ep.name, "", ep.value, None, f"{type(exc).__name__}: {exc}")

    def infos(self) -> list[SelectorInfo]:
        self._load_plugins()
        return list(self._items.values())

    def names(self) -> list[str]:
        return [i.name for i in self.infos() if i.factory is not None]

    def create(self, name: str, **options: Any) -> Selector:
        """An unfitted selector."""
        self._load_plugins()
        info = self._items.get(name)
        if info is None:
            raise NotFoundError(f"unknown selector {name!r}; known: {', '.join(self.names())}")
        if info.factory is None:
            raise NotFoundError(f"selector plugin {name!r} ({info.source}) failed to load: {info.error}")
        try:
            return info.factory(**options)
        except TypeError as exc:
            raise UsageError(f"bad options for selector {name!r}: {exc}") from None


REGISTRY = SelectorRegistry()
REGISTRY.register("keyword", _keyword, description="BM25 (Okapi) over name, description and parameters")
REGISTRY.register("embedding", _embedding, description="cosine similarity of all-MiniLM-L6-v2 embeddings (cached)")
REGISTRY.register("two_stage", _two_stage, description="BM25 + embedding over every tool, z-standardised fusion (weights chosen leave-one-benchmark-out), per-intent sub-queries")

DEFAULT_SELECTORS = ("keyword", "embedding", "two_stage")
_FITTED: dict[tuple[str, str, str], Selector] = {}
_LOCK = threading.Lock()


def get_selector(name: str, catalog: Catalog, **options: Any) -> Selector:
    """A selector fitted on `catalog`, cached per process by (name, catalog hash, options)."""
    key = (name, catalog.hash, repr(sorted(options.items())))
    with _LOCK:
        sel = _FITTED.get(key)
        if sel is None:
            sel = REGISTRY.create(name, **options).fit(catalog)
            _FITTED[key] = sel
        return sel


def clear_cache() -> None:
    with _LOCK:
        _FITTED.clear()
