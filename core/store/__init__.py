"""The SQLite run store (every eval, plan, training and bench run)."""

from core.store.runstore import RunStore, open_store

__all__ = ["RunStore", "open_store"]
