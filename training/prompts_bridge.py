"""Training dialogs -> the exact chat messages the planner / timing decider send at inference.

Planning and timing samples are rendered with `core.llm.prompts` (plan_prompt, timing_prompt,
steps_target, answer_json) so the shipped adapter learns the inference-time format; tool
selection uses `selection_prompt` below (also used by the evaluator's constrained choice).
Anything else falls back to the dialog's own `messages`.
"""

from __future__ import annotations

import json
from typing import Any

from core.errors import DataError

SELECT_SYSTEM = "Pick the single best tool for the request from the tool list. Answer with the tool id only."


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

    return [{"role": "system", "content": SELECT_SYSTEM}, {"role": "user", "content": f"{tools_block(tools)}\nRequest: {request}\nTool:"}]


def timing_reason(should: bool, tool: str | None) -> str:
    return f"needs {tool}" if should and tool else ("needs a tool" if should else "can answer directly")


def dialog_messages(sample: dict[str, Any], catalog: Any = None) -> list[dict[str, Any]]:
    """Chat messages (ending with the assistant answer) for one training dialog."""
    msgs = sample.get("messages") or []
    gold = sample.get("gold") or {}
    task = sample.get("task")
    catalog = catalog if catalog is not None else _catalog()
    tools = _tools(sample, catalog)
    if tools:
        from core.llm import prompts

        if task == "task_planning" and gold.get("steps"):
            goal = sample.get("instruction") or _first_user(msgs)
            return [*prompts.plan_prompt(goal, tools), {"role": "assistant", "content": prompts.steps_target(gold["steps"])}]
        if task == "timing_judgment" and isinstance(gold.get("should_call_tool"), bool):
            users = [i for i, m in enumerate(msgs) if m["role"] == "user"]
            last = users[-1] if users else 0
            message = sample.get("message") or (msgs[last].get("content") if msgs else "") or ""
            context = sample.get("context") or msgs[:last]
            context = [m for m in context if m["role"] != "system"]
            should, tool = gold["should_call_tool"], gold.get("tool")
            answer = prompts.answer_json({"should_call_tool": should, "tool": tool if should else None,
                                          "reason": timing_reason(should, tool)})
            return [*prompts.timing_prompt(message, context, tools), {"role": "assistant", "content": answer}]
        if task in ("tool_selection", "tool_retrieval") and gold.get("tools"):
            request = sample.get("instruction") or _first_user(msgs)
            return [*selection_prompt(request, tools), {"role": "assistant", "content": gold["tools"][0]}]
    if not isinstance(msgs, list) or not msgs:
        raise DataError(f"sample {sample.get('id')!r} has no chat messages", field="messages")
    return msgs


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)
