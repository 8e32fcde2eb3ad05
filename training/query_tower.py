"""Train the query tower of the embedding selector (`core.selection.query_tower`).

The same pairs as the query map (`training/query_map.py`: training-half intent phrases with sampled values and
model-written everyday paraphrases; any text overlapping an evaluation request dropped). The top `--layers`
transformer layers of the bundled MiniLM are fine-tuned as the query encoder with a softmax over every catalog
tool's **base** embedding (cosine / tau, cross-entropy, paraphrases weighted), so the tool side and its cache
are untouched. A first fit with a share of the tools held out reports how it does on tools it never saw; then
the final tower is fitted on all of them. One log line per epoch.

    python -m training.query_tower --paraphrases assets/selection/paraphrases.jsonl --out assets/selection/query_tower.npz
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def train_tower(texts: list[str], y: np.ndarray, w: np.ndarray, tools: np.ndarray, model_dir: Path, *, layers: int,
                epochs: int, lr: float, batch: int, tau: float, seed: int, log: Callable[[str], None],
                val: tuple[list[str], np.ndarray] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(the top `layers` layers' weights as a torch state dict in numpy, validation scores per epoch)."""
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
    t = torch.tensor(tools, dtype=torch.float32)

    def embed(batch_texts: list[str]) -> Any:
        b = tok(batch_texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        h, m = model(**b).last_hidden_state, b["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)

    def score(v_texts: list[str], v_y: np.ndarray) -> dict[str, float]:
        model.eval()
        hit1 = hit5 = 0
        with torch.no_grad():
            for s in range(0, len(v_texts), 128):
                top5 = (embed(v_texts[s:s + 128]) @ t.T).topk(min(5, len(t)), dim=1).indices.numpy()
                yy = v_y[s:s + 128]
                hit1, hit5 = hit1 + int((top5[:, 0] == yy).sum()), hit5 + int((top5 == yy[:, None]).any(1).sum())
        model.train()
        return {"acc@1": hit1 / len(v_texts), "R@5": hit5 / len(v_texts), "n": len(v_texts)}

    history: dict[str, Any] = {"before": score(*val)} if val else {}
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    order, rng = list(range(len(texts))), random.Random(seed)
    for ep in range(1, epochs + 1):
        rng.shuffle(order)
        total, t0 = 0.0, time.perf_counter()
        for s in range(0, len(order), batch):
            rows = order[s:s + batch]
            ce = torch.nn.functional.cross_entropy(embed([texts[i] for i in rows]) @ t.T / tau,
                                                   torch.tensor(y[rows]), reduction="none")
            wt = torch.tensor(w[rows])
            loss = (ce * wt).sum() / wt.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(rows)
        line = f"epoch={ep}/{epochs} loss={total / len(texts):.4f} seconds={time.perf_counter() - t0:.1f}"
        if val:
            history[f"epoch_{ep}"] = score(*val)
            line += f" val_acc@1={history[f'epoch_{ep}']['acc@1']:.3f} val_R@5={history[f'epoch_{ep}']['R@5']:.3f}"
        log(line)
    prefix = tuple(f"encoder.layer.{i}." for i in top)
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items() if k.startswith(prefix)}
    return state, history


def main(argv: list[str] | None = None) -> int:
    import torch

    from core.selection.embedding import name_description
    from core.selection.encoder import bundled_model_dir, load_encoder, numpy_layout
    from core.selection.query_tower import QueryTower, load_query_tower
    from training.query_map import add_pair_args, load_pairs, pair_targets, provenance

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_pair_args(ap)
    ap.add_argument("--layers", type=int, default=4, help="top transformer layers fine-tuned")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tau", type=float, default=0.05)
    ap.add_argument("--holdout", type=float, default=0.15, help="share of tools held out for the validation fit (0: skip)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)

    def log(msg: str) -> None:
        print(msg, flush=True)

    cat, pairs, dropped = load_pairs(a.paraphrases, a.per_intent, a.seed, log)
    ids = [t.tool_id for t in cat]
    enc = load_encoder()
    tools = np.asarray(enc.encode([name_description(x) for x in cat], batch_size=64), dtype=np.float32)
    texts = [p.text for p in pairs]
    y, w = pair_targets(cat, pairs, a.paraphrase_weight)
    opts = {"layers": a.layers, "epochs": a.epochs, "lr": a.lr, "batch": a.batch, "tau": a.tau, "seed": a.seed}
    validation: dict[str, Any] = {}
    held = set(random.Random(a.seed + 1).sample(range(len(ids)), int(len(ids) * a.holdout))) if a.holdout else set()
    if held:
        tr = [i for i in range(len(pairs)) if y[i] not in held]
        va = [i for i in range(len(pairs)) if y[i] in held and pairs[i].source == "paraphrase"]
        log(f"validation fit: {len(held)} tools held out, {len(va)} of their paraphrases scored")
        _, validation = train_tower([texts[i] for i in tr], y[tr], w[tr], tools, bundled_model_dir(), **opts, log=log,
                                    val=([texts[i] for i in va], y[va]))
    log("final fit: all tools")
    state, _ = train_tower(texts, y, w, tools, bundled_model_dir(), **opts, log=log)
    n_layers = 1 + max(int(k.split(".")[2]) for k in state)
    top = range(n_layers - a.layers, n_layers)
    weights = {k: v for k, v in numpy_layout(state, top).items() if not k.endswith(("query.weight", "key.weight",
               "value.weight", "query.bias", "key.bias", "value.bias"))}
    meta = provenance("training/query_tower.py", a.paraphrases, cat, pairs, dropped, per_intent=a.per_intent,
                      paraphrase_weight=a.paraphrase_weight, **opts, validation_unseen_tools=validation)
    tower = QueryTower(weights, enc.model_id, meta)
    tower.save(a.out)
    log(f"saved {a.out} id={load_query_tower(a.out).id} bytes={a.out.stat().st_size}")  # the id as loaded (float16)
    return 0


if __name__ == "__main__":
    sys.exit(main())
