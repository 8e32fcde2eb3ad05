"""Agent datasets: the four task types and training dialogs, with a validating loader.

Formats are documented in docs/DATA.md. Every problem raises DataError naming file, line and field.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.catalog import Catalog
from core.errors import DataError, NotFoundError
from core.jsonl import file_sha256, iter_jsonl
from core.paths import datasets_dir

TASKS = ("tool_selection", "tool_retrieval", "task_planning", "timing_judgment")
ROLES = ("system", "user", "assistant", "tool")


def _need(obj: dict, name: str, typ: type | tuple[type, ...], where: dict) -> Any:
    if name not in obj:
        raise DataError("missing required field", field=name, **where)
    val = obj[name]
    if not isinstance(val, typ) or (typ is int and isinstance(val, bool)):
        tname = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise DataError(f"expected {tname}, got {type(val).__name__}", field=name, **where)
    return val


def _str_list(val: Any, fld: str, where: dict) -> list[str]:
    if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
        raise DataError("expected a list of strings", field=fld, **where)
    return val


def _validate_messages(msgs: Any, fld: str, where: dict) -> None:
    if not isinstance(msgs, list):
        raise DataError("expected a list of chat messages", field=fld, **where)
    for i, m in enumerate(msgs):
        f = f"{fld}[{i}]"
        if not isinstance(m, dict):
            raise DataError("expected an object", field=f, **where)
        if m.get("role") not in ROLES:
            raise DataError(f"role must be one of {ROLES}", field=f + ".role", **where)
        if "content" in m and m["content"] is not None and not isinstance(m["content"], str):
            raise DataError("content must be a string or null", field=f + ".content", **where)
        for j, call in enumerate(m.get("tool_calls") or []):
            cf = f"{f}.tool_calls[{j}]"
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise DataError("needs function.name", field=cf, **where)
            args = fn.get("arguments")
            if not isinstance(args, str):
                raise DataError("function.arguments must be a JSON string", field=cf + ".function.arguments", **where)
            try:
                json.loads(args)
            except json.JSONDecodeError:
                raise DataError("function.arguments is not valid JSON", field=cf + ".function.arguments", **where) from None


def validate_sample(obj: dict[str, Any], *, path: str | None = None, line: int | None = None) -> dict[str, Any]:
    """Validate one dataset line of any task type (or a training dialog with `messages`)."""
    where = {"path": path, "line": line}
    _need(obj, "id", str, where)
    task = _need(obj, "task", str, where)
    if task not in TASKS:
        raise DataError(f"unknown task {task!r}; expected one of {TASKS}", field="task", **where)
    if "messages" in obj:  # training dialog
        _validate_messages(obj["messages"], "messages", where)
        if "gold" in obj and not isinstance(obj["gold"], dict):
            raise DataError("expected an object", field="gold", **where)
        return obj
    gold = _need(obj, "gold", dict, where)
    if task in ("tool_selection", "tool_retrieval"):
        _need(obj, "instruction", str, where)
        cands = obj.get("candidate_tools")
        if cands is not None:
            _str_list(cands, "candidate_tools", where)
        tools = _str_list(gold.get("tools"), "gold.tools", where)
        if not tools:
            raise DataError("needs at least one gold tool", field="gold.tools", **where)
    elif task == "task_planning":
        _need(obj, "instruction", str, where)
        if obj.get("candidate_tools") is not None:
            _str_list(obj["candidate_tools"], "candidate_tools", where)
        steps = gold.get("steps")
        if not isinstance(steps, list) or not steps:
            raise DataError("expected a non-empty list of steps", field="gold.steps", **where)
        for i, st in enumerate(steps):
            f = f"gold.steps[{i}]"
            if not isinstance(st, dict):
                raise DataError("expected an object", field=f, **where)
            if not isinstance(st.get("id"), int) or isinstance(st.get("id"), bool):
                raise DataError("expected int", field=f + ".id", **where)
            if not isinstance(st.get("tool_id"), str):
                raise DataError("expected str", field=f + ".tool_id", **where)
            if not isinstance(st.get("arguments", {}), dict):
                raise DataError("expected object", field=f + ".arguments", **where)
            deps = st.get("depends_on", [])
            if not isinstance(deps, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in deps):
                raise DataError("expected a list of ints", field=f + ".depends_on", **where)
    elif task == "timing_judgment":
        _need(obj, "message", str, where)
        _validate_messages(obj.get("context", []), "context", where)
        if not isinstance(gold.get("should_call_tool"), bool):
            raise DataError("expected bool", field="gold.should_call_tool", **where)
    return obj


@dataclass
class Dataset:
    path: str
    samples: list[dict[str, Any]]
    sha256: str
    tasks: Counter[str] = field(default_factory=Counter)
    split: str | None = None  # the split name stored with metrics (None: the file's folder name)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def task(self) -> str | None:
        """The single task type of this file, or None when it mixes several."""
        return next(iter(self.tasks)) if len(self.tasks) == 1 else None

    def by_task(self, task: str) -> list[dict[str, Any]]:
        return [s for s in self.samples if s["task"] == task]


def load_dataset(path: str | Path, *, task: str | None = None) -> Dataset:
    """Load and validate a dataset JSONL. With `task`, every line must be of that task type."""
    p = Path(path)
    from core.handwritten import is_handwritten_file

    if is_handwritten_file(p):  # assets/handwritten/plans.jsonl: converted to `task` (default task_planning)
        return handwritten_dataset(p, task=task)
    samples: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for lineno, obj in iter_jsonl(p):
        validate_sample(obj, path=str(p), line=lineno)
        if task is not None and obj["task"] != task:
            raise DataError(f"task {obj['task']!r} where {task!r} was expected", path=str(p), line=lineno, field="task")
        if obj["id"] in seen:
            raise DataError(f"duplicate id {obj['id']!r} (first on line {seen[obj['id']]})", path=str(p), line=lineno, field="id")
        seen[obj["id"]] = lineno
        samples.append(obj)
    return Dataset(path=str(p), samples=samples, sha256=file_sha256(p), tasks=Counter(s["task"] for s in samples))


def handwritten_dataset(path: str | Path | None = None, *, task: str | None = None,
                        catalog: Catalog | None = None) -> Dataset:
    """The hand-written planning set (core/handwritten.py) as a Dataset of one task type (default task_planning)."""
    from core.handwritten import handwritten_path, load_handwritten, to_samples

    p = Path(path) if path is not None else handwritten_path()
    samples = to_samples(load_handwritten(p, catalog=catalog), task or "task_planning")
    for s in samples:
        validate_sample(s, path=str(p))
    return Dataset(path=str(p), samples=samples, sha256=file_sha256(p), tasks=Counter(s["task"] for s in samples))


def check_against_catalog(ds: Dataset, catalog: Catalog) -> None:
    """Every referenced tool id must exist in the catalog."""
    for i, s in enumerate(ds.samples):
        refs: list[tuple[str, str]] = []
        gold = s.get("gold", {})
        refs += [("gold.tools", t) for t in gold.get("tools", []) or []]
        refs += [("candidate_tools", t) for t in s.get("candidate_tools") or []]
        refs += [(f"gold.steps[{j}].tool_id", st.get("tool_id")) for j, st in enumerate(gold.get("steps", []) or [])]
        for fld, tid in refs:
            if tid not in catalog:
                raise DataError(f"unknown tool id {tid!r}", path=ds.path, line=i + 1, field=fld)


SPLITS = ("train", "test", "test_extended", "validation", "handwritten", "handwritten-dev", "handwritten-test",
          "handwritten-confirm")
HANDWRITTEN_SUBSETS = {"handwritten-dev": "dev", "handwritten-test": "test"}


def default_dataset_path(task: str, split: str = "test_extended") -> Path:
    """Bundled dataset file for a task and split (`train` is the mixed dialog file; `handwritten` is the
    hand-written planning set, core/handwritten.py, which load_dataset converts to the task)."""
    if split in HANDWRITTEN_SUBSETS:  # a subset of a file, not a file: a path alone would silently mean all of it
        raise NotFoundError(f"{split!r} is a subset of the hand-written set; load it with load_split()")
    if split == "handwritten":
        from core.handwritten import CONVERSIONS, handwritten_path

        if task not in CONVERSIONS:
            raise NotFoundError(f"no handwritten split for task {task!r}; it has {', '.join(CONVERSIONS)}")
        return handwritten_path()
    if split == "handwritten-confirm":  # the second, report-only hand-written file (core.handwritten.confirm_path)
        from core.handwritten import CONVERSIONS, confirm_path

        if task not in CONVERSIONS:
            raise NotFoundError(f"no handwritten-confirm split for task {task!r}; it has {', '.join(CONVERSIONS)}")
        return confirm_path()
    if split == "train":
        return datasets_dir() / "train" / "dialogs.jsonl"
    p = datasets_dir() / split / f"{task}.jsonl"
    if not p.exists():
        raise NotFoundError(f"no bundled {split} split for task {task!r} ({p})")
    return p


def load_split(task: str, split: str = "test_extended") -> Dataset:
    """A bundled split of one task type. `handwritten-dev` / `handwritten-test` are the hand-written set's design
    and report subsets (`core.handwritten.in_subset`): the same file, a subset of its samples, and a dataset hash
    of its own (the file's hash with the subset name), so stored runs of the two never mix."""
    import hashlib

    subset = HANDWRITTEN_SUBSETS.get(split)
    if subset is None:
        ds = load_dataset(default_dataset_path(task, split), task=task)
        if split == "handwritten-confirm":  # its folder is the first set's: name the split, or metrics say "handwritten"
            ds.split = split
        return ds
    from core.handwritten import in_subset

    ds = load_dataset(default_dataset_path(task, "handwritten"), task=task)
    samples = [s for s in ds.samples if in_subset(s["id"], subset)]
    sha = hashlib.sha256(f"{ds.sha256}|subset={subset}".encode()).hexdigest()
    return Dataset(path=ds.path, samples=samples, sha256=sha, tasks=Counter(s["task"] for s in samples), split=split)


def bundled_files() -> list[Path]:
    root = datasets_dir()
    return sorted(root.glob("*/*.jsonl"))
