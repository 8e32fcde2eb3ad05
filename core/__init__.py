"""Headless agent logic for sage-tui: data, selection, planning, timing, LLM backends, metrics, store.

Nothing in this package imports textual or sage_tui (checked by an import-linter contract),
and importing it never imports torch, transformers or llama_cpp (those are imported lazily).
"""

__version__ = "0.1.0"
