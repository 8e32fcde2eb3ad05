"""Prompt variants of the LLM timing vote: how many candidate tools the scored prompt shows.

The vote scores `{"should_call_tool": true|false` after a prompt. `vote_tools = DEFAULT_VOTE_TOOLS` (5) is
the decider's own `timing_prompt` with the selector's top-5 tool lines (what the shipped adapter was trained
and calibrated on); fewer tools make the prompt cheaper (the tool lines dominate prompt evaluation), and
`0` sends the message and conversation only, with a system text whose example lists no tools.
A calibration belongs to one variant: `variant_tag()` is appended to the model key in calibration.json,
except for the default variant, whose keys stay as they were.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.catalog import Tool
from core.llm.base import Message
from core.llm.prompts import context_block, timing_prompt

DEFAULT_VOTE_TOOLS = 5
VOTE_TOOL_CHOICES = (0, 1, 2, 3, 5)

TIMING_SYSTEM_NO_TOOLS = """Decide if the assistant must call a tool now (live data, an action, a lookup) or can answer directly (chit-chat, general knowledge, or the needed tool result is already in the conversation). Output JSON.
Example.
Message: What's the weather in Oslo right now?
Decision: {"should_call_tool": true, "reason": "needs live weather"}"""


def variant_tag(vote_tools: int) -> str:
    """Suffix of the calibration key for a vote prompt variant ('' for the default variant)."""
    if vote_tools < 0:
        raise ValueError(f"vote_tools must be >= 0, got {vote_tools}")
    return "" if vote_tools == DEFAULT_VOTE_TOOLS else f"|vote:tools{vote_tools}"


def vote_prompt(message: str, context: Sequence[Message], tools: Sequence[Tool], vote_tools: int) -> list[Message]:
    """The prompt the true/false vote is scored after, showing at most `vote_tools` of `tools`."""
    if vote_tools < 0:
        raise ValueError(f"vote_tools must be >= 0, got {vote_tools}")
    if vote_tools == 0:
        return [{"role": "system", "content": TIMING_SYSTEM_NO_TOOLS},
                {"role": "user", "content": f"{context_block(context)}Message: {message}\nDecision:"}]
    return timing_prompt(message, context, list(tools)[:vote_tools])
