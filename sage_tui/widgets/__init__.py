"""Workstation widgets."""

from __future__ import annotations

from sage_tui.widgets.dag import DagView

WIDGET_CLASSES = [DagView]

__all__ = ["DagView", "WIDGET_CLASSES"]
