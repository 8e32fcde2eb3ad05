"""The hand-written planning test set (`assets/handwritten/plans.jsonl`): loader, validator, conversion.

Each line is one goal written by a person in plain language over the bundled catalog, with a gold plan
in the same step shape as the generated `task_planning` samples (docs/DATA.md), so the planning metrics
(core/metrics/planning.py) score it unchanged:

    {"id": "hw-001", "goal": "...", "intents": 2, "needs_tool": true, "tags": ["implicit"],
     "gold": {"steps": [{"id": 1, "tool_id": "...", "arguments": {...}, "depends_on": []}, ...]},
     "alternatives": {"2": ["other_tool_id"]}, "notes": "..."}

`alternatives` and `notes` are optional. Goals that need no tool have `intents: 0`, `needs_tool: false`
and an empty plan. The format, the writing rules and the date convention are in
assets/handwritten/README.md. Every problem raises DataError naming the file, the line and the field.

`sage-tui eval --split handwritten` (or `--dataset assets/handwritten/plans.jsonl`) evaluates on it:
`core.datasets` recognises the file and converts it with its `handwritten_dataset()` (this module never
imports core.datasets, so the two have no import circle).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from core.catalog import Catalog
from core.errors import DataError, NotFoundError
from core.jsonl import iter_jsonl
from core.paths import assets_dir

REFERENCE_DATE = "2025-10-15"  # "today" for every relative date in the set (a Wednesday), see the README
MAX_INTENTS = 4
KEYS = ("id", "goal", "intents", "needs_tool", "tags", "gold", "alternatives", "notes")
REQUIRED_KEYS = ("id", "goal", "intents", "needs_tool", "tags", "gold")
TAGS = frozenset({
    # how the goal is written
    "implicit",          # at least one intent (or the tool it needs) is implied, not named
    "conditional",       # an action depends on a condition a lookup checks ("if it rains, ...")
    "relative_date",     # "tomorrow", "next Monday", "Friday": resolved against REFERENCE_DATE
    "pronoun",           # refers back with it / them / her / that
    "sloppy",            # typos, no capitals or punctuation, chat shorthand
    "mixed",             # part of the request is answered without a tool (no step for it)
    # plan shape (checked against the gold plan)
    "dependency",        # some step depends on another one
    "parallel",          # at least two steps are independent of each other
    # kinds of goals that need no tool
    "general_knowledge", "chit_chat", "math", "writing", "advice",
})
NO_TOOL_KINDS = frozenset({"general_knowledge", "chit_chat", "math", "writing", "advice"})
STEP_REF = re.compile(r"\{\{step_(\d+)\}\}")
ID_RE = re.compile(r"h[wc]-\d{3,}")  # hw-: plans.jsonl; hc-: confirm.jsonl (report-only, see confirm_path)
# the task types the set converts to (tool_selection needs per-sample candidate lists, which it has not)
CONVERSIONS = ("task_planning", "tool_retrieval", "timing_judgment")


def handwritten_path() -> Path:
    """The bundled file."""
    return assets_dir() / "handwritten" / "plans.jsonl"


def confirm_path() -> Path:
    """The confirmation set: goals written after every planner choice of sessions 1-12 was made, by another
    writer, never looked at while choosing anything (ids `hc-NNN`; all of it is a report subset)."""
    return assets_dir() / "handwritten" / "confirm.jsonl"


def _fail(msg: str, where: dict[str, Any], field: str | None) -> DataError:
    return DataError(msg, path=where.get("path"), line=where.get("line"), field=field)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_arguments(args: dict[str, Any], tool: Any, fld: str, where: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator

    props = tool.parameters.get("properties", {})
    for name in args:
        if name not in props:
            raise _fail(f"{tool.tool_id} has no parameter {name!r}", where, f"{fld}.{name}")
    errors = sorted(Draft202012Validator(tool.parameters).iter_errors(args), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        sub = ".".join(str(p) for p in e.path)
        raise _fail(f"{tool.tool_id}: {e.message}", where, f"{fld}.{sub}" if sub else fld)


def _dag_shape(steps: Sequence[dict[str, Any]]) -> tuple[bool, bool]:
    """(has a dependency, has two steps that are independent of each other)."""
    anc: dict[int, set[int]] = {}
    for s in steps:
        deps = set(s["depends_on"])
        anc[s["id"]] = deps.union(*(anc[d] for d in deps)) if deps else set()
    ids = list(anc)
    parallel = any(a < b and a not in anc[b] for i, a in enumerate(ids) for b in ids[i + 1:])
    return any(s["depends_on"] for s in steps), parallel


def validate_item(obj: dict[str, Any], *, catalog: Catalog | None = None, path: str | None = None,
                  line: int | None = None) -> dict[str, Any]:
    """Validate one line; with `catalog`, tool ids must exist and arguments must fit each tool's schema."""
    where = {"path": path, "line": line}
    for k in REQUIRED_KEYS:
        if k not in obj:
            raise _fail("missing required field", where, k)
    for k in obj:
        if k not in KEYS:
            raise _fail(f"unknown field; expected one of {KEYS}", where, k)
    if not isinstance(obj["id"], str) or not ID_RE.fullmatch(obj["id"]):
        raise _fail("expected an id like 'hw-001' (or 'hc-001' in the confirmation set)", where, "id")
    if not isinstance(obj["goal"], str) or not obj["goal"].strip():
        raise _fail("expected a non-empty string", where, "goal")
    intents, needs_tool = obj["intents"], obj["needs_tool"]
    if not _is_int(intents) or not 0 <= intents <= MAX_INTENTS:
        raise _fail(f"expected an int 0-{MAX_INTENTS}", where, "intents")
    if not isinstance(needs_tool, bool):
        raise _fail("expected a bool", where, "needs_tool")
    if needs_tool != (intents > 0):
        raise _fail("needs_tool must be true exactly when intents > 0", where, "needs_tool")
    tags = obj["tags"]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _fail("expected a list of strings", where, "tags")
    for i, t in enumerate(tags):
        if t not in TAGS:
            raise _fail(f"unknown tag {t!r}; expected one of {sorted(TAGS)}", where, f"tags[{i}]")
    if len(set(tags)) != len(tags):
        raise _fail("repeated tag", where, "tags")
    kinds = NO_TOOL_KINDS.intersection(tags)
    if needs_tool and kinds:
        raise _fail(f"tag(s) {sorted(kinds)} are for goals that need no tool", where, "tags")
    if not needs_tool and len(kinds) != 1:
        raise _fail(f"a goal that needs no tool has exactly one of {sorted(NO_TOOL_KINDS)}", where, "tags")
    if "notes" in obj and not isinstance(obj["notes"], str):
        raise _fail("expected a string", where, "notes")
    gold = obj["gold"]
    if not isinstance(gold, dict) or set(gold) != {"steps"}:
        raise _fail('expected {"steps": [...]}', where, "gold")
    steps = gold["steps"]
    if not isinstance(steps, list):
        raise _fail("expected a list of steps", where, "gold.steps")
    if not needs_tool:
        if steps:
            raise _fail("a goal that needs no tool has an empty plan", where, "gold.steps")
    elif len(steps) < intents:
        raise _fail(f"{intents} intents but only {len(steps)} steps", where, "gold.steps")
    for i, st in enumerate(steps):
        f = f"gold.steps[{i}]"
        if not isinstance(st, dict):
            raise _fail("expected an object", where, f)
        extra = set(st) - {"id", "tool_id", "arguments", "depends_on"}
        if extra:
            raise _fail(f"unknown step field(s) {sorted(extra)}", where, f)
        if st.get("id") != i + 1 or not _is_int(st.get("id")):
            raise _fail(f"step ids are 1..n in order; expected {i + 1}", where, f + ".id")
        if not isinstance(st.get("tool_id"), str):
            raise _fail("expected a string", where, f + ".tool_id")
        args = st.get("arguments")
        if not isinstance(args, dict):
            raise _fail("expected an object", where, f + ".arguments")
        deps = st.get("depends_on")
        if not isinstance(deps, list) or not all(_is_int(d) for d in deps):
            raise _fail("expected a list of step ids", where, f + ".depends_on")
        if len(set(deps)) != len(deps):
            raise _fail("repeated dependency", where, f + ".depends_on")
        for d in deps:
            if not 1 <= d < st["id"]:  # an earlier step: the plan is in topological order, hence acyclic
                raise _fail(f"depends on {d}, which is not an earlier step", where, f + ".depends_on")
        for name, val in args.items():
            for ref in STEP_REF.findall(val) if isinstance(val, str) else ():
                if int(ref) not in deps:
                    raise _fail(f"uses {{{{step_{ref}}}}} without depending on step {ref}", where,
                                f"{f}.arguments.{name}")
        if catalog is not None:
            tool = catalog.maybe(st["tool_id"])
            if tool is None:
                raise _fail(f"unknown tool id {st['tool_id']!r}", where, f + ".tool_id")
            _check_arguments(args, tool, f + ".arguments", where)
    alts = obj.get("alternatives")
    if alts is not None:
        if not isinstance(alts, dict) or not alts:
            raise _fail("expected a non-empty object {step id: [tool ids]}", where, "alternatives")
        by_id = {str(s["id"]): s for s in steps}
        for k, v in alts.items():
            f = f"alternatives.{k}"
            if k not in by_id:
                raise _fail(f"no step {k}", where, f)
            if not isinstance(v, list) or not v or not all(isinstance(t, str) for t in v):
                raise _fail("expected a non-empty list of tool ids", where, f)
            for t in v:
                if t == by_id[k]["tool_id"] or v.count(t) > 1:
                    raise _fail(f"{t!r} repeats the step's tool or another alternative", where, f)
                if catalog is not None and t not in catalog:
                    raise _fail(f"unknown tool id {t!r}", where, f)
    if steps:
        has_dep, parallel = _dag_shape(steps)
        for tag, real in (("dependency", has_dep), ("parallel", parallel)):
            if (tag in tags) != real:
                raise _fail(f"tag {tag!r} {'missing' if real else 'does not fit the plan'}", where, "tags")
    elif "dependency" in tags or "parallel" in tags:
        raise _fail("an empty plan has no dependency or parallel steps", where, "tags")
    return obj


def normalize_goal(text: str) -> str:
    """Lowercase, punctuation stripped, whitespace collapsed (the leakage-check normal form)."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def load_handwritten(path: str | Path | None = None, *, catalog: Catalog | None = None,
                     check_catalog: bool = True) -> list[dict[str, Any]]:
    """Load and validate the set (default: the bundled file). Tool ids and arguments are checked against
    `catalog` (default: the bundled catalog) unless `check_catalog` is false."""
    p = Path(path) if path is not None else handwritten_path()
    if check_catalog and catalog is None:
        from core.catalog import load_catalog_cached

        catalog = load_catalog_cached()
    items: list[dict[str, Any]] = []
    ids: dict[str, int] = {}
    goals: dict[str, int] = {}
    for lineno, obj in iter_jsonl(p):
        validate_item(obj, catalog=catalog if check_catalog else None, path=str(p), line=lineno)
        if obj["id"] in ids:
            raise DataError(f"duplicate id {obj['id']!r} (first on line {ids[obj['id']]})", path=str(p),
                            line=lineno, field="id")
        ids[obj["id"]] = lineno
        g = normalize_goal(obj["goal"])
        if g in goals:
            raise DataError(f"the same goal as line {goals[g]}", path=str(p), line=lineno, field="goal")
        goals[g] = lineno
        items.append(obj)
    return items


def _meta(item: dict[str, Any]) -> dict[str, Any]:
    out = {"intents": item["intents"], "tags": list(item["tags"]), "source": "handwritten"}
    if item.get("alternatives"):
        out["alternatives"] = item["alternatives"]
    return out


def to_samples(items: Iterable[dict[str, Any]], task: str = "task_planning") -> list[dict[str, Any]]:
    """Convert items to the sample shape of a task type (docs/DATA.md):

    * task_planning: goals that need a tool; `instruction` = goal, no candidate list (the planner retrieves
      from the whole catalog), `gold.steps` as written.
    * tool_retrieval: goals that need a tool; `gold.tools` = the plan's distinct tools in step order.
    * timing_judgment: every goal, without context; `gold.should_call_tool` = needs_tool, `gold.tool` =
      the plan's first tool (or null). Not balanced: most goals need a tool.
    """
    out: list[dict[str, Any]] = []
    for it in items:
        steps = it["gold"]["steps"]
        if task == "task_planning":
            if it["needs_tool"]:
                out.append({"id": it["id"], "task": task, "instruction": it["goal"], "candidate_tools": None,
                            "gold": {"steps": steps}, **_meta(it)})
        elif task == "tool_retrieval":
            if it["needs_tool"]:
                tools = list(dict.fromkeys(s["tool_id"] for s in steps))
                out.append({"id": it["id"], "task": task, "instruction": it["goal"], "candidate_tools": None,
                            "gold": {"tools": tools}, **_meta(it)})
        elif task == "timing_judgment":
            out.append({"id": it["id"], "task": task, "message": it["goal"], "context": [],
                        "gold": {"should_call_tool": it["needs_tool"],
                                 "tool": steps[0]["tool_id"] if steps else None},
                        "kind": "handwritten", **_meta(it)})
        else:
            raise NotFoundError(f"the hand-written set has no {task} samples; "
                                f"it converts to {', '.join(CONVERSIONS)}")
    return out


def in_subset(sample_id: str, subset: str) -> bool:
    """The set's fixed split by id: `dev` = ids whose number is divisible by 5 (used to choose between pipeline
    variants), `test` = the others (the report subset until session 12, whose query-map decision was taken on it;
    design data since), `all` = every sample. Every id of the confirmation set (`hc-`, the report set now) is
    `test`."""
    if subset == "all":
        return True
    if sample_id.startswith("hc-"):  # the confirmation set has no design part
        return subset == "test"
    digits = "".join(ch for ch in sample_id.split("-")[-1] if ch.isdigit())
    dev = bool(digits) and int(digits) % 5 == 0
    return dev if subset == "dev" else not dev


def is_handwritten_file(path: str | Path) -> bool:
    """True when the file's first non-blank line looks like a hand-written item (a `goal`, no `task`)."""
    try:
        with open(path, "rb") as fh:
            for raw in fh:
                if raw.strip():
                    obj = json.loads(raw)
                    return isinstance(obj, dict) and "goal" in obj and "task" not in obj
    except (OSError, ValueError):
        return False
    return False


def gold_with_alternatives(sample: dict[str, Any], pred_tools: Iterable[str]) -> list[dict[str, Any]]:
    """Gold steps with a step's tool swapped for a listed alternative when the prediction uses that
    alternative and not the gold tool, for alternative-aware scoring. The planning metrics themselves compare
    `tool_id` only; pass `[PlanStep.from_dict(s) for s in gold_with_alternatives(...)]` as gold to use it."""
    alts = sample.get("alternatives") or {}
    pred = Counter(pred_tools)
    steps = [dict(s) for s in sample["gold"]["steps"]]
    used = Counter(s["tool_id"] for s in steps)
    for s in steps:
        if pred[s["tool_id"]] >= used[s["tool_id"]]:
            continue
        for alt in alts.get(str(s["id"]), []):
            if pred[alt] > used[alt]:
                used[s["tool_id"]] -= 1
                used[alt] += 1
                s["tool_id"] = alt
                break
    return steps
