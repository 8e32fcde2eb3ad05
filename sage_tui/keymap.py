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


def binding_sources() -> list[tuple[str, type[DOMNode]]]:
    """(scope, class) of every class that declares workstation bindings."""
    from sage_tui.app import SageApp
    from sage_tui.screens import screen_classes
    from sage_tui.widgets import WIDGET_CLASSES

    return [("global", SageApp), *((c.SCOPE, c) for c in screen_classes()), *((c.SCOPE, c) for c in WIDGET_CLASSES)]


def effective_key(app: App | None, binding: Binding) -> str:
    """The key after the user's keymap override (App.set_keymap) is applied."""
    if app is not None and binding.id and binding.id in app._keymap:
        return app._keymap[binding.id]
    return binding.key


def all_actions(app: App | None = None, sources: Iterable[tuple[str, type[DOMNode]]] | None = None) -> list[BoundAction]:
    out: list[BoundAction] = []
    for scope, cls in sources if sources is not None else binding_sources():
        for b in _bindings(cls):
            out.append(BoundAction(scope, b.id or "", effective_key(app, b), b.action, b.description))
    return out


def check_bindings(bindings: Iterable[BindingType]) -> None:
    """Raise if a binding lacks an id or a description (a unit test calls this for every class)."""
    for b in bindings:
        if isinstance(b, Binding) and (not b.id or not b.description):
            raise ValueError(f"binding {b.key!r} -> {b.action!r} needs an id and a description")
