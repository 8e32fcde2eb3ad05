"""The client side of the engine: `EngineProcess` owns one worker child and its pipes; `EngineBackend` is the
LLM backend protocol over it. A child that dies (SIGSEGV in a kernel, OOM kill, exit) turns the request into
`EngineCrashed` naming the signal and the model; the next request starts a fresh child."""

from __future__ import annotations

import atexit
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.errors import EngineCrashed, ModelError, SageError
from core.llm.base import Completion, Message, TokenCallback
from core.llm.engine.protocol import read_msg, write_msg

WORKER_ENV = "SAGE_TUI_ENGINE_WORKER"  # a command line replacing `python -m core.llm.engine.worker`
LOG_TAIL_LINES = 8


def worker_command() -> list[str]:
    """`$SAGE_TUI_ENGINE_WORKER` (shell-split), else this interpreter running the worker module."""
    env = os.environ.get(WORKER_ENV, "").strip()
    return shlex.split(env) if env else [sys.executable, "-m", "core.llm.engine.worker"]


def signal_name(returncode: int | None) -> str | None:
    """`SIGSEGV` for returncode -11 (killed by a signal), None for a plain exit."""
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _error_class(name: str) -> type[Exception]:
    import core.errors as errors

    cls = getattr(errors, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, errors.SageError) else ModelError


class EngineProcess:
    """One worker child (started on the first request), one request at a time. Its stderr (llama.cpp's log)
    goes to a log file in the cache dir, whose last lines a crash report quotes."""

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command) if command else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._lock = threading.RLock()
        self.starts = 0
        self.crashes = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def _start(self) -> subprocess.Popen[bytes]:
        from core.paths import cache_dir

        log_dir = cache_dir() / "engine"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log_path = log_dir / f"worker-{os.getpid()}.log"
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        root = str(Path(__file__).resolve().parents[3])  # the folder holding `core/` (a source checkout)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with self._log_path.open("wb") as log:
            self._proc = subprocess.Popen(self.command or worker_command(), stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=log, env=env, start_new_session=True)
        self.starts += 1
        return self._proc

    def _log_tail(self) -> str:
        try:
            lines = self._log_path.read_text(errors="replace").splitlines() if self._log_path else []
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def _crashed(self, proc: subprocess.Popen[bytes], op: str, model: str | None) -> EngineCrashed:
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        self._proc = None
        self.crashes += 1
        sig = signal_name(rc)
        how = f"died with {sig}" if sig else f"exited with code {rc}"
        tail = self._log_tail()
        hint = ("the next request starts a fresh engine; if it repeats, run `sage-tui doctor`"
                " (on CPUs with AMX try SAGE_TUI_EXTRA_BUFTS=off)" + (f"; log: {self._log_path}" if self._log_path else ""))
        return EngineCrashed(f"the inference engine {how} during {op}" + (f" (model {model})" if model else ""),
                             signal_name=sig, returncode=rc, model=model, log_tail=tail, hint=hint)

    def request(self, msg: dict[str, Any], *, on_token: Callable[[str], None] | None = None,
                model: str | None = None) -> dict[str, Any]:
        """Send one request and return its `ok` reply; streamed tokens go to `on_token`. Raises the worker's
        typed error, or EngineCrashed when the child died (then the next request starts a new one)."""
        with self._lock:
            proc = self._proc if self._proc is not None and self._proc.poll() is None else None
            if proc is None:  # first request, or the child died between requests: start a fresh one
                proc = self._start()
            try:
                reply, callback_error = self._exchange(proc, msg, on_token, model)
            except SageError:
                raise
            except BaseException:  # Ctrl-C or a bug mid-reply: the pipe is out of step, so drop this child
                self._kill(proc)
                raise
        if callback_error is not None:  # raised by on_token; the reply was drained, the child stays usable
            raise callback_error
        if reply.get("t") == "err":
            raise _error_class(str(reply.get("cls")))(str(reply.get("message")), hint=reply.get("hint"))
        return reply

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        proc.wait()
        if self._proc is proc:
            self._proc = None

    def _exchange(self, proc: subprocess.Popen[bytes], msg: dict[str, Any], on_token: Callable[[str], None] | None,
                  model: str | None) -> tuple[dict[str, Any], BaseException | None]:
        """Write one request and read its replies up to the final one (ok or err)."""
        assert proc.stdin is not None and proc.stdout is not None
        op = str(msg.get("op"))
        try:
            write_msg(proc.stdin, msg)
        except (BrokenPipeError, OSError):
            raise self._crashed(proc, op, model) from None
        callback_error: BaseException | None = None
        while True:
            try:
                reply = read_msg(proc.stdout)
            except ValueError:  # a torn line: the child died mid-write
                reply = None
            if reply is None:
                raise self._crashed(proc, op, model)
            if reply.get("t") != "tok":
                return reply, callback_error
            if on_token is not None and callback_error is None:
                try:
                    on_token(reply.get("s", ""))
                except BaseException as exc:  # keep reading: the reply must be drained
                    callback_error = exc

    def close(self, timeout: float = 3.0) -> None:
        """Ask the child to stop, then kill it if it does not."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            assert proc.stdin is not None
            write_msg(proc.stdin, {"op": "shutdown"})
            proc.stdin.close()
            proc.wait(timeout=timeout)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


_SHARED: dict[tuple[str, ...], EngineProcess] = {}
_SHARED_LOCK = threading.Lock()


def shared_engine() -> EngineProcess:
    """The process-wide engine for the current worker command (one child serves every backend spec)."""
    cmd = tuple(worker_command())
    with _SHARED_LOCK:
        if cmd not in _SHARED:
            _SHARED[cmd] = EngineProcess(cmd)
        return _SHARED[cmd]


@atexit.register
def close_all() -> None:
    for eng in list(_SHARED.values()):
        eng.close()
    _SHARED.clear()


class EngineBackend:
    """The LLM backend protocol served by the engine child. Configuration, prompt rendering and identity come
    from an unloaded `LlamaCppBackend` here (so stored runs and calibration keys match in-process runs);
    loading, decoding and scoring happen in the child."""

    def __init__(self, model: Any = None, *, lora: str | None = None, engine: EngineProcess | None = None,
                 **options: Any) -> None:
        from core.llm.llamacpp import LlamaCppBackend

        self._local = LlamaCppBackend(model, lora=lora, **options)
        self.model = self._local.model
        self.n_ctx = self._local.n_ctx
        self.name = self._local.name
        self.engine = engine
        loc = self._local
        self._spec = {"model": self.model.to_dict(), "options": {
            "n_ctx": loc.n_ctx, "n_threads": loc.n_threads, "n_threads_batch": loc.n_threads_batch,
            "decoding": loc.decoding, "slots": loc.slots, "flash_attn": loc.flash_attn, "draft_tokens": loc.draft_tokens,
            "positional": loc.positional, "context_tag": loc.context_tag, "merge_lora": loc.merge_lora}}
        self.loaded_info: dict[str, Any] | None = None

    def _engine(self) -> EngineProcess:
        return self.engine or shared_engine()

    def _request(self, msg: dict[str, Any], on_token: TokenCallback | None = None) -> dict[str, Any]:
        return self._engine().request({**msg, "spec": self._spec}, on_token=on_token, model=self.model.name)

    @property
    def supports_prefix_items(self) -> bool:
        return self._local.supports_prefix_items

    @property
    def merge_pending(self) -> bool:
        return self._local.merge_pending

    @property
    def decoding(self) -> str:
        return self._local.decoding

    def render(self, messages: Sequence[Message]) -> str:
        return self._local.render(messages)

    def info(self) -> dict[str, Any]:
        return self._local.info()

    def prepare(self) -> None:
        """Start the child if needed and load (merging the adapter once) there."""
        self.loaded_info = self._request({"op": "load"})

    def complete(self, messages: Sequence[Message], *, json_schema: dict[str, Any] | None = None,
                 grammar: str | None = None, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0,
                 stop: Sequence[str] | None = None, on_token: TokenCallback | None = None) -> Completion:
        kwargs = {"json_schema": json_schema, "grammar": grammar, "max_tokens": max_tokens, "temperature": temperature,
                  "seed": seed, "stop": list(stop) if stop else None, "stream": on_token is not None}
        reply = self._request({"op": "complete", "messages": list(messages), "kwargs": kwargs}, on_token)
        c = reply["completion"]
        meta = {**c.get("meta", {}), "engine": "child"}
        return Completion(c["text"], c["finish_reason"], c["prompt_tokens"], c["completion_tokens"], c["seconds"], meta)

    def continuation_logprobs(self, messages: Sequence[Message], texts: Sequence[str]) -> list[float]:
        """Log-likelihood of each text after the rendered prompt (the timing vote), computed in the child."""
        return list(self._request({"op": "logprobs", "messages": list(messages), "texts": list(texts)})["values"])

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens of these messages, counted by the child's tokenizer."""
        return int(self._request({"op": "count_tokens", "messages": list(messages)})["n"])

    def smoke(self, n_tokens: int = 16) -> dict[str, Any]:
        return self._request({"op": "smoke", "n_tokens": n_tokens})
