"""Diversity coreset speed: k-center greedy 4,000 -> 1,600 on real MiniLM embeddings of the training dialogs.

    nice -n 10 .venv/bin/python bench/coreset.py [--n 4000] [--k 1600] [--naive-n 800]

Times separately: MiniLM model load, embedding, and `training.coreset.k_center_greedy` (incremental
min-distance vector, O(n*k)). Baseline measured in the same run: a naive farthest-point loop that
recomputes every candidate's distance to all chosen centers at each pick (O(n*k^2)), on a smaller
n (same k/n ratio) where it finishes; both must pick the same indices. Writes results/bench/coreset-*.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# run from the project root (bench/training.py shadows the `training` package otherwise)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def naive_k_center(x, k: int, first: int) -> list[int]:  # noqa: ANN001 - numpy array
    """Reference farthest-point selection without the incremental min-distance vector: at every pick
    the distance of each candidate to *every* chosen center is recomputed (O(n*k^2)). Distance rows
    use the same float32 expression as `k_center_greedy`, so both pick identical indices."""
    import numpy as np

    sq = np.einsum("ij,ij->i", x, x)

    def dist_to(row):  # noqa: ANN001, ANN202
        return np.maximum(sq - 2.0 * (x @ row) + float(row @ row), 0.0)

    chosen = [first]
    while len(chosen) < k:
        md = np.minimum.reduce([dist_to(x[c]) for c in chosen])
        md[chosen] = -1.0
        chosen.append(int(np.argmax(md)))
    return chosen


def loss_scoring(n: int) -> dict:
    """Per-sample loss of the bundled Gemma 3 270M (logits only at answer tokens, batches of 8) on
    the first `n` quick_cpu training samples: what `loss_topk` / `hybrid` pay once per process
    (training/pipeline.py caches the base model's scores for the other methods and seeds)."""
    from training.base_models import resolve_base_model
    from training.config import load_config
    from training.formatting import encode_all
    from training.pipeline import load_training_samples
    from training.trainer import AgentSFTTrainer

    cfg = load_config("quick_cpu")
    t0 = time.perf_counter()
    tr = AgentSFTTrainer(cfg, Path("/tmp/bench-coreset-loss"), log=lambda s: None)
    tr.setup(resolve_base_model(cfg.model.base))
    setup_s = time.perf_counter() - t0
    samples = load_training_samples(cfg)[0][:n]
    enc = encode_all(samples, tr.tokenizer, max_len=cfg.model.max_seq_len, chat_format=cfg.model.chat_format)
    t0 = time.perf_counter()
    losses = tr.per_sample_losses(enc, batch_size=cfg.coreset.score_batch_size)
    score_s = time.perf_counter() - t0
    toks = sum(len(e.input_ids) for e in enc)
    return {"n": len(enc), "setup_s": round(setup_s, 2), "score_s": round(score_s, 2),
            "samples_per_s": round(len(enc) / score_s, 2), "tokens_per_s": round(toks / score_s, 1),
            "mean_loss": round(sum(losses) / len(losses), 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--k", type=int, default=1600)
    ap.add_argument("--naive-n", type=int, default=400)
    ap.add_argument("--embed-cache", default="", help="reuse/save the embeddings (.npy) to skip re-embedding")
    ap.add_argument("--loss-n", type=int, default=0,
                    help="also time loss_topk scoring: per-sample base-model loss of N quick_cpu training samples")
    args = ap.parse_args()

    import numpy as np

    from core.datasets import default_dataset_path, load_dataset
    from training.coreset import k_center_greedy, minilm_embedder, sample_text

    samples = load_dataset(default_dataset_path("task_planning", "train")).samples[: args.n]
    texts = [sample_text(s) for s in samples]
    cache = Path(args.embed_cache) if args.embed_cache else None
    load_s = embed_s = None
    if cache and cache.exists():
        emb = np.load(cache)
    else:
        t0 = time.perf_counter()
        minilm_embedder(["warm up"])
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        emb = np.asarray(minilm_embedder(texts), dtype=np.float32)
        embed_s = time.perf_counter() - t0
        if cache:
            np.save(cache, emb)

    rng = np.random.default_rng(0)
    first = int(rng.integers(len(emb)))
    t0 = time.perf_counter()
    picks = k_center_greedy(emb, args.k, seed=0)
    select_s = time.perf_counter() - t0
    assert len(set(picks)) == args.k

    m = args.naive_n
    km = int(round(args.k * m / args.n))
    sub = emb[:m]
    first = int(np.random.default_rng(0).integers(m))
    t0 = time.perf_counter()
    fast_small = k_center_greedy(sub, km, seed=0)
    fast_small_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive_small = naive_k_center(sub, km, first)
    naive_small_s = time.perf_counter() - t0
    same = fast_small == naive_small

    res = {
        "bench": "coreset_k_center",
        "n": len(emb), "k": args.k, "dim": int(emb.shape[1]),
        "minilm_load_s": round(load_s, 3) if load_s is not None else None,
        "embed_s": round(embed_s, 3) if embed_s is not None else None,
        "texts_per_s": round(len(texts) / embed_s, 1) if embed_s else None,
        "load_average": list(__import__("os").getloadavg()),
        "select_s": round(select_s, 4),
        "baseline": {"n": m, "k": km, "incremental_s": round(fast_small_s, 4), "naive_s": round(naive_small_s, 4),
                     "speedup": round(naive_small_s / fast_small_s, 1), "same_picks": same},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if args.loss_n:
        res["loss_scoring"] = loss_scoring(args.loss_n)
    out = Path(__file__).resolve().parent.parent / "results" / "bench" / f"coreset-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    print(f"k-center greedy {len(emb)} -> {args.k}: {select_s:.3f} s (embedding {embed_s} s); "
          f"at n={m}, k={km}: incremental {fast_small_s:.4f} s vs naive {naive_small_s:.3f} s "
          f"= {naive_small_s / fast_small_s:.0f}x, same picks: {same}")
    if not same:
        raise SystemExit("incremental and naive k-center disagree")


if __name__ == "__main__":
    main()
