"""Train the query map of the embedding selector (`core.selection.query_map`).

Pairs (request text, tool) come from the training half only: the data generator's intent phrases of each
bundled tool with sampled values, and everyday paraphrases of those intents written by a model
(`training/paraphrase.py`). Any text that overlaps an evaluation set (the hand-written goals, the templated
validation/test splits) is dropped before training. The map q' = normalise(q + qW) is fitted with a softmax
over every catalog tool (cosine / tau, cross-entropy, L2 on W); a first fit with a share of the tools held out
reports how it does on tools it never saw, then the final map is fitted on all of them.

    python -m training.query_map --paraphrases assets/selection/paraphrases.jsonl --out assets/selection/query_map.npz
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from core.selection.paraphrases import Pair, read_paraphrases


def intent_pairs(raw_catalog: list[dict[str, Any]], per_intent: int, seed: int = 0) -> list[Pair]:
    """Up to `per_intent` distinct renderings of each training-half intent phrase of every tool."""
    from core.generate.dataset_gen import Generator

    gen, rng, out = Generator(raw_catalog, 7), random.Random(seed), []
    for tool in raw_catalog:
        tid, seen = tool["tool_id"], set()
        for vp in gen.vps(tid, "train"):
            for _ in range(per_intent):
                text, _args = gen.render(tid, rng, "train", vp=vp)
                if text not in seen:
                    seen.add(text)
                    out.append(Pair(text, tid, "intent"))
    return out


def _trigrams(text: str) -> set[tuple[str, ...]]:
    w = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(w[i:i + 3]) for i in range(max(1, len(w) - 2))} if w else set()


def drop_overlap(pairs: list[Pair], eval_texts: Iterable[str], max_share: float = 0.5) -> tuple[list[Pair], list[Pair]]:
    """(kept, dropped): a pair is dropped when more than `max_share` of its word trigrams occur in one
    evaluation text."""
    index: dict[tuple[str, ...], list[int]] = {}
    for i, text in enumerate(eval_texts):
        for g in _trigrams(text):
            index.setdefault(g, []).append(i)
    kept, dropped = [], []
    for p in pairs:
        grams = _trigrams(p.text)
        hits: dict[int, int] = {}
        for g in grams:
            for i in index.get(g, ()):
                hits[i] = hits.get(i, 0) + 1
        (dropped if grams and max(hits.values(), default=0) > max_share * len(grams) else kept).append(p)
    return kept, dropped


def evaluation_texts() -> list[str]:
    """Every request of the bundled evaluation sets: hand-written goals and the templated eval splits."""
    from core.handwritten import load_handwritten
    from core.paths import datasets_dir

    texts = [it["goal"] for it in load_handwritten(check_catalog=False)]
    for split in ("validation", "test", "test_extended"):
        for f in sorted((datasets_dir() / split).glob("*.jsonl")):
            for line in f.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    texts.append(str(json.loads(line).get("instruction", "")))
    return texts


def load_pairs(paraphrases: Path, per_intent: int, seed: int, log: Callable[[str], None]) -> tuple[Any, list[Pair], list[Pair]]:
    """(bundled catalog, training pairs, pairs dropped for overlapping an evaluation request)."""
    from core.catalog import load_catalog
    from core.paths import default_catalog_path

    raw = [json.loads(line) for line in default_catalog_path().read_text(encoding="utf-8").splitlines() if line.strip()]
    cat = load_catalog()
    pairs = intent_pairs(raw, per_intent, seed) + read_paraphrases(paraphrases, {t.tool_id for t in cat})
    pairs, dropped = drop_overlap(pairs, evaluation_texts())
    log(f"pairs={len(pairs)} intents={sum(p.source == 'intent' for p in pairs)} "
        f"paraphrases={sum(p.source == 'paraphrase' for p in pairs)} dropped_for_eval_overlap={len(dropped)}")
    return cat, pairs, dropped


def add_pair_args(ap: argparse.ArgumentParser) -> None:
    """The data arguments every selection trainer shares: pairs in, file out, seed."""
    ap.add_argument("--paraphrases", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-intent", type=int, default=4, help="renderings of each training-half intent phrase")
    ap.add_argument("--paraphrase-weight", type=float, default=5.0, help="loss weight of a paraphrase vs an intent")
    ap.add_argument("--seed", type=int, default=0)


def pair_targets(cat: Any, pairs: list[Pair], paraphrase_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """(tool index per pair in catalog order, loss weight per pair)."""
    index = {t.tool_id: i for i, t in enumerate(cat)}
    y = np.array([index[p.tool_id] for p in pairs])
    w = np.array([paraphrase_weight if p.source == "paraphrase" else 1.0 for p in pairs], dtype=np.float32)
    return y, w


def provenance(trained_by: str, paraphrases: Path, cat: Any, pairs: list[Pair], dropped: list[Pair],
               **settings: Any) -> dict[str, Any]:
    """What a trained file records about its data and settings."""
    return {"trained_by": trained_by, "paraphrases": str(paraphrases),
            "paraphrases_sha256": hashlib.sha256(paraphrases.read_bytes()).hexdigest(),
            "catalog_hash": cat.hash, "pairs": len(pairs), "dropped_for_eval_overlap": len(dropped), **settings}


def train_map(q: np.ndarray, t: np.ndarray, y: np.ndarray, w: np.ndarray, *, tau: float = 0.05, wd: float = 1e-3,
              epochs: int = 60, lr: float = 1e-3, batch: int = 512, seed: int = 0,
              log: Callable[[str], None] | None = None) -> np.ndarray:
    """W minimising the weighted cross-entropy of softmax(cos(q + qW, t) / tau) against tool y, + wd |W|^2."""
    import torch

    torch.manual_seed(seed)
    qt, tt, yt, wt = (torch.tensor(a) for a in (q.astype(np.float32), t.astype(np.float32), y.astype(np.int64),
                                                 w.astype(np.float32)))
    mat = torch.zeros(q.shape[1], q.shape[1], requires_grad=True)
    opt = torch.optim.Adam([mat], lr=lr)
    for ep in range(1, epochs + 1):
        total, t0 = 0.0, time.perf_counter()
        for rows in torch.randperm(len(qt)).split(batch):
            x = torch.nn.functional.normalize(qt[rows] + qt[rows] @ mat, dim=1)
            ce = torch.nn.functional.cross_entropy(x @ tt.T / tau, yt[rows], reduction="none")
            loss = (ce * wt[rows]).sum() / wt[rows].sum() + wd * (mat ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(rows)
        if log:
            log(f"epoch={ep}/{epochs} loss={total / len(qt):.4f} norm={float(mat.detach().norm()):.3f} "
                f"seconds={time.perf_counter() - t0:.2f}")
    return mat.detach().numpy().astype(np.float32)


def accuracy(q: np.ndarray, t: np.ndarray, y: np.ndarray, mat: np.ndarray | None) -> dict[str, float]:
    """acc@1 and R@5 of the tools ranked by cosine, with the map applied when given."""
    if mat is not None:
        q = q + q @ mat
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    s = q @ t.T
    top5 = np.argsort(-s, axis=1)[:, :5]
    return {"acc@1": float((top5[:, 0] == y).mean()), "R@5": float((top5 == y[:, None]).any(1).mean()), "n": int(len(y))}


def main(argv: list[str] | None = None) -> int:
    from core.selection.embedding import name_description
    from core.selection.encoder import load_encoder
    from core.selection.query_map import QueryMap

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_pair_args(ap)
    ap.add_argument("--tau", type=float, default=0.05)
    ap.add_argument("--wd", type=float, default=1e-3)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--holdout", type=float, default=0.15, help="share of tools held out for the validation fit")
    a = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, flush=True)

    cat, pairs, dropped = load_pairs(a.paraphrases, a.per_intent, a.seed, log)
    ids = [t.tool_id for t in cat]
    enc = load_encoder()
    q = np.asarray(enc.encode([p.text for p in pairs], batch_size=64), dtype=np.float32)
    t = np.asarray(enc.encode([name_description(x) for x in cat], batch_size=64), dtype=np.float32)
    y, w = pair_targets(cat, pairs, a.paraphrase_weight)
    opts = {"tau": a.tau, "wd": a.wd, "epochs": a.epochs, "seed": a.seed}

    held = set(random.Random(a.seed + 1).sample(range(len(ids)), int(len(ids) * a.holdout)))
    tr = np.array([y_ not in held for y_ in y])
    va = ~tr & np.array([p.source == "paraphrase" for p in pairs])
    validation: dict[str, Any] = {}
    if held and va.any():
        log(f"validation fit: {len(held)} tools held out, {int(va.sum())} of their paraphrases scored")
        mat = train_map(q[tr], t, y[tr], w[tr], **opts, log=log)
        validation = {"tools_held_out": len(held), "base": accuracy(q[va], t, y[va], None),
                      "mapped": accuracy(q[va], t, y[va], mat)}
        log(f"validation base={validation['base']} mapped={validation['mapped']}")
    log("final fit: all tools")
    mat = train_map(q, t, y, w, **opts, log=log)
    meta = provenance("training/query_map.py", a.paraphrases, cat, pairs, dropped, per_intent=a.per_intent,
                      paraphrase_weight=a.paraphrase_weight, **opts, validation_unseen_tools=validation)
    qmap = QueryMap(mat, enc.model_id, meta)
    qmap.save(a.out)
    log(f"saved {a.out} id={qmap.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
