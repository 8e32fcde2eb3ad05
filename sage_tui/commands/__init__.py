"""Typer sub-commands; each module exposes `register(app)`. Heavy imports stay inside commands."""
