"""Keep the garbage collector off the event loop's back.

A full (generation 2) collection walks every tracked object: with the catalog (1,000+ tools and their
JSON Schemas), the fitted selectors and Textual's DOM in memory that took 60-95 ms on the 2-core box,
inside one event-loop callback or in a worker thread holding the GIL, and was the largest stall while
planning. Long-lived objects are therefore moved into the permanent generation (`gc.freeze()`) right
after they are built, and bulk loads run with the collector paused, so later collections only walk the
short-lived objects of the current plan.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_paused = 0
_loaded: set[object] = set()
DISABLE_ENV = "SAGE_TUI_NO_GC_FREEZE"  # =1: leave the collector alone (bench/tui.py's baseline)


def enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "") not in ("1", "true", "yes")


def freeze_long_lived() -> None:
    """Move every object tracked so far into the permanent generation (never scanned again)."""
    if enabled():
        gc.freeze()


@contextmanager
def bulk_load() -> Iterator[None]:
    """Pause collection while long-lived data is built (nested and cross-thread safe), then freeze it."""
    global _paused
    if not enabled():
        yield
        return
    with _lock:
        _paused += 1
        gc.disable()
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            gc.freeze()
            if _paused == 0:
                gc.enable()


@contextmanager
def bulk_load_once(key: object) -> Iterator[None]:
    """`bulk_load()` the first time `key` is loaded in this process, a plain block afterwards (freezing at
    every plan would also move that plan's short-lived objects into the permanent generation for good)."""
    with _lock:
        first = key not in _loaded
        _loaded.add(key)
    if not first:
        yield
        return
    with bulk_load():
        yield
