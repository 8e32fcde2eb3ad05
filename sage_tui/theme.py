"""Theme variables as Rich styles.

Textual theme variables can carry an alpha channel (`foreground-muted` is `#E0E0E099` in the default
theme) that Rich styles cannot parse (MissingStyle, which takes the app down in the middle of a render).
`theme_color` blends such colours onto the theme background and returns plain `#rrggbb`.
"""

from __future__ import annotations

from typing import Any

from textual.color import Color


def theme_color(app: Any, name: str, default: str = "") -> str:
    """The theme variable `name` as a Rich-parseable `#rrggbb` ('' when unknown or unparseable)."""
    variables = app.theme_variables
    value = variables.get(name)
    if not value:
        return default
    try:
        color = Color.parse(value)
    except Exception:  # noqa: BLE001 - a theme value we cannot read: no colour rather than a crash
        return default
    if color.a < 1.0:
        try:
            background = Color.parse(variables.get("background", "#000000"))
        except Exception:  # noqa: BLE001
            background = Color(0, 0, 0)
        color = background + color  # alpha-composite over the background
    return color.hex6


def theme_style(app: Any, name: str, *, bold: bool = False) -> str:
    """A Rich style string for the theme variable `name`, optionally bold."""
    color = theme_color(app, name)
    return " ".join(p for p in ("bold" if bold else "", color) if p)
