"""The `environment` event: what a stored result was computed with, and its copy in the report's runs.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.report import build_report
from core.store import RunStore
from core.store.environment import (
    environment_info,
    git_state,
    latest_environment,
    package_versions,
    record_environment,
)


def test_environment_names_versions_cpu_and_commit() -> None:
    env = environment_info()
    assert env["packages"]["torch"] and env["packages"]["transformers"]  # installed here: a version string
    assert package_versions(("no-such-distribution-xyz",)) == {"no-such-distribution-xyz": None}
    assert env["python"].count(".") == 2 and env["cpus"] >= 1 and env["machine"]
    assert re.fullmatch(r"[0-9a-f]{40}", env["git"]["commit"])  # tests run from a git checkout (CI: a clone)
    assert isinstance(env["git"]["dirty"], bool)


def test_outside_git_the_commit_is_none(tmp_path: Path) -> None:
    assert git_state(tmp_path) == {"commit": None, "dirty": None}


def test_recorded_per_start_and_copied_into_runs_json(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.db")
    old = store.create_run("train", {"method": "A", "train": {"seed": 0}}, method="A", dataset_hash="d" * 64)
    new = store.create_run("train", {"method": "A", "train": {"seed": 1}}, method="A", dataset_hash="d" * 64)
    for rid in (old, new):
        store.log_metrics(rid, {"acc@1": 0.5})
        store.finish_run(rid)
    assert latest_environment(store, old) is None  # stored before environments were recorded
    record_environment(store, new)
    store.log_event(new, "environment", payload={**environment_info(), "python": "resumed-elsewhere"})
    assert latest_environment(store, new)["python"] == "resumed-elsewhere"  # the newest one wins
    build_report(store, tmp_path / "r")
    runs = json.loads((tmp_path / "r" / "runs.json").read_text())["runs"]
    assert runs[old]["environment"] is None
    assert runs[new]["environment"]["python"] == "resumed-elsewhere"
    assert runs[new]["environment"]["packages"]["torch"]
