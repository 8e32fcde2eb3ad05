"""Dialog -> chat-formatted tokens with labels on assistant tokens only; dynamic-padding collator.

The Gemma turn format (what the bundled model sees at inference) is
`<start_of_turn>user\\n...<end_of_turn>\\n<start_of_turn>model\\n...<end_of_turn>\\n`, with the
system text merged into the first user turn. Models with their own chat template use it.
Supervision is on the assistant bodies (and their closing `<end_of_turn>`), nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.errors import DataError

IGNORE = -100


def assistant_text(msg: dict[str, Any]) -> str:
    """The text an assistant turn should produce: its content, or its tool calls as JSON."""
    calls = msg.get("tool_calls") or []
    if calls:
        payload = []
        for c in calls:
            fn = c.get("function", {})
            args = fn.get("arguments", "{}")
            try:
                args = json.loads(args) if isinstance(args, str) else args
            except json.JSONDecodeError:
                pass
            payload.append({"name": fn.get("name"), "arguments": args})
        body = json.dumps({"tool_calls": payload}, ensure_ascii=False)
        content = (msg.get("content") or "").strip()
        return f"{content}\n{body}" if content else body
    return msg.get("content") or ""


def _turns(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(role, text) turns, system merged into the first user turn.

    Mirrors `core.llm.chat_format.render_gemma` (what the planner sends at inference):
    tool results become user turns prefixed "Tool result: ".
    """
    system = "\n\n".join(m.get("content") or "" for m in messages if m["role"] == "system" and m.get("content"))
    turns: list[tuple[str, str]] = []
    for m in messages:
        role = m["role"]
        if role == "system":
            continue
        if role == "assistant":
            turns.append(("model", assistant_text(m)))
            continue
        text = m.get("content") or ""
        if role == "tool":
            text = f"Tool result: {text}"
        turns.append(("user", text))
    if system:
        if turns and turns[0][0] == "user":
            turns[0] = ("user", system + "\n\n" + turns[0][1])
        else:
            turns.insert(0, ("user", system))
    return turns


def render_gemma(messages: list[dict[str, Any]]) -> tuple[str, list[tuple[int, int]]]:
    """Render with the Gemma turn format; return the text and the supervised character spans."""
    text, spans = "", []
    for role, body in _turns(messages):
        head = f"<start_of_turn>{role}\n"
        text += head
        start = len(text)
        text += body + "<end_of_turn>"
        if role == "model":
            spans.append((start, len(text)))
        text += "\n"
    return text, spans


def render_template(tokenizer: Any, messages: list[dict[str, Any]]) -> tuple[str, list[tuple[int, int]]]:
    """Render with the tokenizer's own chat template; supervised spans from prefix differences."""
    msgs = [{"role": "assistant" if r == "model" else "user", "content": t} for r, t in _turns(messages)]
    spans, prev = [], ""
    for i, m in enumerate(msgs):
        cur = tokenizer.apply_chat_template(msgs[: i + 1], tokenize=False)
        if not cur.startswith(prev):
            raise DataError("chat template is not prefix-stable; use model.chat_format = 'gemma'")
        if m["role"] == "assistant":
            body_at = cur.find(m["content"], len(prev))
            if body_at >= 0:
                spans.append((body_at, len(cur)))
        prev = cur
    return prev, spans


def pick_format(tokenizer: Any, chat_format: str = "auto") -> str:
    """gemma when the tokenizer knows `<start_of_turn>`, else its own chat template (if any)."""
    if chat_format != "auto":
        return chat_format
    tid = tokenizer.convert_tokens_to_ids("<start_of_turn>")  # not get_vocab(): a 262k-entry dict per call
    if tid is not None and tid != tokenizer.unk_token_id:
        return "gemma"
    return "template" if getattr(tokenizer, "chat_template", None) else "gemma"


@dataclass
class Encoded:
    sample_id: str
    task: str
    input_ids: list[int]
    labels: list[int]

    @property
    def n_supervised(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def encode_dialog(
    sample: dict[str, Any], tokenizer: Any, *, max_len: int = 256, chat_format: str = "auto"
) -> Encoded | None:
    """Tokenize one dialog; None when truncation leaves no supervised token."""
    from training.prompts_bridge import dialog_messages

    messages = dialog_messages(sample)
    fmt = pick_format(tokenizer, chat_format)
    text, spans = render_gemma(messages) if fmt == "gemma" else render_template(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    offsets = enc["offset_mapping"]
    labels = []
    for tid, (a, b) in zip(ids, offsets, strict=True):
        sup = any(s <= a and b <= e and b > a for s, e in spans)
        labels.append(tid if sup else IGNORE)
    bos = tokenizer.bos_token_id
    if bos is not None and fmt == "gemma":
        ids, labels = [bos, *ids], [IGNORE, *labels]
    ids, labels = ids[:max_len], labels[:max_len]
    if not any(x != IGNORE for x in labels):
        return None
    return Encoded(str(sample["id"]), str(sample.get("task", "")), ids, labels)


def encode_all(samples: list[dict[str, Any]], tokenizer: Any, *, max_len: int, chat_format: str = "auto") -> list[Encoded]:
    fmt = pick_format(tokenizer, chat_format)
    out = [encode_dialog(s, tokenizer, max_len=max_len, chat_format=fmt) for s in samples]
    return [e for e in out if e is not None]


def collate(batch: list[Encoded], pad_id: int) -> dict[str, Any]:
    """Dynamic padding: pad to the longest sequence of this batch only (right padding)."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
