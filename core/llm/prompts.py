"""Prompt builders and output schemas for planning and timing (deterministic; no llama_cpp import).

Every prompt is `[system (fixed instructions + one fixed few-shot example)] + [user (variable part)]`.
The system text never changes, so llama.cpp reuses its cached prefix across calls. The training
capability renders SFT data with these same builders plus `render_gemma` (core/llm/chat_format.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.catalog import Tool
from core.llm.base import Message

MAX_DESC_CHARS = 90

PLAN_SYSTEM = """You are a planner. Pick tools ONLY from the numbered tool list and output a JSON plan.
Each step: "id" (1, 2, ...), "tool_id" (from the list), "arguments" (values taken from the goal), "depends_on" (ids of earlier steps whose output it needs).
Example.
Tools:
- weather_lookup: Get the weather forecast for a city (city, date)
- send_sms: Send a text message (to, text)
Goal: Check tomorrow's weather in Oslo and text it to Ana.
Plan: {"steps": [{"id": 1, "tool_id": "weather_lookup", "arguments": {"city": "Oslo", "date": "tomorrow"}, "depends_on": []}, {"id": 2, "tool_id": "send_sms", "arguments": {"to": "Ana", "text": "weather report"}, "depends_on": [1]}]}"""

SUBGOAL_SYSTEM = """You split a goal into short sub-goals, in execution order, one action each. Output JSON.
Example.
Goal: Check tomorrow's weather in Oslo and text it to Ana.
Sub-goals: {"subgoals": ["get tomorrow's weather in Oslo", "send the forecast to Ana by text message"]}"""

STEP_SYSTEM = """You turn one sub-goal into tool steps. Use ONLY tools from the list. Number new steps after the existing ones; "depends_on" lists ids of earlier steps whose output is needed. Output JSON.
Example.
Tools:
- weather_lookup: Get the weather forecast for a city (city, date)
- send_sms: Send a text message (to, text)
Goal: Check tomorrow's weather in Oslo and text it to Ana.
Done: 1 weather_lookup
Sub-goal: send the forecast to Ana by text message
Steps: {"steps": [{"id": 2, "tool_id": "send_sms", "arguments": {"to": "Ana", "text": "weather report"}, "depends_on": [1]}]}"""

STEPS_ALL_SYSTEM = """You turn numbered sub-goals into tool steps. Use ONLY tools from the list. Each step: "subgoal" (the number of its sub-goal), "id" (1, 2, ...), "tool_id" (from the list), "arguments" (values taken from the goal), "depends_on" (ids of earlier steps whose output it needs). Output JSON.
Example.
Tools:
- weather_lookup: Get the weather forecast for a city (city, date)
- send_sms: Send a text message (to, text)
Goal: Check tomorrow's weather in Oslo and text it to Ana.
Sub-goals:
1. get tomorrow's weather in Oslo
2. send the forecast to Ana by text message
Steps: {"steps": [{"subgoal": 1, "id": 1, "tool_id": "weather_lookup", "arguments": {"city": "Oslo", "date": "tomorrow"}, "depends_on": []}, {"subgoal": 2, "id": 2, "tool_id": "send_sms", "arguments": {"to": "Ana", "text": "weather report"}, "depends_on": [1]}]}"""

TIMING_SYSTEM = """Decide if the assistant must call a tool now (live data, an action, a lookup) or can answer directly (chit-chat, general knowledge, or the needed tool result is already in the conversation). Output JSON.
Example.
Tools:
- weather_lookup: Get the weather forecast for a city (city, date)
Message: What's the weather in Oslo right now?
Decision: {"should_call_tool": true, "tool": "weather_lookup", "reason": "needs live weather"}"""


MAX_PARAMS_SHOWN = 8


def tool_line(tool: Tool, desc_chars: int = MAX_DESC_CHARS) -> str:
    """`- id: description (param, param)` with the description cut at `desc_chars` (0: no description) and at
    most MAX_PARAMS_SHOWN parameter names (required ones first) when the description is shortened."""
    desc = " ".join(tool.description.split())
    if len(desc) > desc_chars:
        desc = desc[: max(0, desc_chars - 1)].rstrip() + "…" if desc_chars > 0 else ""
    names = list(tool.param_names)
    if desc_chars < MAX_DESC_CHARS and len(names) > MAX_PARAMS_SHOWN:
        required = [n for n in names if n in set((tool.parameters or {}).get("required") or [])]
        names = list(dict.fromkeys([*required, *names]))[:MAX_PARAMS_SHOWN] + ["…"]
    params = ", ".join(names)
    return f"- {tool.tool_id}: {desc} ({params})" if desc else f"- {tool.tool_id} ({params})"


def tools_block(tools: Sequence[Tool], desc_chars: int = MAX_DESC_CHARS) -> str:
    return "Tools:\n" + "\n".join(tool_line(t, desc_chars) for t in tools)


def _args_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}


def steps_schema(tool_ids: Sequence[str], max_steps: int) -> dict[str, Any]:
    """`{"steps": [...]}` with `tool_id` restricted to `tool_ids` (enum, enforced by the grammar)."""
    step = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "tool_id": {"enum": list(tool_ids)},
            "arguments": _args_schema(),
            "depends_on": {"type": "array", "items": {"type": "integer"}, "maxItems": 4},
        },
        "required": ["id", "tool_id", "arguments", "depends_on"],
    }
    return {"type": "object", "properties": {"steps": {"type": "array", "items": step, "minItems": 1,
                                                       "maxItems": max_steps}}, "required": ["steps"]}


MAX_ARG_CHARS = 80
STEP_ID_LIMIT = 16


def _param_schema(node: dict[str, Any]) -> dict[str, Any]:
    """A catalog parameter -> the value schema used for decoding (strings bounded, arrays of scalars)."""
    if "enum" in node:
        return {"enum": list(node["enum"])}
    t = node.get("type")
    if t == "array":
        items = node.get("items") if isinstance(node.get("items"), dict) else {"type": "string"}
        return {"type": "array", "items": _param_schema(items), "maxItems": 6}
    if t in ("integer", "number"):
        bounds = {k: node[k] for k in ("minimum", "maximum") if isinstance(node.get(k), int | float)}
        return {"type": t, **bounds}
    if t == "boolean":
        return {"type": t}
    return {"type": "string", "maxLength": MAX_ARG_CHARS}


def _step_shapes(tools: Sequence[Tool], ids: dict[str, Any], deps: dict[str, Any]) -> list[dict[str, Any]]:
    """One step shape per candidate tool (`tool_id` fixed, `arguments` limited to that tool's parameters)."""
    shapes = []
    for t in tools:
        props = (t.parameters or {}).get("properties") or {}
        # any order, none required: training targets keep the generator's argument order (tests check that every
        # gold plan is in the decoding language); numeric bounds and enums are enforced
        args = {"type": "object", "properties": {k: _param_schema(v) for k, v in props.items()},
                "additionalProperties": False}
        shapes.append({"type": "object", "properties": {
            "id": ids, "tool_id": {"enum": [t.tool_id]}, "arguments": args, "depends_on": deps},
            "required": ["id", "tool_id", "arguments", "depends_on"]})
    return shapes


def _earlier_ids(step_id: int) -> dict[str, Any]:
    """`depends_on` of step `step_id` in a sequentially numbered plan: ids of earlier steps only."""
    if step_id <= 1:
        return {"type": "array", "items": {"type": "integer"}, "maxItems": 0}
    return {"type": "array", "items": {"enum": list(range(1, step_id))}, "maxItems": min(4, step_id - 1)}


def tool_steps_schema(tools: Sequence[Tool], max_steps: int, *, first_id: int | None = None) -> dict[str, Any]:
    """Like `steps_schema`, but each step's `arguments` may only use the chosen tool's parameters.

    Decoding-only (the prompts are unchanged): `anyOf` one step shape per candidate tool; argument keys
    are optional and in any order. This keeps a small model from inventing keys and running to max_tokens;
    the required keys are still checked by the validators.

    `first_id` None: ids are 1..STEP_ID_LIMIT. `first_id` k: steps are numbered k, k+1, ... as in the
    training targets, one schema per array position (`prefixItems`): the id is a constant and `depends_on`
    may only name earlier ids, so a guided decoder fast-forwards the ids instead of sampling them. Only for
    backends that decode `prefixItems` within `minItems`/`maxItems` exactly (`supports_prefix_items`).
    """
    if first_id is None:
        ids = {"enum": list(range(1, STEP_ID_LIMIT + 1))}
        items: dict[str, Any] = {"items": {"anyOf": _step_shapes(tools, ids, {"type": "array", "items": ids,
                                                                             "maxItems": 4})}}
    else:
        items = {"prefixItems": [{"anyOf": _step_shapes(tools, {"const": k}, _earlier_ids(k))}
                                 for k in range(first_id, first_id + max_steps)], "items": False}
    return {"type": "object", "properties": {"steps": {"type": "array", **items, "minItems": 1,
                                                       "maxItems": max_steps}}, "required": ["steps"]}


def tagged_steps_schema(tools: Sequence[Tool], max_steps: int, n_subgoals: int, *,
                        first_id: int | None = None,
                        allowed: dict[int, Sequence[str]] | None = None) -> dict[str, Any]:
    """Decoding schema of the batched level 2 (`steps_all_prompt`): `tool_steps_schema` with a leading
    `"subgoal"` key restricted to the existing sub-goal numbers 1..n_subgoals (enum), so every step is
    tagged with its sub-goal and `tool_id` can still only be a candidate. With `first_id` (positional
    schema) the first step belongs to sub-goal 1, as in every training target.

    `allowed` (sub-goal number -> tool ids) couples the two: a step tagged with sub-goal k may only use
    a tool of `allowed[k]` (each tool's shape lists only the sub-goals that allow it; tools no sub-goal
    allows at a position are left out there). The prompt is unchanged; only decoding is narrowed."""
    base = tool_steps_schema(tools, max_steps, first_id=first_id)
    arr = base["properties"]["steps"]
    positions = arr["prefixItems"] if "prefixItems" in arr else [arr["items"]]
    for i, pos in enumerate(positions):
        ks = [1] if i == 0 and "prefixItems" in arr else list(range(1, max(1, n_subgoals) + 1))
        shapes = []
        for shape in pos["anyOf"]:
            tool_id = shape["properties"]["tool_id"]["enum"][0]
            mine = ks if allowed is None else [k for k in ks if tool_id in allowed.get(k, ())]
            if not mine:
                continue
            shape["properties"] = {"subgoal": {"enum": mine}, **shape["properties"]}
            shape["required"] = ["subgoal", *shape["required"]]
            shapes.append(shape)
        if not shapes:
            raise ValueError(f"no tool is allowed for sub-goal(s) {ks} at step position {i + 1}")
        pos["anyOf"] = shapes
    return base


def subgoals_schema(max_subgoals: int) -> dict[str, Any]:
    item = {"type": "string", "minLength": 3, "maxLength": 80}
    return {"type": "object", "properties": {"subgoals": {"type": "array", "items": item, "minItems": 1,
                                                          "maxItems": max_subgoals}}, "required": ["subgoals"]}


def timing_schema(tool_ids: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "should_call_tool": {"type": "boolean"},
            "tool": {"enum": [*tool_ids, None]},
            "reason": {"type": "string", "maxLength": 60},
        },
        "required": ["should_call_tool", "tool", "reason"],
    }


def plan_prompt(goal: str, tools: Sequence[Tool], desc_chars: int = MAX_DESC_CHARS) -> list[Message]:
    """Single-shot (flat) plan prompt; the answer is `{"steps": [...]}`."""
    return [{"role": "system", "content": PLAN_SYSTEM},
            {"role": "user", "content": f"{tools_block(tools, desc_chars)}\nGoal: {goal}\nPlan:"}]


def subgoal_prompt(goal: str) -> list[Message]:
    """Level 1 of the hierarchical planner; the answer is `{"subgoals": [str, ...]}`."""
    return [{"role": "system", "content": SUBGOAL_SYSTEM}, {"role": "user", "content": f"Goal: {goal}\nSub-goals:"}]


def step_prompt(goal: str, tools: Sequence[Tool], done: Sequence[tuple[int, str]], subgoal: str,
                desc_chars: int = MAX_DESC_CHARS) -> list[Message]:
    """Level 2: steps for one sub-goal. `done` = (id, tool_id) of steps planned so far (shared prefix)."""
    done_txt = ", ".join(f"{i} {t}" for i, t in done) or "none"
    return [{"role": "system", "content": STEP_SYSTEM},
            {"role": "user", "content": f"{tools_block(tools, desc_chars)}\nGoal: {goal}\nDone: {done_txt}\nSub-goal: {subgoal}\nSteps:"}]


def subgoals_block(subgoals: Sequence[str]) -> str:
    return "Sub-goals:\n" + "\n".join(f"{i}. {t}" for i, t in enumerate(subgoals, start=1))


def steps_all_prompt(goal: str, tools: Sequence[Tool], subgoals: Sequence[str],
                     desc_chars: int = MAX_DESC_CHARS, today: str | None = None) -> list[Message]:
    """Level 2, batched: the steps of every sub-goal in one call; each step carries `"subgoal": k`. `today`
    (e.g. "Wednesday 2025-10-15") adds a line so relative dates ("tomorrow", "on Friday") can be resolved."""
    day = f"Today: {today}\n" if today else ""
    return [{"role": "system", "content": STEPS_ALL_SYSTEM},
            {"role": "user", "content": f"{tools_block(tools, desc_chars)}\n{day}Goal: {goal}\n{subgoals_block(subgoals)}\nSteps:"}]


def context_block(context: Sequence[Message], max_messages: int = 4, max_chars: int = 200) -> str:
    lines = []
    for m in list(context)[-max_messages:]:
        text = " ".join((m.get("content") or "").split())[:max_chars]
        if m.get("tool_calls"):
            names = ",".join(c.get("function", {}).get("name", "?") for c in m["tool_calls"])  # type: ignore[union-attr]
            text = (text + f" [called {names}]").strip()
        lines.append(f"{m['role']}: {text}")
    return "Conversation:\n" + "\n".join(lines) + "\n" if lines else ""


def timing_prompt(message: str, context: Sequence[Message], tools: Sequence[Tool]) -> list[Message]:
    """The answer is `{"should_call_tool": bool, "tool": id|null, "reason": str}`."""
    return [{"role": "system", "content": TIMING_SYSTEM},
            {"role": "user", "content": f"{tools_block(tools)}\n{context_block(context)}Message: {message}\nDecision:"}]


def answer_json(obj: dict[str, Any]) -> str:
    """The assistant text a trained model should produce for a target object (training side)."""
    return json.dumps(obj, ensure_ascii=False)


def steps_target(steps: Sequence[dict[str, Any]]) -> str:
    """Gold steps -> assistant answer for `plan_prompt` / `step_prompt`."""
    return answer_json({"steps": [{"id": s["id"], "tool_id": s["tool_id"], "arguments": s.get("arguments", {}),
                                   "depends_on": list(s.get("depends_on", []))} for s in steps]})


def tagged_steps_target(steps: Sequence[dict[str, Any]], subgoal_of: Sequence[int]) -> str:
    """Gold steps + the sub-goal number (1-based) of each -> assistant answer for `steps_all_prompt`."""
    return answer_json({"steps": [{"subgoal": int(k), "id": s["id"], "tool_id": s["tool_id"],
                                   "arguments": s.get("arguments", {}), "depends_on": list(s.get("depends_on", []))}
                                  for s, k in zip(steps, subgoal_of, strict=True)]})


def subgoal_for_step(tool: Tool, arguments: dict[str, Any]) -> str:
    """Canonical sub-goal text for one gold step (training data has no sub-goal annotations)."""
    first = tool.description.split(". ")[0].rstrip(".")
    vals = ", ".join(str(v) for v in list(arguments.values())[:2])
    text = f"{first[:1].lower()}{first[1:]}" + (f" ({vals})" if vals else "")
    return text[:80]


CHOOSE_SYSTEM = """You match requests to tools. For each numbered request, pick the one listed tool whose action does what the request asks: look at the verb (find, get, create, send, book, cancel, delete, share ...) as much as the object. Answer "none" when no listed tool does it. Output JSON: {"picks": [one tool id or "none" per request, in order]}."""
NONE_PICK = "none"


def choose_prompt(goal: str, clauses: Sequence[str], options: Sequence[Sequence[Tool]],
                  desc_chars: int = 80) -> list[Message]:
    """Grounded planner, tool choice: each clause of the goal with its retrieved tools, best-ranked first."""
    blocks = []
    for i, (text, tools) in enumerate(zip(clauses, options, strict=True), start=1):
        lines = "\n".join("  " + tool_line(t, desc_chars) for t in tools)
        blocks.append(f"Request {i}: {text}\n{lines}")
    return [{"role": "system", "content": CHOOSE_SYSTEM},
            {"role": "user", "content": f"Goal: {goal}\n\n" + "\n\n".join(blocks) + "\n\nPicks:"}]


def choose_schema(options: Sequence[Sequence[str]], *, positional: bool = True) -> dict[str, Any]:
    """`{"picks": [...]}`: position k is one of request k's tool ids or "none" (enforced by the grammar).
    `positional` False (a backend without `prefixItems`): any listed id at any position; the caller checks."""
    n = len(options)
    if positional:
        arr: dict[str, Any] = {"prefixItems": [{"enum": [*ids, NONE_PICK]} for ids in options], "items": False}
    else:
        arr = {"items": {"enum": [*dict.fromkeys(t for ids in options for t in ids), NONE_PICK]}}
    return {"type": "object", "properties": {"picks": {"type": "array", **arr, "minItems": n, "maxItems": n}},
            "required": ["picks"]}


REWRITE_SYSTEM = ("Rewrite the user's request as one short command for a software tool: an imperative verb, then what it "
                  "acts on, with the key details (names, places, numbers). Use plain words for the action (e.g. 'turn "
                  "on', 'unsubscribe', 'report ... as stolen', 'start', 'cancel'). If the text asks for no action or "
                  "lookup, return an empty command.")
# invented examples, none from an evaluation set (docs/PLANNING.md, session 9)
REWRITE_SHOTS = (("the bathroom's freezing", "turn up the heating in the bathroom"),
                 ("can't make it to the 3pm with Raj after all", "cancel the 3pm meeting with Raj"),
                 ("what's the damage on my visa this month", "get this month's spending on my Visa card"),
                 ("thanks, that's great", ""),
                 ("sort out a cab to the station for 7", "book a taxi to the station at 7:00"))
REWRITE_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"command": {"type": "string", "maxLength": 80}},
                                  "required": ["command"]}


REWRITE_CONTEXT_SYSTEM = (REWRITE_SYSTEM.replace("Rewrite the user's request", "Rewrite the marked part of the user's "
                                                                              "message")
                          + " Use the rest of the message only to resolve what the part refers to.")
# invented examples, none from an evaluation set: (message, part) -> command
REWRITE_CONTEXT_SHOTS = ((("The bathroom's freezing, can you sort it out?", "sort it out"),
                          "turn up the heating in the bathroom"),
                         (("Can't make it to the 3pm with Raj after all, let him know",
                           "Can't make it to the 3pm with Raj after all"), "cancel the 3pm meeting with Raj"),
                         (("what's the damage on my visa this month and how does it compare to last month",
                           "how does it compare to last month"),
                          "compare this month's and last month's spending on my Visa card"),
                         (("thanks, that's great", "thanks, that's great"), ""),
                         (("Early start tomorrow. Sort out a cab to the station for 7", "Early start tomorrow"), ""))


def rewrite_prompt(clause: str, goal: str | None = None) -> list[Message]:
    """Grounded planner, `clause_rewrite`: one clause of a goal as a plain tool command (few-shot chat); with
    `goal` (`rewrite_context`), the whole message is shown and the clause marked as the part to rewrite."""
    if goal is None:
        msgs: list[Message] = [{"role": "system", "content": REWRITE_SYSTEM}]
        for q, a in REWRITE_SHOTS:
            msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": json.dumps({"command": a})}]
        return [*msgs, {"role": "user", "content": clause}]
    msgs = [{"role": "system", "content": REWRITE_CONTEXT_SYSTEM}]
    for (m, part), a in REWRITE_CONTEXT_SHOTS:
        msgs += [{"role": "user", "content": f"Message: {m}\nPart: {part}"},
                 {"role": "assistant", "content": json.dumps({"command": a})}]
    return [*msgs, {"role": "user", "content": f"Message: {goal}\nPart: {clause}"}]
