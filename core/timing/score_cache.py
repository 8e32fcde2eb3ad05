"""The timing score cache: per sample the rule side (selector top score, rule features) and the LLM's true/false
margin, one JSONL line per scored sample, so fitting the hybrid (core/timing/fit.py) never rescores.

A cache file holds one dataset x model (+ adapter SHA) x vote prompt variant x selector; it lives in the user
cache dir (`core.paths.cache_dir() / "timing-cache"`) unless a folder is given. Rows hold ids, labels and numbers
only. Files are appended as samples are scored (an interrupted run resumes; a torn last line is skipped), in a
fixed shuffled order so any scored prefix is a random subset.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

FEATURE_NAMES = ("action_verb", "realtime", "date", "amount", "identifier", "proper_noun", "knowledge_question",
                 "chitchat", "creative", "result_in_context", "new_request")

MarginFn = Callable[[dict[str, Any], dict[str, Any]], tuple[float | None, int]]


def default_cache_dir() -> Path:
    """`<user cache dir>/timing-cache` (`$SAGE_TUI_CACHE` moves it): regenerable, never in git."""
    from core.paths import cache_dir

    return cache_dir() / "timing-cache"


def features_sha() -> str:
    """Hash of the rule's feature code and weights: cached features from other code are recomputed."""
    from core.timing import features

    return hashlib.sha256(inspect.getsource(features).encode()).hexdigest()[:12]


def rule_side(samples: Sequence[dict[str, Any]], selector: Any, top_k: int = 5) -> list[dict[str, Any]]:
    """id, gold, selector top score, ranked tool ids and the rule's boolean features of each sample."""
    from core.timing.decider import MAX_MESSAGE_CHARS
    from core.timing.features import extract_features

    out = []
    for s in samples:
        msg = " ".join(s["message"].split())[:MAX_MESSAGE_CHARS]
        ranked = selector.select(msg, top_k=top_k) if selector is not None else []
        f = extract_features(msg, s.get("context") or [], 0.0)
        out.append({"id": s["id"], "gold": bool(s["gold"]["should_call_tool"]),
                    "top": max(ranked[0].score, 0.0) if ranked else 0.0, "tools": [r.tool_id for r in ranked],
                    "features": {k: bool(getattr(f, k)) for k in FEATURE_NAMES}})
    return out


def cache_path(label: str, dataset_sha: str, key: str, vote_tools: int, selector: str,
               cache_dir: Path | None = None) -> Path:
    """The cache file of one dataset x model (+ adapter SHA) x vote prompt variant x selector, in `cache_dir`
    (default: `default_cache_dir()`)."""
    def safe(x: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", x)

    folder = cache_dir if cache_dir is not None else default_cache_dir()
    return folder / f"{safe(label)}-{dataset_sha[:12]}__{safe(key)}__tools{vote_tools}__{safe(selector)}.jsonl"


def load_cache(path: Path) -> dict[str, dict[str, Any]]:
    """Rows by id (the last line of an id wins; a torn last line is skipped)."""
    rows: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and "id" in row and "margin" in row:
                rows[row["id"]] = row
    return rows


def score_order(ids: Sequence[str], seed: int) -> list[str]:
    """A fixed shuffled order, so any scored prefix is a random subset."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    return order


def fill_cache(label: str, samples: Sequence[dict[str, Any]], side: Sequence[dict[str, Any]], path: Path, *,
               margin_fn: MarginFn, deadline: float | None = None, seed: int = 0, every: int = 25,
               limit: int = 0, log: Callable[[str], None] | None = None) -> int:
    """Score the samples missing from the cache (in `score_order`), appending a line per sample; returns the
    number newly scored. `margin_fn(sample, side_row) -> (margin, prompt tokens)`. Stops at `deadline` or after
    `limit` new samples (0: no limit). `log` (default: print) gets one progress line every `every` samples."""
    say = log or (lambda m: print(m, flush=True))
    done = load_cache(path)
    by_id = {s["id"]: s for s in samples}
    side_by = {r["id"]: r for r in side}
    todo = [i for i in score_order(list(by_id), seed) if i not in done]
    if limit:
        todo = todo[:limit]
    if not todo:
        say(f"  {label}: all {len(samples)} cached ({path.name})")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    fsha = features_sha()
    t0, n = time.perf_counter(), 0
    say(f"  {label}: {len(done)}/{len(samples)} cached, scoring {len(todo)} -> {path.name}")
    torn = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    with path.open("a") as fh:
        if torn:  # an interrupted write left half a line: end it, so the next row starts on its own line
            fh.write("\n")
        for i in todo:
            if deadline is not None and time.time() >= deadline:
                say(f"  {label}: deadline reached after {n} new samples")
                break
            t1 = time.perf_counter()
            margin, tokens = margin_fn(by_id[i], side_by[i])
            r = side_by[i]
            fh.write(json.dumps({"id": i, "gold": r["gold"], "top": round(r["top"], 6), "features": r["features"],
                                 "features_sha": fsha, "margin": margin, "tokens": tokens,
                                 "s": round(time.perf_counter() - t1, 3)}) + "\n")
            fh.flush()
            n += 1
            if n % every == 0 or n == len(todo):
                el = time.perf_counter() - t0
                eta = el / n * (len(todo) - n)
                say(f"  {label}: {len(done) + n}/{len(samples)}  {el / n:.2f} s/sample  eta {eta / 60:.1f} min")
    return n


def merge(side: Sequence[dict[str, Any]], cache: dict[str, dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """Rows for the CV: the current rule side (recomputed, cheap) + the cached margin (None if not scored)."""
    out = []
    for r in side:
        c = cache.get(r["id"])
        out.append({**r, "margin": None if c is None else c.get("margin"), "source": source,
                    "tokens": None if c is None else c.get("tokens"), "s": None if c is None else c.get("s")})
    return out
