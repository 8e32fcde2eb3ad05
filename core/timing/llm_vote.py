"""A calibrated LLM vote for the timing decider: P(call) from the logits of the constrained choice.

Instead of reading the greedy string, the vote scores the two answers the output schema allows at
the decision point, `{"should_call_tool": true` and `{"should_call_tool": false`, after the
timing prompt (the same continuations `training/evaluate.py` scores, so offline and in-process
numbers agree). The log-likelihood margin `m = log P(true...) - log P(false...)` is mapped to a
probability by per-model Platt scaling `P(call) = sigmoid(a * m + b)`, fitted on the validation
split by `bench/tune_timing.py` (class-balanced, so `logit P` is a likelihood ratio the hybrid can add
to the rule's log-odds) and stored in `core/timing/calibration.json`, keyed by model name and the
SHA-256 of its LoRA file: a retrained adapter gets no stale calibration (identity `a=1, b=0` then).
A vote prompt variant other than the default (`core/timing/vote_prompt.py`, fewer tool lines) adds
`|vote:toolsN` to the key, so calibrations of different prompts never mix.

Scoring needs logits: backends that expose `continuation_logprobs(messages, texts)` are used as is;
`LlamaCppBackend` is scored in process (one prompt evaluation, KV prefix reused, plus one forward pass
per branch token). Other backends (HTTP, scripted test backends) get `None` and the decider falls back
to parsing a generated answer.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.llm.base import Message
from core.timing.vote_prompt import DEFAULT_VOTE_TOOLS, variant_tag

TRUE_TEXT = '{"should_call_tool": true'
FALSE_TEXT = '{"should_call_tool": false'
FIELDS = ("a", "b", "key", "fitted_on", "n", "band", "llm_weight", "combiner")
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


@dataclass
class Calibration:
    """Platt scaling of the true-vs-false log-likelihood margin of one model (+ adapter)."""

    a: float = 1.0
    b: float = 0.0
    key: str = ""
    fitted_on: str = "identity (no calibration for this model)"
    n: int = 0
    band: float | None = None  # hybrid band tuned with this model on the validation split
    llm_weight: float | None = None  # hybrid weight of the LLM log-odds tuned with this model
    # hybrid in-band combiner weights {rule, margin, bias} (core/timing/combiner.py), when one was fitted
    combiner: dict[str, float] | None = None

    def probability(self, margin: float) -> float:
        return _sigmoid(self.a * margin + self.b)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _file_sha(path: str | Path) -> str:
    from core.filehash import file_sha256

    return file_sha256(path)


def model_key(backend: Any) -> str:
    """`<model name>|lora:<sha256[:12] of the LoRA file or none>` for a backend (stable across machines)."""
    model = getattr(backend, "model", None)
    if model is not None and hasattr(model, "name"):
        name, lora = model.name, getattr(model, "lora", None)
    else:
        info = backend.info() if hasattr(backend, "info") else {}
        name, lora = str(info.get("name") or info.get("model") or getattr(backend, "name", "?")), info.get("lora")
    tag = "none"
    if lora:
        try:
            tag = _file_sha(lora)[:12]
        except OSError:
            tag = "missing"
    return f"{name}|lora:{tag}"


def load_calibrations(path: Path | None = None) -> dict[str, Calibration]:
    path = path or CALIBRATION_FILE
    if not path.is_file():
        return {}
    from core.errors import DataError
    from core.timing.combiner import Combiner

    try:
        raw = json.loads(path.read_text())
    except ValueError as exc:
        raise DataError(f"invalid JSON: {exc}", path=str(path)) from None
    if not isinstance(raw, dict):
        raise DataError("expected an object of calibrations keyed by model", path=str(path))
    out = {}
    for k, v in raw.items():
        if not isinstance(v, dict):
            raise DataError(f"calibration {k!r} must be an object", path=str(path), field=k)
        cal = Calibration(**{f: v[f] for f in FIELDS if f in v})
        if cal.combiner is not None:
            try:
                cal.combiner = Combiner.from_dict(cal.combiner, where=f"{k}.combiner").to_dict()
            except DataError as exc:
                raise DataError(exc.message, path=str(path), field=exc.field) from None
        out[k] = cal
    return out


def calibration_for(backend: Any, path: Path | None = None, vote_tools: int = DEFAULT_VOTE_TOOLS) -> Calibration:
    """The stored calibration of this backend's model + LoRA for one vote prompt variant (identity if none)."""
    key = model_key(backend) + variant_tag(vote_tools)
    return load_calibrations(path).get(key) or Calibration(key=key)


def calibrated_vote_tools(backend: Any, path: Path | None = None) -> int:
    """The vote prompt variant this model was calibrated with: the default one when it has an entry, else the
    fewest tools among its calibrated variants, else the default."""
    base = model_key(backend)
    keys = set(load_calibrations(path))
    if base in keys:
        return DEFAULT_VOTE_TOOLS
    prefix = base + "|vote:tools"
    found = sorted(int(k[len(prefix):]) for k in keys if k.startswith(prefix) and k[len(prefix):].isdigit())
    return found[0] if found else DEFAULT_VOTE_TOOLS


def save_calibration(cal: Calibration, path: Path | None = None, extra: dict[str, Any] | None = None) -> None:
    """Add or replace the entry for `cal.key` (band / llm_weight in `extra` become part of it)."""
    path = path or CALIBRATION_FILE
    raw = json.loads(path.read_text()) if path.is_file() else {}
    raw[cal.key] = {**cal.to_dict(), **(extra or {})}
    path.write_text(json.dumps(raw, indent=2, sort_keys=True) + "\n")


def fit_platt(margins: Sequence[float], labels: Sequence[bool], *, balanced: bool = True, l2: float = 1e-3,
              iters: int = 100) -> tuple[float, float]:
    """Logistic regression of the label on the margin (Newton steps); class-balanced weights by default."""
    import numpy as np

    x = np.asarray(margins, dtype=float)
    y = np.asarray(labels, dtype=float)
    if len(x) == 0 or y.min() == y.max():
        return 0.0, 0.0
    w = np.ones_like(x)
    if balanced:
        pos = y.sum()
        w = np.where(y > 0, len(y) / (2 * pos), len(y) / (2 * (len(y) - pos)))
    a, b = 0.0, 0.0
    for _ in range(iters):
        z = np.clip(a * x + b, -30, 30)
        p = 1 / (1 + np.exp(-z))
        g_a = np.sum(w * (p - y) * x) + l2 * a
        g_b = np.sum(w * (p - y))
        s = w * p * (1 - p)
        h = np.array([[np.sum(s * x * x) + l2, np.sum(s * x)], [np.sum(s * x), np.sum(s) + 1e-9]])
        try:
            step = np.linalg.solve(h, np.array([g_a, g_b]))
        except np.linalg.LinAlgError:
            break
        a, b = a - float(step[0]), b - float(step[1])
        if abs(step).max() < 1e-8:
            break
    return a, b


def _llama_logprobs(backend: Any, messages: Sequence[Message], texts: Sequence[str]) -> list[float]:
    """Sum of token log-probabilities of each text after the rendered prompt, in process on llama.cpp."""

    from core.llm.guided import _logits, eval_prompt, log_softmax

    llm = backend._llama(backend.slot_for(messages))
    prompt = backend.render(messages)
    seqs = [llm.tokenize((prompt + t).encode("utf-8"), add_bos=True, special=True) for t in texts]
    common = 0
    while all(common < len(s) - 1 for s in seqs) and len({s[common] for s in seqs}) == 1:
        common += 1
    if common + 512 > backend.n_ctx:
        from core.errors import ModelError

        raise ModelError(f"timing prompt of {common} tokens exceeds n_ctx={backend.n_ctx}")

    out = []
    with backend._lock:
        eval_prompt(llm, seqs[0][:common])
        base = log_softmax(_logits(llm))
        for s in seqs:
            lp, dist = 0.0, base
            rest = s[common:]
            llm.n_tokens = common
            for i, tok in enumerate(rest):
                lp += float(dist[tok])
                if i + 1 < len(rest):
                    llm.eval([tok])
                    dist = log_softmax(_logits(llm))
            out.append(lp)
        llm.n_tokens = common  # the shared prefix stays cached for the next call
    return out


def choice_logprobs(backend: Any, messages: Sequence[Message], texts: Sequence[str]) -> list[float] | None:
    """Log-likelihood of each text as the answer's beginning, or None when the backend exposes no logits."""
    fn = getattr(backend, "continuation_logprobs", None)
    if callable(fn):
        return list(fn(messages, texts))
    if all(hasattr(backend, a) for a in ("_llama", "render", "slot_for", "_lock", "n_ctx")):
        return _llama_logprobs(backend, messages, texts)
    return None


MARGIN_CACHE_SIZE = 4096


def vote_margin(backend: Any, messages: Sequence[Message]) -> float | None:
    """log P(`{"should_call_tool": true`) - log P(`... false`) after the timing prompt, or None.

    Memoised on the backend object per prompt (the llm and hybrid evaluators of one eval share a
    backend, so a sample the hybrid sends to the LLM is not scored twice)."""
    cache = getattr(backend, "_timing_vote_cache", None)
    if cache is None:
        cache = OrderedDict()
        try:
            backend._timing_vote_cache = cache
        except AttributeError:  # slotted / frozen backend: no memo
            pass
    key = json.dumps(list(messages), sort_keys=True)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    disk = _disk_cache(backend)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    if disk is not None and digest in disk[0]:
        m = disk[0][digest]
    else:
        lp = choice_logprobs(backend, messages, [TRUE_TEXT, FALSE_TEXT])
        m = None if lp is None else lp[0] - lp[1]
        if disk is not None and m is not None:
            disk[0][digest] = m
            with disk[1].open("a") as f:
                f.write(json.dumps({"k": digest, "m": m}) + "\n")
    cache[key] = m
    if len(cache) > MARGIN_CACHE_SIZE:
        cache.popitem(last=False)
    return m


VOTE_CACHE_ENV = "SAGE_TUI_TIMING_VOTE_CACHE"
_DISK: dict[str, tuple[dict[str, float], Path]] = {}


def _disk_cache(backend: Any) -> tuple[dict[str, float], Path] | None:
    """Opt-in (`$SAGE_TUI_TIMING_VOTE_CACHE=DIR`) persistent margins per model key (model + LoRA SHA-256) and
    prompt, for benchmark re-runs; decisions are deterministic, but cached ones take no LLM time."""
    import os
    import re

    root = os.environ.get(VOTE_CACHE_ENV)
    if not root:
        return None
    key = model_key(backend)
    if key not in _DISK:
        path = Path(root) / (re.sub(r"[^A-Za-z0-9_.-]+", "_", key) + ".jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        data: dict[str, float] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                    data[row["k"]] = float(row["m"])
                except (ValueError, KeyError, TypeError):
                    continue
        _DISK[key] = (data, path)
    return _DISK[key]
