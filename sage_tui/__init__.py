"""sage-tui: the Textual workstation and Typer CLI on top of the headless `core` and `training`."""

from core import __version__

__all__ = ["__version__"]
