"""What a stored result was computed with: package versions, interpreter, CPU and the code's git commit.

Training and evaluation runs store this as an `environment` event when they start (and again when resumed,
which may be on another machine), and `sage-tui report` copies it into runs.json, so a number in the paper
can be traced to the library versions and the commit that produced it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# the libraries whose versions change what a run computes
PACKAGES = ("torch", "transformers", "peft", "llama_cpp_python", "sentence-transformers", "numpy")
EVENT = "environment"
_ROOT = Path(__file__).resolve().parents[2]


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None where it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(root: Path = _ROOT) -> dict[str, Any]:
    """{"commit": sha or None, "dirty": bool or None} of the checkout the code runs from (None outside git)."""
    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout if res.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def environment_info() -> dict[str, Any]:
    """The payload of a run's `environment` event."""
    from core.llm.cpu import detect_cpu

    cpu = detect_cpu()
    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpu": cpu.model,
            "machine": cpu.machine, "simd": cpu.simd(), "cpus": os.cpu_count(), "packages": package_versions(),
            "git": git_state()}


def record_environment(store: Any, run_id: str) -> None:
    """Store environment_info() as the run's `environment` event."""
    store.log_event(run_id, EVENT, payload=environment_info())


def latest_environment(store: Any, run_id: str) -> dict[str, Any] | None:
    """The newest `environment` payload of a run (None for runs stored before it was recorded)."""
    found = [e["payload"] for e in store.events(run_id) if e["message"] == EVENT]
    return found[-1] if found else None
