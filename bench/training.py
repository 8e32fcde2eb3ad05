"""Training-step throughput: logits at every position vs only at supervised positions.

    nice -n 10 .venv/bin/python bench/training.py [--base bundled-gemma3-270m] [--steps 3]

Prints tokens/s for both loss implementations on the same batches and their ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# this file is named like the `training` package: run from the project root, not from bench/
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def synthetic_dialogs(n: int) -> list[dict]:
    out = []
    for i in range(n):
        out.append(
            {
                "id": f"b{i}",
                "task": "tool_selection",
                "messages": [
                    {"role": "system", "content": "You are an agent. Choose the best tool for the request from the list."},
                    {
                        "role": "user",
                        "content": f"Request {i}: find flights from Berlin to Rome next week and compare prices. "
                        "Tools: flight_search, hotel_booking, currency_convert, weather_forecast, calendar_add.",
                    },
                    {"role": "assistant", "content": '{"tool": "flight_search"}'},
                ],
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="bundled-gemma3-270m")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    from training.base_models import resolve_base_model
    from training.config import config_from_dict
    from training.formatting import collate, encode_all
    from training.loss import full_logits_loss, supervised_loss
    from training.trainer import AgentSFTTrainer

    torch.set_num_threads(args.threads)
    cfg = config_from_dict({"model": {"base": args.base}, "train": {"batch_size": args.batch}})
    tr = AgentSFTTrainer(cfg, "/tmp/bench-training", log=lambda s: None)
    tr.setup(resolve_base_model(args.base))
    data = encode_all(synthetic_dialogs(args.batch * args.steps), tr.tokenizer, max_len=256)
    pad = tr.tokenizer.pad_token_id
    batches = [collate(data[i : i + args.batch], pad) for i in range(0, len(data), args.batch)]
    res = {}
    for name, fn in (("full_logits", full_logits_loss), ("supervised_logits", supervised_loss)):
        fn(tr.model, batches[0]).backward()  # warm-up
        tr.optimizer.zero_grad()
        tokens, t0 = 0, time.perf_counter()
        for b in batches:
            fn(tr.model, b).backward()
            tr.optimizer.zero_grad()
            tokens += int(b["attention_mask"].sum())
        dt = time.perf_counter() - t0
        res[name] = {"tokens_per_second": tokens / dt, "seconds_per_step": dt / len(batches)}
    a, b = tr.model, batches[0]
    diff = abs(float(full_logits_loss(a, b)) - float(supervised_loss(a, b)))
    res["speedup"] = res["supervised_logits"]["tokens_per_second"] / res["full_logits"]["tokens_per_second"]
    res["loss_abs_diff"] = diff
    res["tokens_per_batch"] = int(batches[0]["attention_mask"].sum())
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
