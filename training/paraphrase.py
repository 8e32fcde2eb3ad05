"""Everyday paraphrases of the catalog's training-half intents, written by a local model (resumable).

For each bundled tool, one training-half intent phrase is rendered with sampled values and the model writes
three messages a person might send for the same request: casual, often indirect, with the concrete details
kept. The few-shot examples are invented for tools no hand-written goal uses. One JSON line per tool is
appended as it is written, so a cut run continues where it stopped. Greedy decoding: the same model and
catalog give the same file.

    python -m training.paraphrase --out assets/selection/paraphrases.jsonl [--model qwen2.5-coder-1.5b]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

SYSTEM = ("You write how real people ask an assistant for things in chat. Given a tool and one request it serves, write 3 "
          "different messages a person might send for the same request: casual everyday words, often indirect (say the "
          "situation or the need rather than the action), keep the concrete details, and avoid the tool's own words.")
SHOTS = [
    ("Turn On Towel Warmer: Switch on a heated towel rail.", "turn on the towel warmer in the main bathroom",
     ["my towels are always cold after a shower, warm them up in the main bathroom",
      "could you get the towel rail going in the main bathroom",
      "I'd love a toasty towel when I get out of the shower (main bathroom)"]),
    ("Buy Movie Tickets: Buy cinema tickets for a showing.", "buy 2 tickets for Dune at the Odeon tonight",
     ["me and Sam fancy Dune at the Odeon tonight, sort us out",
      "grab us a couple of seats for Dune at the Odeon this evening",
      "cinema night! Dune at the Odeon, there's 2 of us"]),
    ("Create Meeting Link: Create a video-call link for a meeting.", "create a video meeting link for the design review",
     ["need somewhere for everyone to dial into the design review",
      "set up a call we can all jump on for the design review",
      "people are remote for the design review, give me something they can join"]),
]
SCHEMA = {"type": "object", "properties": {"messages": {"type": "array", "items": {"type": "string", "maxLength": 120},
                                                        "minItems": 3, "maxItems": 3}}, "required": ["messages"]}


def _user(tool: str, request: str) -> str:
    return f"Tool: {tool}\nRequest: {request}"


def messages(tool_line: str, request: str) -> list[dict[str, str]]:
    out = [{"role": "system", "content": SYSTEM}]
    for tool, req, ans in SHOTS:
        out += [{"role": "user", "content": _user(tool, req)},
                {"role": "assistant", "content": json.dumps({"messages": ans})}]
    return out + [{"role": "user", "content": _user(tool_line, request)}]


def tool_line(tool: Any) -> str:
    """`Name: first sentence of the description.`"""
    return f"{tool.name}: {tool.description.split('. ')[0].rstrip('.')}."


def main(argv: list[str] | None = None) -> int:
    from core.catalog import load_catalog
    from core.generate.dataset_gen import Generator
    from core.llm.factory import make_backend
    from core.paths import default_catalog_path

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--limit", type=int, default=None, help="stop after this many new tools")
    a = ap.parse_args(argv)
    raw = [json.loads(line) for line in default_catalog_path().read_text(encoding="utf-8").splitlines() if line.strip()]
    gen, cat = Generator(raw, 7), load_catalog()
    done = set()
    if a.out.exists():
        done = {json.loads(line)["tool_id"] for line in a.out.read_text(encoding="utf-8").splitlines() if line.strip()}
    order = list(cat)
    random.Random(3).shuffle(order)  # a partial file covers the catalog evenly
    todo = [t for t in order if t.tool_id not in done][: a.limit]
    backend = make_backend(a.model, None, None, "plan")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with a.out.open("a", encoding="utf-8") as fh:
        for n, tool in enumerate(todo, 1):
            request, _args = gen.render(tool.tool_id, random.Random(f"{tool.tool_id}|paraphrase"), "train")
            t0 = time.perf_counter()
            try:
                reply = backend.complete(messages(tool_line(tool), request), json_schema=SCHEMA, max_tokens=160)
                paras = [p.strip() for p in json.loads(reply.text)["messages"] if isinstance(p, str) and p.strip()]
            except Exception as exc:  # noqa: BLE001 - one failed tool is logged and kept empty, the run goes on
                paras = []
                print(f"tool={tool.tool_id} error={exc!r}", file=sys.stderr, flush=True)
            secs = time.perf_counter() - t0
            fh.write(json.dumps({"tool_id": tool.tool_id, "intent": request, "paraphrases": paras, "model": a.model}) + "\n")
            fh.flush()
            print(f"tool={n}/{len(todo)} id={tool.tool_id} seconds={secs:.1f} paraphrases={len(paras)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
