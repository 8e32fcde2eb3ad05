"""Train the tool reranker (`core.selection.reranker`): MiniLM reading a request and a tool together.

The same pairs as the query tower (`training/query_map.py`: training-half intent phrases with sampled values and
model-written everyday paraphrases; any text overlapping an evaluation request dropped). Each request is shown
with its tool and `--negatives` tools the first stage confuses it with (drawn from the query tower's top 15 over
the bundled catalog, the ranking the reranker will reorder); the top `--layers` transformer layers and a linear
head on the mean-pooled pair are trained with a softmax over those candidates (cross-entropy, paraphrases
weighted). One log line per `--log-every` steps; `--max-minutes` stops early and still saves.

    python -m training.reranker --paraphrases assets/selection/paraphrases.jsonl --out assets/selection/reranker.npz
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def hard_negatives(q: np.ndarray, tools: np.ndarray, y: np.ndarray, k: int, pool: int, seed: int) -> np.ndarray:
    """(n, k) tool indices per request: k drawn from the `pool` best-scoring tools that are not its own."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(q), k), dtype=np.int64)
    for s in range(0, len(q), 1024):
        sims = q[s:s + 1024] @ tools.T
        top = np.argsort(-sims, axis=1)[:, : pool + 1]
        for r, row in enumerate(top):
            cand = [t for t in row if t != y[s + r]][:pool]
            out[s + r] = rng.choice(cand, size=k, replace=False)
    return out


def train_reranker(texts: list[str], docs: list[str], y: np.ndarray, neg: np.ndarray, w: np.ndarray,
                   model_dir: Path, *, layers: int, steps: int, lr: float, batch: int, max_len: int, seed: int,
                   max_minutes: float, log_every: int, log: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(top `layers` layers + head weights as a torch state dict in numpy, a training summary)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(seed)
    tok, model = AutoTokenizer.from_pretrained(model_dir), AutoModel.from_pretrained(model_dir)
    n_layers = model.config.num_hidden_layers
    top = list(range(n_layers - layers, n_layers))
    for p in model.parameters():
        p.requires_grad = False
    params = [p for i in top for p in model.encoder.layer[i].parameters()]
    for p in params:
        p.requires_grad = True
    head = torch.nn.Linear(model.config.hidden_size, 1)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    opt = torch.optim.AdamW([*params, *head.parameters()], lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1 - s / steps))
    rng = random.Random(seed)
    order: list[int] = []
    t0, total, hits, seen = time.perf_counter(), 0.0, 0, 0
    step = 0
    for step in range(1, steps + 1):
        if len(order) < batch:
            order = list(range(len(texts)))
            rng.shuffle(order)
        rows, order = order[:batch], order[batch:]
        cand = [[int(y[i]), *map(int, neg[i])] for i in rows]  # the right tool first
        a = [texts[i] for i, c in zip(rows, cand, strict=True) for _ in c]
        b = [docs[t] for c in cand for t in c]
        enc = tok(a, b, padding=True, truncation="only_second", max_length=max_len, return_tensors="pt")
        h, m = model(**enc).last_hidden_state, enc["attention_mask"].unsqueeze(-1).float()
        scores = head((h * m).sum(1) / m.sum(1).clamp(min=1e-9)).view(len(rows), -1)
        ce = torch.nn.functional.cross_entropy(scores, torch.zeros(len(rows), dtype=torch.long), reduction="none")
        wt = torch.tensor(w[rows])
        loss = (ce * wt).sum() / wt.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach()) * len(rows)
        hits += int((scores[:, 0] > scores[:, 1:].max(1).values).sum())  # ties are misses
        seen += len(rows)
        minutes = (time.perf_counter() - t0) / 60
        if step % log_every == 0 or step == steps or minutes >= max_minutes:
            log(f"step={step}/{steps} loss={total / seen:.4f} train_acc@1={hits / seen:.3f} "
                f"lr={sched.get_last_lr()[0]:.2e} elapsed={minutes * 60:.0f}s")
            total, hits, seen = 0.0, 0, 0
        if minutes >= max_minutes:
            log(f"stopped at the time limit ({max_minutes} min)")
            break
    prefix = tuple(f"encoder.layer.{i}." for i in top)
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items() if k.startswith(prefix)}
    state["head.weight"] = head.weight.detach().numpy().reshape(-1).copy()
    state["head.bias"] = head.bias.detach().numpy().copy()
    return state, {"steps_done": step, "minutes": round((time.perf_counter() - t0) / 60, 1)}


def main(argv: list[str] | None = None) -> int:
    import torch

    from core.selection.embedding import name_description
    from core.selection.encoder import bundled_model_dir, load_encoder, numpy_layout
    from core.selection.query_tower import bundled_tower_path, load_query_tower
    from core.selection.reranker import Reranker, load_reranker
    from training.query_map import add_pair_args, load_pairs, pair_targets, provenance

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_pair_args(ap)
    ap.add_argument("--layers", type=int, default=3, help="top transformer layers fine-tuned")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch", type=int, default=16, help="requests per step (each with 1 + negatives tools)")
    ap.add_argument("--negatives", type=int, default=5)
    ap.add_argument("--pool", type=int, default=15, help="negatives are drawn from this many best first-stage tools")
    ap.add_argument("--max-len", type=int, default=64, help="tokens of a (request, tool) pair")
    ap.add_argument("--max-minutes", type=float, default=float("inf"))
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)

    def log(msg: str) -> None:
        print(msg, flush=True)

    cat, pairs, dropped = load_pairs(a.paraphrases, a.per_intent, a.seed, log)
    docs = [name_description(t) for t in cat]
    enc = load_encoder()
    tools = np.asarray(enc.encode(docs, batch_size=64), dtype=np.float32)
    texts = [p.text for p in pairs]
    t0 = time.perf_counter()
    q = load_query_tower(bundled_tower_path()).encode(texts, enc, batch_size=64)
    y, w = pair_targets(cat, pairs, a.paraphrase_weight)
    neg = hard_negatives(q, tools, y, a.negatives, a.pool, a.seed)
    log(f"negatives: {a.negatives} per request from the query tower's top {a.pool} ({time.perf_counter() - t0:.0f}s)")
    opts = {"layers": a.layers, "steps": a.steps, "lr": a.lr, "batch": a.batch, "max_len": a.max_len, "seed": a.seed}
    state, summary = train_reranker(texts, docs, y, neg, w, bundled_model_dir(), **opts, max_minutes=a.max_minutes,
                                    log_every=a.log_every, log=log)
    top = range(enc.layers - a.layers, enc.layers)
    weights = {k: v for k, v in numpy_layout({k: v for k, v in state.items() if not k.startswith("head.")},
                                             top).items()
               if not k.endswith(("query.weight", "key.weight", "value.weight", "query.bias", "key.bias", "value.bias"))}
    meta = provenance("training/reranker.py", a.paraphrases, cat, pairs, dropped, per_intent=a.per_intent,
                      paraphrase_weight=a.paraphrase_weight, negatives=a.negatives, pool=a.pool, **opts, **summary)
    rr = Reranker(weights, state["head.weight"], float(state["head.bias"][0]), enc.model_id, a.max_len, meta)
    rr.save(a.out)
    log(f"saved {a.out} id={load_reranker(a.out).id} bytes={a.out.stat().st_size}")  # the id as loaded (float16)
    return 0


if __name__ == "__main__":
    sys.exit(main())
