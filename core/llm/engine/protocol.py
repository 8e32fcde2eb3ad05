"""Wire format between the engine client and its worker: one JSON object per line, both ways.

Request: `{"op": str, ...}`. Replies to one request: any number of `{"t": "tok", "s": text}` (streamed
tokens), then exactly one `{"t": "ok", ...}` or `{"t": "err", "cls": ErrorClass, "message", "hint"}`.
"""

from __future__ import annotations

import json
from typing import IO, Any

OPS = ("hello", "load", "complete", "logprobs", "count_tokens", "system_info", "smoke", "shutdown")


def write_msg(stream: IO[bytes], msg: dict[str, Any]) -> None:
    stream.write(json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
    stream.flush()


def read_msg(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next message, or None at end of stream (the other side is gone)."""
    line = stream.readline()
    if not line:
        return None
    return json.loads(line)
