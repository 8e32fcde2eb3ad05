"""`sage-tui doctor`: what this machine is and whether local inference runs on it.

Each check returns a `Check` (name, ok, detail, hint, data). The smoke decode runs in an engine child, so a
kernel that crashes on this CPU shows up as a failed check naming the signal, not as a dead process.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ExitCode, SageError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    hint: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0
    optional: bool = False  # a failed optional check is reported but does not fail the doctor

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "hint": self.hint, "data": self.data,
                "optional": self.optional}


def _guard(name: str, fn: Callable[[], Check], *, optional: bool = False) -> Check:
    try:
        c = fn()
    except SageError as exc:
        c = Check(name, False, exc.message, exc.hint, exit_code=int(exc.exit_code))
    except Exception as exc:  # a doctor reports, it does not crash
        c = Check(name, False, f"{type(exc).__name__}: {exc}", exit_code=int(ExitCode.FAILURE))
    c.optional = optional
    return c


def check_cpu() -> Check:
    from core.llm.cpu import choose_buffers, detect_cpu

    cpu = detect_cpu()
    choice = choose_buffers(cpu)
    detail = (f"{cpu.model} ({cpu.machine}); SIMD {' '.join(cpu.simd()) or 'none seen'}; AMX {'yes' if cpu.has_amx else 'no'}"
              f"; llama.cpp extra buffer types {'on' if choice.use_extra_bufts else 'off'} ({choice.reason}, "
              f"setting {choice.setting} from {choice.source})")
    return Check("cpu", True, detail, data={"model": cpu.model, "machine": cpu.machine, "simd": cpu.simd(),
                                            "amx": cpu.has_amx, "buffers": choice.to_dict(),
                                            "python": sys.version.split()[0], "platform": platform.platform()})


def check_models() -> Check:
    """The bundled Gemma GGUF (package SHA-256 check on assembly), the shipped adapters (their SHA-256) and
    the optional Qwen preset (its pinned SHA-256 when installed)."""
    from core.filehash import file_sha256
    from core.llm import models

    gemma = models.bundled_gemma_path()
    found: dict[str, Any] = {"gemma3-270m": {"path": str(gemma), "sha256": file_sha256(gemma), "check": "package"}}
    for a in models.list_adapters():
        if a.source == "bundled":
            found[a.name] = {"path": str(a.path), "sha256": file_sha256(a.path), "check": "listed"}
    try:
        models.qwen_parts()
    except SageError:
        found["qwen2.5-coder-1.5b"] = {"installed": False}
    else:
        q = models.qwen_path()  # raises ModelError on a digest mismatch
        found["qwen2.5-coder-1.5b"] = {"path": str(q), "sha256": models.QWEN_SHA256, "check": "pinned"}
    names = [n for n, v in found.items() if v.get("installed", True)]
    return Check("models", True, f"{len(names)} found: {', '.join(names)}", data=found)


def check_store(db: Path | None) -> Check:
    from core.paths import default_db_path
    from core.store import RunStore
    from core.store.migrations import SCHEMA_VERSION

    path = db or default_db_path()
    if not path.exists():  # the doctor does not create a store
        return Check("store", True, f"{path} (not created yet; schema {SCHEMA_VERSION} on first use)",
                     data={"path": str(path), "schema_version": None, "runs": 0})
    store = RunStore(path)
    version = store.schema_version
    n = len(store.list_runs())
    return Check("store", True, f"{path} (schema {version} of {SCHEMA_VERSION}, {n} runs)",
                 data={"path": str(path), "schema_version": version, "runs": n})


def check_engine(model: str | None, n_tokens: int) -> Check:
    """llama.cpp's system_info and a short greedy decode, both in an engine child."""
    from core.llm.engine.client import EngineBackend, EngineProcess
    from core.llm.models import resolve_model

    engine = EngineProcess()
    try:
        info = engine.request({"op": "system_info"})
        backend = EngineBackend(resolve_model(model), engine=engine, slots=1)
        smoke = backend.smoke(n_tokens)
    finally:
        engine.close()
    detail = (f"{smoke['tokens']} tokens in {smoke['seconds']:.2f} s ({smoke['tokens_per_s']:.1f} tok/s, load "
              f"{smoke['load_s']:.1f} s) in a child process; use_extra_bufts={smoke['use_extra_bufts']}; "
              f"llama-cpp-python {info.get('llama_cpp_python')}")
    return Check("engine", smoke["tokens"] > 0, detail, data={"system_info": info.get("system_info"), "smoke": smoke,
                                                              "buffers": info.get("buffers")})


def run_doctor(db: Path | None = None, model: str | None = None, n_tokens: int = 16,
               on_check: Callable[[Check], None] | None = None) -> list[Check]:
    checks = []
    for name, fn, optional in (("cpu", check_cpu, False), ("models", check_models, False),
                               ("store", lambda: check_store(db), False),
                               ("engine", lambda: check_engine(model, n_tokens), False)):
        c = _guard(name, fn, optional=optional)
        checks.append(c)
        if on_check is not None:
            on_check(c)
    return checks


def doctor_exit_code(checks: list[Check]) -> int:
    """0 when every required check passed, else the first failed check's code (FAILURE when it has none)."""
    for c in checks:
        if not c.ok and not c.optional:
            return c.exit_code or int(ExitCode.FAILURE)
    return 0
