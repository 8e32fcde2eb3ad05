"""The engine worker: `python -m core.llm.engine.worker`. Owns llama.cpp (LlamaCppBackend) and answers
requests read from stdin on the protocol's stdout; everything else llama.cpp or Python prints goes to
stderr (the client sends it to a log file). Ends when stdin closes or on `shutdown`."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from core.llm.engine.protocol import read_msg, write_msg


class Worker:
    """Backends by spec (model files + options), created on first use and kept for the process."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.backends: dict[str, Any] = {}

    def backend(self, spec: dict[str, Any]) -> Any:
        key = json.dumps(spec, sort_keys=True)
        if key not in self.backends:
            from core.llm.llamacpp import LlamaCppBackend
            from core.llm.models import ResolvedModel

            m = spec["model"]
            resolved = ResolvedModel(m["name"], Path(m["path"]), Path(m["lora"]) if m.get("lora") else None,
                                     m["chat_format"])
            self.backends[key] = LlamaCppBackend(resolved, **spec.get("options", {}))
        return self.backends[key]

    def handle(self, req: dict[str, Any]) -> dict[str, Any] | None:
        op = req.get("op")
        if op == "hello":
            return {"pid": os.getpid(), "python": sys.version.split()[0]}
        if op == "system_info":
            return system_info()
        if op == "load":
            be = self.backend(req["spec"])
            be.prepare()
            return {"use_extra_bufts": bool(be.llama.model_params.use_extra_bufts), "info": be.info()}
        if op == "complete":
            be = self.backend(req["spec"])
            kw = req.get("kwargs", {})
            stream = kw.pop("stream", False)
            on_token = (lambda s: write_msg(self.out, {"t": "tok", "s": s})) if stream else None
            c = be.complete(req["messages"], on_token=on_token, **kw)
            return {"completion": {"text": c.text, "finish_reason": c.finish_reason, "prompt_tokens": c.prompt_tokens,
                                   "completion_tokens": c.completion_tokens, "seconds": c.seconds, "meta": c.meta}}
        if op == "logprobs":
            from core.timing.llm_vote import _llama_logprobs

            be = self.backend(req["spec"])
            return {"values": _llama_logprobs(be, req["messages"], req["texts"])}
        if op == "count_tokens":
            return {"n": self.backend(req["spec"]).count_tokens(req["messages"])}
        if op == "smoke":
            return smoke(self.backend(req["spec"]), int(req.get("n_tokens", 16)))
        if op == "shutdown":
            return None
        from core.errors import UsageError

        raise UsageError(f"unknown engine op {op!r}")


def system_info() -> dict[str, Any]:
    """llama.cpp's own system_info line, its version and the buffer choice this process makes."""
    import llama_cpp

    from core.llm.cpu import choose_buffers

    return {"system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
            "llama_cpp_python": getattr(llama_cpp, "__version__", "?"), "buffers": choose_buffers().to_dict()}


def smoke(be: Any, n_tokens: int) -> dict[str, Any]:
    """Decode `n_tokens` greedily after a short prompt: proves the matmul kernels run on this CPU."""
    t0 = time.perf_counter()
    be.prepare()
    load_s = time.perf_counter() - t0
    c = be.complete([{"role": "user", "content": "Name three colours."}], max_tokens=n_tokens, temperature=0.0)
    return {"load_s": load_s, "tokens": c.completion_tokens, "seconds": c.seconds, "tokens_per_s": c.tokens_per_second,
            "text": c.text, "use_extra_bufts": bool(be.llama.model_params.use_extra_bufts)}


def main() -> int:
    proto_in = sys.stdin.buffer
    proto_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints (C or Python) must not corrupt the protocol
    sys.stdout = sys.stderr
    worker = Worker(proto_out)
    while True:
        req = read_msg(proto_in)
        if req is None:
            return 0
        try:
            result = worker.handle(req)
        except Exception as exc:  # every failure becomes a reply; the client re-raises it typed
            from core.errors import SageError

            if isinstance(exc, SageError):
                write_msg(proto_out, {"t": "err", "cls": type(exc).__name__, "message": exc.message, "hint": exc.hint})
            else:
                write_msg(proto_out, {"t": "err", "cls": "ModelError", "message": f"{type(exc).__name__}: {exc}",
                                      "hint": None})
            continue
        if result is None:
            write_msg(proto_out, {"t": "ok"})
            return 0
        write_msg(proto_out, {"t": "ok", **result})


if __name__ == "__main__":
    sys.exit(main())
