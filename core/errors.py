"""Typed errors and the documented process exit codes of the headless CLI."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of `sage-tui` sub-commands (documented in README.md)."""

    OK = 0
    FAILURE = 1  # unexpected internal error
    USAGE = 2  # bad command line (Typer/Click also uses 2)
    DATA = 3  # malformed catalog / dataset / config file
    NOT_FOUND = 4  # unknown run id, tool id, selector, model file
    MODEL = 5  # model cannot be loaded / server unreachable / generation failed
    STORE = 6  # run store unusable (newer schema, locked, corrupt)
    PLAN = 7  # plan rejected (invalid and not repairable, constraints violated)
    TRAINING = 8  # training job failed or was stopped
    ENGINE = 9  # the local inference engine process died (a native crash such as SIGSEGV); sage-tui doctor
    INTERRUPTED = 130  # Ctrl-C


class SageError(Exception):
    """Base class of every error sage-tui raises on purpose."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class UsageError(SageError):
    exit_code = ExitCode.USAGE


class DataError(SageError):
    """A file's content is invalid. Names the file, the 1-based line and the field."""

    exit_code = ExitCode.DATA

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = ""
        if path is not None:
            where = str(path)
            if line is not None:
                where += f":{line}"
        if field is not None:
            where += f" [field {field!r}]" if where else f"[field {field!r}]"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.reason = message


class NotFoundError(SageError):
    exit_code = ExitCode.NOT_FOUND


class ConfigError(DataError):
    """A configuration file or value is invalid (unknown key, wrong type)."""


class ModelError(SageError):
    exit_code = ExitCode.MODEL


class ContextLengthError(ModelError):
    """A prompt does not fit the model's context window even before any new token. Planners catch it and
    fall back (a repair in the plan) instead of returning no plan."""


class EngineCrashed(ModelError):
    """The inference engine's child process died (a signal or an exit) while serving a request. The next
    request starts a fresh child."""

    exit_code = ExitCode.ENGINE

    def __init__(self, message: str, *, signal_name: str | None = None, returncode: int | None = None,
                 model: str | None = None, log_tail: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.signal_name = signal_name
        self.returncode = returncode
        self.model = model
        self.log_tail = log_tail


class StoreError(SageError):
    exit_code = ExitCode.STORE


class PlanError(SageError):
    exit_code = ExitCode.PLAN


class TrainingError(SageError):
    exit_code = ExitCode.TRAINING
