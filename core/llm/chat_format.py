"""Prompt rendering for chat messages: Gemma turns (the bundled base GGUF has no template) and ChatML.

The training helper renders SFT data with the same functions, so inference and training match.
BOS is not part of the text: the tokenizer adds it (llama.cpp `add_bos`, HF `add_special_tokens`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.errors import UsageError
from core.llm.base import Message

GEMMA_STOP = ["<end_of_turn>"]
CHATML_STOP = ["<|im_end|>", "<|endoftext|>"]


def _merge_system(messages: Sequence[Message]) -> list[Message]:
    """Gemma has no system role: system text is merged into the first user turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system" and m.get("content"))
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system:
        if rest and rest[0]["role"] == "user":
            rest[0]["content"] = f"{system}\n\n{rest[0].get('content') or ''}"
        else:
            rest.insert(0, {"role": "user", "content": system})
    return rest


def render_gemma(messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
    """`<start_of_turn>user\\n...<end_of_turn>\\n<start_of_turn>model\\n...` (tool results as user turns)."""
    parts = []
    for m in _merge_system(messages):
        role = "model" if m["role"] == "assistant" else "user"
        content = m.get("content") or ""
        if m["role"] == "tool":
            content = f"Tool result: {content}"
        parts.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    if add_generation_prompt:
        parts.append("<start_of_turn>model\n")
    return "".join(parts)


def render_chatml(messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
    """Qwen / ChatML: `<|im_start|>role\\n...<|im_end|>\\n`."""
    parts = [f"<|im_start|>{m['role']}\n{m.get('content') or ''}<|im_end|>\n" for m in messages]
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)


Renderer = Callable[..., str]
FORMATS: dict[str, tuple[Renderer, list[str]]] = {
    "gemma": (render_gemma, GEMMA_STOP),
    "chatml": (render_chatml, CHATML_STOP),
}


def get_format(name: str) -> tuple[Renderer, list[str]]:
    """(renderer, stop strings) for a chat format name."""
    try:
        return FORMATS[name]
    except KeyError:
        raise UsageError(f"unknown chat format {name!r}; expected one of {sorted(FORMATS)}") from None
