"""Which chat messages a training dialog becomes, so training matches what inference sends.

If `core.llm.prompts` provides `training_messages(sample)` (the planner/timing prompt builders
turned into a dialog with the gold answer as the assistant turn), it is used; otherwise the
dialog's own `messages` are used as they are.
"""

from __future__ import annotations

import importlib
from typing import Any

from core.errors import DataError


def _builder() -> Any:
    try:
        mod = importlib.import_module("core.llm.prompts")
    except ImportError:
        return None
    return getattr(mod, "training_messages", None)


def dialog_messages(sample: dict[str, Any]) -> list[dict[str, Any]]:
    build = _builder()
    if build is not None:
        msgs = build(sample)
        if msgs:
            return list(msgs)
    msgs = sample.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise DataError(f"sample {sample.get('id')!r} has no chat messages", field="messages")
    return msgs
