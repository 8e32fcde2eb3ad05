"""Every Binding of the workstation in one place: for the help screen, the palette and the docs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from textual.app import App
from textual.binding import Binding, BindingType
from textual.dom import DOMNode


@dataclass(frozen=True)
class BoundAction:
    """One binding as a user sees it: where it applies, its id, its effective key and what it does."""

    scope: str
    binding_id: str
    key: str
    action: str
    description: str


def _bindings(cls: type[DOMNode]) -> Iterator[Binding]:
    for b in getattr(cls, "BINDINGS", []):
        if isinstance(b, Binding):
            yield b


def effective_key(app: App | None, binding: Binding) -> str:
    """The key after the user's keymap override (App.set_keymap) is applied."""
    if app is not None and binding.id and binding.id in app._keymap:
        return app._keymap[binding.id]
    return binding.key


def all_actions(app: App | None = None, sources: Iterable[tuple[str, type[DOMNode]]] | None = None) -> list[BoundAction]:
    """Every binding of `sources` ((scope, class) pairs; default: the app's own `binding_sources()`), with the
    key after the app's keymap overrides. This module imports nothing of the app, so there is no import circle."""
    if sources is None:
        get = getattr(app, "binding_sources", None)
        sources = get() if callable(get) else []
    out: list[BoundAction] = []
    for scope, cls in sources:
        for b in _bindings(cls):
            out.append(BoundAction(scope, b.id or "", effective_key(app, b), b.action, b.description))
    return out


def check_bindings(bindings: Iterable[BindingType]) -> None:
    """Raise if a binding lacks an id or a description (a unit test calls this for every class)."""
    for b in bindings:
        if isinstance(b, Binding) and (not b.id or not b.description):
            raise ValueError(f"binding {b.key!r} -> {b.action!r} needs an id and a description")
