"""Training dialogs -> the exact chat messages the planner / timing decider send at inference.

A dialog of `assets/datasets/train/dialogs.jsonl` carries its candidate ids in `tools`, the gold
answer in `gold` and, for timing, the conversation before the last user message in `messages`.
Each is rendered with `core.llm.prompts` (what `core.planning` and `core.timing` send to the model):

* planning, view `flat`: `plan_prompt(goal, tools)` -> `{"steps": [...]}` (flat planner);
* planning, view `subgoals`: `subgoal_prompt(goal)` -> `{"subgoals": [...]}` (hierarchical level 1),
  one canonical sub-goal per gold step (`subgoal_for_step`), at most `MAX_SUBGOALS` groups;
* planning, view `steps`: `steps_all_prompt(goal, tools, subgoals)` -> every gold step tagged with
  its sub-goal number (`{"subgoal": k, "id", ...}`; the batched hierarchical level 2, one call per plan);
* planning, view `steps_each` -> `step<k>`: `step_prompt(goal, tools, done, subgoal_k)` -> that group's
  steps (the per-sub-goal level 2, `level2 = "per_subgoal"`; `done` = the steps of the earlier groups);
* timing: `timing_prompt(message, context, tools[:5])` -> `{"should_call_tool", "tool", "reason"}`
  (the reason is the dialog's own); `variant: "execution"` dialogs become the same decision sample
  (their tool call, tool result and final answer come after the target and are not rendered);
* selection / retrieval: `selection_prompt(request, tools)` -> the first gold tool id (the same
  prompt the evaluator scores candidates with, training/evaluate.py).

Anything without catalog tools falls back to the dialog's own `messages` (the tiny test dialogs).
"""

from __future__ import annotations

import json
from typing import Any

from core.errors import DataError

SELECT_SYSTEM = "Pick the single best tool for the request from the tool list. Answer with the tool id only."
PLAN_VIEWS = ("flat", "subgoals", "steps", "steps_each")  # "steps_each" -> one `step<k>` sample per sub-goal group
MAX_SUBGOALS = 4  # PlannerConfig.max_subgoals
MAX_STEPS_PER_SUBGOAL = 3  # HierarchicalPlanner asks for at most 3 steps per sub-goal
TIMING_TOP_K = 5  # TimingConfig.top_k
SUBGOAL_CHARS = 80  # subgoals_schema maxLength
REASON_CHARS = 60  # timing_schema maxLength


def _catalog() -> Any:
    from core.catalog import load_catalog_cached
    from core.paths import default_catalog_path

    p = default_catalog_path()
    return load_catalog_cached(p) if p.exists() else None


def _tools(sample: dict[str, Any], catalog: Any) -> list[Any]:
    ids = sample.get("tools") or sample.get("candidate_tools") or []
    if catalog is None:
        return []
    return [t for t in (catalog.maybe(i) for i in ids) if t is not None]


def _first_user(messages: list[dict[str, Any]]) -> str:
    return next((m.get("content") or "" for m in messages if m["role"] == "user"), "")


def selection_prompt(request: str, tools: list[Any]) -> list[dict[str, str]]:
    from core.llm.prompts import tools_block

    return [{"role": "system", "content": SELECT_SYSTEM},
            {"role": "user", "content": f"{tools_block(tools)}\nRequest: {request}\nTool:"}]


def timing_reason(should: bool, tool: str | None) -> str:
    return f"needs {tool}" if should and tool else ("needs a tool" if should else "can answer directly")


def _cut(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n].rsplit(" ", 1)[0].rstrip(" ,;")


def subgoal_groups(steps: list[dict[str, Any]], catalog: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    """Gold steps -> at most MAX_SUBGOALS (sub-goal text, steps) groups of consecutive steps."""
    n = len(steps)
    k = min(n, MAX_SUBGOALS)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    groups, at, seen = [], 0, set()
    for size in sizes:
        part = steps[at: at + size]
        at += size
        text = _cut(" and ".join(step_subgoal(s, catalog) for s in part), SUBGOAL_CHARS)
        if text in seen:  # a repeated tool: tell the sub-goals apart by argument values
            text = _cut(" and ".join(step_subgoal(s, catalog, values=True) for s in part), SUBGOAL_CHARS)
        seen.add(text)
        groups.append((text, part))
    return groups


def step_subgoal(step: dict[str, Any], catalog: Any, values: bool = False) -> str:
    """Short sub-goal text for one gold step: the tool's title (+ its first literal argument values when
    `values`, used only to tell apart repeated tools of one plan).

    Datasets carry no sub-goal annotations. Titles only, because every sub-goal token is a sampled token
    at inference: with values the level-1 answer was ~40 tokens, with titles ~19 (measured on the train
    dialogs), and the values are in the goal, which the level-2 prompt shows anyway.
    """
    tool = catalog.maybe(step["tool_id"]) if catalog is not None else None
    title = (tool.name if tool is not None and tool.name else step["tool_id"].replace("_", " ")).lower()
    vals = [str(v) for v in (step.get("arguments") or {}).values() if "{{step_" not in str(v)][:2] if values else []
    return _cut(title + (f" ({', '.join(vals)})" if vals else ""), SUBGOAL_CHARS)


def expand_views(samples: list[dict[str, Any]], plan_views: list[str] | tuple[str, ...] = ("flat",),
                 timing_share: float = 0.0, seed: int = 0) -> list[dict[str, Any]]:
    """One training sample per inference call type: planning dialogs become one sample per view.

    Derived samples get ids `<dialog id>:<view>` and a `view` field; other tasks are unchanged.
    `timing_share` > 0: see `balance_timing` (applied after the expansion).
    """
    bad = [v for v in plan_views if v not in PLAN_VIEWS]
    if bad:
        raise DataError(f"unknown planning view(s) {bad}; expected {list(PLAN_VIEWS)}", field="data.plan_views")
    if list(plan_views) == ["flat"]:
        return balance_timing(samples, timing_share, seed) if timing_share > 0 else samples
    catalog = _catalog()
    out: list[dict[str, Any]] = []
    for s in samples:
        steps = (s.get("gold") or {}).get("steps")
        if s.get("task") != "task_planning" or not steps:
            out.append(s)
            continue
        for v in plan_views:
            if v == "steps_each":
                n_groups = len(subgoal_groups(steps, catalog))
                out += [{**s, "id": f"{s['id']}:step{k}", "view": f"step{k}"} for k in range(n_groups)]
            else:
                out.append({**s, "id": f"{s['id']}:{v}", "view": v})
    return balance_timing(out, timing_share, seed) if timing_share > 0 else out


def _is_call(s: dict[str, Any]) -> bool:
    return bool((s.get("gold") or {}).get("should_call_tool"))


def balance_timing(samples: list[dict[str, Any]], share: float, seed: int = 0) -> list[dict[str, Any]]:
    """Make timing samples `share` of the pool, with as many "call" as "no call" answers.

    Timing samples are first balanced (the larger class is subsampled to the smaller one); then
    either the other samples are subsampled (too few timing samples) or the timing samples are
    (too many), each class alike. Deterministic for `seed`; the original order is kept.
    (Why: the first shipped adapter saw ~20 % timing samples, 1 decision token each among planning
    answers of ~100 tokens, and learned to always answer "call".)
    """
    import random

    if not 0 < share < 1:
        raise DataError(f"timing_share must be in (0, 1), got {share}", field="data.timing_share")
    timing = [i for i, s in enumerate(samples) if s.get("task") == "timing_judgment"]
    if not timing:
        return samples
    rng = random.Random(seed * 7919 + 17)
    calls = [i for i in timing if _is_call(samples[i])]
    nocalls = [i for i in timing if not _is_call(samples[i])]
    per_class = min(len(calls), len(nocalls)) or max(len(calls), len(nocalls))
    others = [i for i, s in enumerate(samples) if s.get("task") != "timing_judgment"]
    n_other_wanted = int(round(2 * per_class * (1 - share) / share))
    if n_other_wanted < len(others):
        others = rng.sample(others, n_other_wanted)
    else:  # too many timing samples for the others: shrink both classes
        per_class = max(1, int(round(len(others) * share / (1 - share) / 2)))
    keep = set(others)
    for cls in (calls, nocalls):
        keep |= set(rng.sample(cls, min(per_class, len(cls))))
    return [s for i, s in enumerate(samples) if i in keep]


def _planning(sample: dict[str, Any], tools: list[Any], catalog: Any) -> list[dict[str, Any]]:
    from core.llm import prompts

    msgs = sample.get("messages") or []
    goal = sample.get("instruction") or _first_user(msgs)
    steps = sample["gold"]["steps"]
    view = sample.get("view") or "flat"
    if view == "flat":
        return [*prompts.plan_prompt(goal, tools), {"role": "assistant", "content": prompts.steps_target(steps)}]
    groups = subgoal_groups(steps, catalog)
    if view == "subgoals":
        target = prompts.answer_json({"subgoals": [g for g, _ in groups]})
        return [*prompts.subgoal_prompt(goal), {"role": "assistant", "content": target}]
    if view == "steps":
        tags = [k for k, (_, part) in enumerate(groups, start=1) for _ in part]
        return [*prompts.steps_all_prompt(goal, tools, [g for g, _ in groups]),
                {"role": "assistant", "content": prompts.tagged_steps_target(steps, tags)}]
    if view.startswith("step") and view[4:].isdigit() and int(view[4:]) < len(groups):
        k = int(view[4:])
        done = [(s["id"], s["tool_id"]) for _, part in groups[:k] for s in part]
        text, part = groups[k]
        return [*prompts.step_prompt(goal, tools, done, text), {"role": "assistant", "content": prompts.steps_target(part)}]
    raise DataError(f"sample {sample.get('id')!r}: unknown planning view {view!r}", field="view")


def _timing(sample: dict[str, Any], tools: list[Any]) -> list[dict[str, Any]]:
    from core.llm import prompts

    msgs = sample.get("messages") or []
    gold = sample["gold"]
    users = [i for i, m in enumerate(msgs) if m["role"] == "user"]
    last = users[-1] if users else 0
    message = sample.get("message") or (msgs[last].get("content") if msgs else "") or ""
    context = [m for m in (sample.get("context") or msgs[:last]) if m["role"] != "system"]
    should, tool = gold["should_call_tool"], gold.get("tool")
    reason = ""
    answer_msg = msgs[last + 1] if last + 1 < len(msgs) and msgs[last + 1]["role"] == "assistant" else None
    if answer_msg and answer_msg.get("content"):
        try:
            reason = str(json.loads(answer_msg["content"]).get("reason") or "")
        except (json.JSONDecodeError, AttributeError):
            reason = ""
    reason = _cut(reason, REASON_CHARS) or timing_reason(should, tool)
    shown = tools[:TIMING_TOP_K]
    gold_tool = next((t for t in tools if t.tool_id == tool), None)
    if gold_tool is not None and gold_tool not in shown:  # the gold tool stays among the shown candidates
        shown = [*tools[: TIMING_TOP_K - 1], gold_tool]
    answer = prompts.answer_json({"should_call_tool": should, "tool": tool if should else None, "reason": reason})
    return [*prompts.timing_prompt(message, context, shown), {"role": "assistant", "content": answer}]


def dialog_messages(sample: dict[str, Any], catalog: Any = None) -> list[dict[str, Any]]:
    """Chat messages (ending with the assistant answer) for one training sample."""
    msgs = sample.get("messages") or []
    gold = sample.get("gold") or {}
    task = sample.get("task")
    catalog = catalog if catalog is not None else _catalog()
    tools = _tools(sample, catalog)
    if tools:
        if task == "task_planning" and gold.get("steps"):
            return _planning(sample, tools, catalog)
        if task == "timing_judgment" and isinstance(gold.get("should_call_tool"), bool):
            return _timing(sample, tools)
        if task in ("tool_selection", "tool_retrieval") and gold.get("tools"):
            request = sample.get("instruction") or _first_user(msgs)
            return [*selection_prompt(request, tools), {"role": "assistant", "content": gold["tools"][0]}]
    if not isinstance(msgs, list) or not msgs:
        raise DataError(f"sample {sample.get('id')!r} has no chat messages", field="messages")
    return msgs
