"""Would llama.cpp score a trained cell's evaluation faster than the HF scorer, and the same?

    nice -n 10 .venv/bin/python bench/llama_scoring.py --run TRAIN_RUN_ID [--n 40] [--merge] [--db results/experiments.db]

The medium tier's evaluation is ~80 % of a cell (docs/TRAINING.md), and its tool-selection scoring (17 candidate
ids per sample, each one's log-likelihood after the prompt) is the largest part. This scores the same test
samples with the run's stored adapter both ways: `training.evaluate.ModelScorer` (HF, fp32 on the dequantised base,
what every stored cell used) and llama.cpp on the bundled Q4_K base GGUF with the run's `adapter.gguf` (the prompt
once, then each candidate in one batch with logits at its positions). It prints and writes
results/bench/llama-scoring-<time>.json: seconds per sample for each, top-1 agreement, each one's acc@1 and the
mean |log p difference| per candidate. A lever only if it is faster *and* agrees (else the stored cells and new
ones would not be comparable).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

END = "<end_of_turn>"  # the gemma end-of-turn marker the HF scorer appends to every candidate


class LlamaCandidateScorer:
    """Sum of token log-probabilities of each candidate (+ end of turn) after the prompt, on llama.cpp."""

    def __init__(self, adapter_gguf: str, *, merge: bool, threads: int = 2) -> None:
        from core.llm.factory import make_backend

        # in process: this reads llama.cpp's logits directly (the engine child exposes no per-position rows)
        self.be = make_backend("gemma3-270m", adapter_gguf, isolation="inprocess", cache=False, n_threads=threads,
                               merge_lora=merge, context_tag="bench-llama-scoring")
        self.llm = self.be._llama(0)

    def __call__(self, messages: list[dict], conts: list[str]) -> list[float]:
        from core.llm.guided import _decode, _row, eval_prompt, log_softmax

        llm, prompt = self.llm, self.be.render(messages)
        p = llm.tokenize(prompt.encode(), add_bos=True, special=True)
        eval_prompt(llm, p)
        first = log_softmax(np.array(_row(llm, -1)))
        out = []
        for c in conts:
            full = llm.tokenize((prompt + c + END).encode(), add_bos=True, special=True)
            if full[: len(p)] != p:  # the candidate merged into the prompt's last token: not comparable
                raise SystemExit(f"candidate {c!r} changes the prompt's tokens; this bench cannot score it")
            rest = full[len(p):]
            llm.n_tokens = len(p)
            lp = float(first[rest[0]])
            if len(rest) > 1:
                _decode(llm, rest[:-1], range(len(rest) - 1))
                lp += sum(float(log_softmax(np.array(_row(llm, i)))[t]) for i, t in enumerate(rest[1:]))
            out.append(lp)
        llm.n_tokens = len(p)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a stored training run (its adapter and adapter.gguf)")
    ap.add_argument("--n", type=int, default=40, help="tool-selection test samples (the first N)")
    ap.add_argument("--merge", action="store_true", help="llama.cpp on base + adapter merged into one GGUF")
    ap.add_argument("--db", default=str(ROOT / "results/experiments.db"))
    args = ap.parse_args()

    from core.catalog import load_catalog_cached
    from core.store import RunStore
    from training.evaluate import _load, load_scorer
    from training.prompts_bridge import selection_prompt

    arts = {a["kind"]: a["path"] for a in RunStore(Path(args.db)).artifacts(args.run)}
    catalog = load_catalog_cached()
    samples = _load("tool_selection", "test", args.n)
    items = []
    for s in samples:
        tools = [catalog.get(t) for t in s["candidate_tools"] if t in catalog]
        items.append((selection_prompt(s["instruction"], tools), [t.tool_id for t in tools], s["gold"]["tools"][0]))

    llama = LlamaCandidateScorer(arts["adapter_gguf"], merge=args.merge)
    t0 = time.perf_counter()
    lscores = [llama(m, ids) for m, ids, _ in items]
    t_llama = (time.perf_counter() - t0) / len(items)
    hf = load_scorer("bundled-gemma3-270m", arts["adapter"], threads=2)
    t0 = time.perf_counter()
    hscores = [hf.continuation_logprobs(m, ids) for m, ids, _ in items]
    t_hf = (time.perf_counter() - t0) / len(items)

    top_l = [ids[int(np.argmax(s))] for (_, ids, _), s in zip(items, lscores, strict=True)]
    top_h = [ids[int(np.argmax(s))] for (_, ids, _), s in zip(items, hscores, strict=True)]
    diffs = [abs(a - b) for ls, hs in zip(lscores, hscores, strict=True) for a, b in zip(ls, hs, strict=True)]
    res = {"run": args.run, "n": len(items), "merge": args.merge, "seconds_per_sample": {"llama": t_llama, "hf": t_hf},
           "top1_agreement": sum(a == b for a, b in zip(top_l, top_h, strict=True)) / len(items),
           "acc@1": {"llama": sum(t == g for t, (_, _, g) in zip(top_l, items, strict=True)) / len(items),
                     "hf": sum(t == g for t, (_, _, g) in zip(top_h, items, strict=True)) / len(items)},
           "mean_abs_logprob_diff": float(np.mean(diffs)), "max_abs_logprob_diff": float(np.max(diffs))}
    out = ROOT / f"results/bench/llama-scoring-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
