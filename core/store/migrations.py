"""Schema of the run store, versioned with sqlite-utils migrations.

Append new migrations at the end; never edit or reorder applied ones. A database that has
applied a migration this code does not know comes from a newer sage-tui and is refused.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("sage_tui_store")


@migrations()
def m001_initial(db: Database) -> None:
    db["runs"].create(
        {
            "id": str,
            "kind": str,  # eval / plan / train / bench / report
            "status": str,  # running / completed / failed / interrupted
            "name": str,
            "task": str,
            "method": str,
            "config": str,  # JSON
            "config_hash": str,
            "dataset_hash": str,
            "catalog_hash": str,
            "package_version": str,
            "started": str,
            "ended": str,
            "pid": int,
            "host": str,
            "error": str,
        },
        pk="id",
    )
    db["metrics"].create(
        {"id": int, "run_id": str, "name": str, "value": float, "split": str, "step": int, "time": str},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["events"].create(
        {"id": int, "run_id": str, "time": str, "level": str, "message": str, "payload": str},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["artifacts"].create(
        {"id": int, "run_id": str, "kind": str, "path": str, "meta": str, "time": str},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["metrics"].create_index(["run_id", "name"])
    db["events"].create_index(["run_id"])
    db["artifacts"].create_index(["run_id"])
    db["runs"].create_index(["kind", "status"])


@migrations()
def m002_samples_and_tags(db: Database) -> None:
    """Per-sample results (for failures views and resumable evals) and run tags."""
    db["samples"].create(
        {"id": int, "run_id": str, "sample_id": str, "ok": int, "payload": str},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["samples"].create_index(["run_id", "sample_id"], unique=True)
    db["runs"].add_column("tags", str)
    db["runs"].add_column("parent_id", str)


KNOWN = [m.name for m in migrations._migrations]
SCHEMA_VERSION = len(KNOWN)
