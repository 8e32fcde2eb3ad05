"""Regex-guided greedy decoding on llama.cpp with fast-forward of forced text (no GBNF sampler).

Why: with Gemma's 262k-token vocabulary llama.cpp's grammar sampler checks every token at every step
(measured ~12 tok/s constrained vs ~42 free). Here the model runs unconstrained; only the few best
tokens are checked against the output regex (`regex` partial matching), and whenever the regex allows
exactly one next character (JSON keys, braces, the rest of a tool id once its prefix is unique) that
text is appended without sampling and evaluated in one batch. The KV cache keeps the longest common
prefix with the previous call, so a fixed system prompt is evaluated once; the rest of the prompt is
evaluated together with the forced text that opens the answer.

Greedy decoding also drafts ahead: at each choice the token that followed the latest earlier occurrence of
the last 3 or 2 tokens (prompt lookup: argument values copy the goal, steps repeat earlier steps), up to
the next forced text, and verifies the draft in the same batch as the pending tokens, with logits before
every guess. A guess is kept only where greedy decoding picks it anyway, so the text is the one greedy
decoding produces up to float differences between batch shapes (measured up to ~2 logits on this model,
so near-ties can flip). Each kept guess saves a forward call (with Gemma's 262k vocabulary every call pays
for a full LM head); each drafted token costs ~3-7 ms, hence short drafts that stop at forced text.
"""

from __future__ import annotations

import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# most likely characters first: a free position exits after two hits
ALPHABET = ' "e,a:t]o}i{[n0123456789srlcdhu_-.mpgfywbvkxjqzEATOINSRLCDHUMPGFYWBVKXJQZ!#$%&\'()*+/;<=>?@\\^`|~'
assert set(ALPHABET) >= set(string.ascii_letters + string.digits)
NON_ASCII_PROBE = "é"
TOP_CANDIDATES = 48
DRAFT_TOKENS = 4  # draft length (guesses + forced text) per forward call (0: no drafting)
DRAFT_NGRAMS = (3, 2)  # context n-gram sizes tried for a lookup, longest first
DRAFT_THROUGH_FORCED = False  # drafts continue over forced text (measured: the wasted tokens cost more)


@dataclass
class GuidedResult:
    text: str
    finish_reason: str
    prompt_tokens: int
    sampled_tokens: int
    forced_tokens: int
    stats: dict[str, float] = field(default_factory=dict)


class _Pieces:
    """Token id -> decoded text (None for partial UTF-8 / special tokens), cached per model."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.cache: dict[int, str | None] = {}

    def __call__(self, tok: int) -> str | None:
        if tok not in self.cache:
            try:
                self.cache[tok] = self.llm.detokenize([tok]).decode("utf-8") or None
            except UnicodeDecodeError:
                self.cache[tok] = None
        return self.cache[tok]


_PIECES: dict[int, _Pieces] = {}


def _pieces(llm: Any) -> _Pieces:
    key = id(llm)
    if key not in _PIECES or _PIECES[key].llm is not llm:
        _PIECES[key] = _Pieces(llm)
    return _PIECES[key]


_PROBES: dict[str, tuple[str, str]] = {}


def _probes(pattern: Any) -> tuple[str, str]:
    """(characters to probe, in ALPHABET order; the stand-ins) for a pattern made by `schema_to_regex`.

    A character that its source never mentions (digits aside: `[0-9]` names no `5`) can only be matched by a
    negated class, like every other such character: one of them stands in for all, so a forced position
    is detected with about half the probes. The stand-ins are that character and a second one."""
    src = pattern.pattern
    if src not in _PROBES:
        if len(_PROBES) > 256:
            _PROBES.clear()
        named = set(src) | set(string.digits)
        rest = [c for c in ALPHABET if c not in named]
        probes = "".join(c for c in ALPHABET if c in named or c == rest[0]) if len(rest) >= 2 else ALPHABET
        _PROBES[src] = (probes, "".join(rest[:2]) if len(rest) >= 2 else "")
    return _PROBES[src]


def _next_chars(pattern: Any, text: str, limit: int = 2) -> list[str]:
    """Up to `limit` characters that keep `text + c` a prefix of a match."""
    probes, stand_in = _probes(pattern)
    out = []
    for c in probes:
        if pattern.fullmatch(text + c, partial=True):
            if stand_in and c == stand_in[0]:  # a whole class of characters fits here
                out += [c, stand_in[1]]
            else:
                out.append(c)
            if len(out) >= limit:
                return out[:max(limit, 2)]
    if out and pattern.fullmatch(text + NON_ASCII_PROBE, partial=True):
        out.append(NON_ASCII_PROBE)
    return out


def log_softmax(v: np.ndarray) -> np.ndarray:
    """Log-probabilities (float64) from one row of logits."""
    v = v.astype(np.float64)
    m = v.max()
    return v - (m + np.log(np.exp(v - m).sum()))


def _logits(llm: Any) -> np.ndarray:
    import llama_cpp

    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),))


def eval_prompt(llm: Any, tokens: list[int]) -> int:
    """Evaluate `tokens`, reusing the longest common prefix already in the KV cache; returns reused count."""
    cached = llm.input_ids[: llm.n_tokens]
    n = min(len(cached), len(tokens) - 1)  # always evaluate >= 1 token so logits are fresh
    lcp = 0
    while lcp < n and cached[lcp] == tokens[lcp]:
        lcp += 1
    llm.n_tokens = lcp
    llm.eval(tokens[lcp:])
    return lcp


def _decode(llm: Any, tokens: list[int], outputs: range) -> None:
    """Evaluate `tokens` after the cached ones in one batch, with logits at the batch indices `outputs`
    (llama-cpp-python's `Llama.eval` computes the last ones only)."""
    llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
    llm._batch.set_batch(batch=tokens, n_past=llm.n_tokens, logits_all=False)
    for i in outputs:
        llm._batch.batch.logits[i] = True
    llm._ctx.decode(llm._batch)
    llm.input_ids[llm.n_tokens: llm.n_tokens + len(tokens)] = tokens
    llm.n_tokens += len(tokens)


def _row(llm: Any, i: int) -> np.ndarray:
    import llama_cpp

    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, i), shape=(llm.n_vocab(),))


class _Lookup:
    """Prompt lookup over the prompt and the output so far: the token that followed the latest earlier
    occurrence of the longest of the last DRAFT_NGRAMS tokens seen before."""

    def __init__(self, tokens: list[int]) -> None:
        self.toks: list[int] = []
        self.index: dict[tuple[int, ...], int] = {}  # n-gram -> where its latest follower starts
        for t in tokens:
            self.add(t)

    def add(self, tok: int) -> None:
        n = len(self.toks)
        for k in DRAFT_NGRAMS:
            if n >= k:
                self.index[tuple(self.toks[n - k:])] = n
        self.toks.append(tok)

    def guess(self, ahead: list[int]) -> int | None:
        """The next token after the context extended by `ahead` (not yet seen tokens), or None."""
        for k in DRAFT_NGRAMS:
            tail = (self.toks[-k:] + ahead)[-k:] if len(ahead) < k else ahead[-k:]
            at = self.index.get(tuple(tail)) if len(tail) == k else None
            if at is not None:
                return self.toks[at]
        return None


def guided_generate(llm: Any, prompt_tokens: list[int], pattern: Any, *, max_tokens: int, temperature: float = 0.0,
                    seed: int = 0, on_token: Callable[[str], None] | None = None,
                    draft_tokens: int = DRAFT_TOKENS) -> GuidedResult:
    """Greedy (or seeded sampling among valid tokens) decoding of a text that fully matches `pattern`.

    Greedy decoding drafts up to `draft_tokens` tokens ahead per forward call: prompt-lookup guesses where the
    model chooses, the forced text where the pattern does."""
    pieces = _pieces(llm)
    rng = np.random.default_rng(seed)
    stats = {"prompt_s": 0.0, "forward_s": 0.0, "regex_s": 0.0, "reused_prompt_tokens": 0.0, "draft_tokens": 0.0,
             "draft_guesses": 0.0, "accepted_draft_tokens": 0.0, "forward_calls": 0.0}
    cached = llm.input_ids[: llm.n_tokens]
    n = min(len(cached), len(prompt_tokens) - 1)  # always evaluate >= 1 prompt token so logits are fresh
    lcp = 0
    while lcp < n and cached[lcp] == prompt_tokens[lcp]:
        lcp += 1
    llm.n_tokens = lcp
    stats["reused_prompt_tokens"] = float(lcp)
    text, sampled, forced, finish = "", 0, 0, "length"
    pending: list[int] = list(prompt_tokens[lcp:])  # tokens not yet evaluated (evaluated lazily, in one batch)
    lookup = _Lookup(prompt_tokens) if temperature <= 0 and draft_tokens > 0 and hasattr(llm, "_batch") else None
    draft: list[int] = []  # evaluated tokens ahead of `text` (guesses and forced text), not all confirmed
    rowmap: dict[int, int] = {}  # draft position -> batch index of the logits before it (guesses, the end)
    base = used = 0  # KV length before draft[0]; draft tokens confirmed so far
    states: dict[str, tuple[list[str], bool]] = {}  # text -> (next characters, complete)
    runs: dict[str, tuple[str, list[int]]] = {}  # text -> (its forced run, the run's tokens)

    def state(t: str) -> tuple[list[str], bool]:
        if t not in states:
            states[t] = (_next_chars(pattern, t), bool(pattern.fullmatch(t)))
        return states[t]

    def forced_run(t: str) -> tuple[str, list[int]]:
        if t not in runs:
            run = ""
            nxt, done = state(t)
            while len(nxt) == 1 and not done:
                run += nxt[0]
                nxt, done = state(t + run)
            runs[t] = (run, llm.tokenize(run.encode("utf-8"), add_bos=False, special=False))
        return runs[t]

    def emit(piece: str) -> None:
        nonlocal text
        text += piece
        if on_token is not None:
            on_token(piece)

    def drop_draft() -> None:  # forget the unconfirmed rest of the draft (its KV is overwritten later)
        nonlocal draft
        if draft:
            llm.n_tokens = base + used
        draft = []
        rowmap.clear()

    def make_draft(room: int) -> tuple[list[int], list[int]]:
        """Tokens ahead of `text`: a guess at each choice (prompt lookup; forced text in between only with
        DRAFT_THROUGH_FORCED); and the draft positions that are guesses."""
        out: list[int] = []
        guesses: list[int] = []
        t = text
        while lookup is not None and len(out) < room:
            nxt, done = state(t)
            if not nxt:
                break
            if len(nxt) == 1 and not done:
                run, toks = forced_run(t)
                if not DRAFT_THROUGH_FORCED or len(out) + len(toks) > room:
                    break
                out += toks
                t += run
                continue
            tok = lookup.guess(out)
            piece = pieces(tok) if tok is not None else None
            if tok is None or piece is None or not pattern.fullmatch(t + piece, partial=True):
                break
            guesses.append(len(out))
            out.append(tok)
            t += piece
        return out, guesses

    def forward() -> np.ndarray:
        nonlocal pending, draft, base, used
        t = time.perf_counter()
        first = stats["forward_calls"] == 0
        room = min(draft_tokens, max_tokens - sampled - forced - 1, llm.n_batch - len(pending))
        cand, guesses = make_draft(room) if room > 0 else ([], [])
        stats["regex_s"] += time.perf_counter() - t
        t = time.perf_counter()
        if cand:
            k = len(pending) - 1
            outs = sorted({k + i for i in guesses} | {k + len(cand)})
            _decode(llm, pending + cand, outs)
            base, used, draft = llm.n_tokens - len(cand), 0, cand
            rowmap.update({i: k + i for i in [*guesses, len(cand)]})
            stats["draft_tokens"] += len(cand)
            stats["draft_guesses"] += len(guesses)
        else:
            llm.eval(pending)
        pending = []
        stats["forward_calls"] += 1
        stats["prompt_s" if first else "forward_s"] += time.perf_counter() - t
        return _row(llm, rowmap[0]) if draft else _logits(llm)

    while sampled + forced < max_tokens:
        t = time.perf_counter()
        nxt, complete = state(text)
        if not nxt:
            finish = "stop" if complete else "invalid"
            stats["regex_s"] += time.perf_counter() - t
            break
        if len(nxt) == 1 and not complete:
            run, full = forced_run(text)
            stats["regex_s"] += time.perf_counter() - t
            toks = full[: max_tokens - sampled - forced]
            if draft and draft[used: used + len(toks)] == toks:
                used += len(toks)  # already evaluated as part of the draft
            else:
                drop_draft()
                pending += toks
            forced += len(toks)
            if lookup is not None:
                for tok in toks:
                    lookup.add(tok)
            emit(run if len(toks) == len(full) else llm.detokenize(toks).decode("utf-8", errors="replace"))
            continue
        stats["regex_s"] += time.perf_counter() - t
        if draft and used in rowmap:
            logits = _row(llm, rowmap[used])
        else:
            drop_draft()
            logits = forward()
        t = time.perf_counter()
        valid = _choose(logits, pattern, text, complete, temperature, pieces)
        stats["regex_s"] += time.perf_counter() - t
        if not valid:
            if complete:
                finish = "stop"
                break
            valid = llm.tokenize(nxt[0].encode("utf-8"), add_bos=False, special=False)[:1]
        if temperature > 0 and len(valid) > 1:
            z = logits[valid] / temperature
            p = np.exp(z - z.max())
            tok = int(rng.choice(valid, p=p / p.sum()))
        else:
            tok = int(valid[0])
        if draft and used < len(draft) and tok == draft[used]:
            used += 1  # the guess greedy decoding picks anyway: already evaluated
            stats["accepted_draft_tokens"] += 1
        else:
            drop_draft()
            pending.append(tok)
        if lookup is not None:
            lookup.add(tok)
        sampled += 1
        emit(pieces(tok) or nxt[0])
    drop_draft()
    if finish == "length" and pattern.fullmatch(text):
        finish = "stop"
    return GuidedResult(text, finish, len(prompt_tokens), sampled, forced, {k: round(v, 4) for k, v in stats.items()})


def _choose(logits: np.ndarray, pattern: Any, text: str, complete: bool, temperature: float,
            pieces: _Pieces) -> list[int]:
    """Valid next tokens among the model's best, best first (greedy: only the best one). Empty when none is
    valid, or when the best is an end/special token on a complete text."""
    if temperature <= 0:  # the best token is usually valid: skip the partial sort
        best = int(np.argmax(logits))
        piece = pieces(best)
        if piece is None and complete:
            return []
        if piece is not None and pattern.fullmatch(text + piece, partial=True):
            return [best]
    top = np.argpartition(logits, -TOP_CANDIDATES)[-TOP_CANDIDATES:]
    top = top[np.argsort(-logits[top])]
    valid: list[int] = []
    for tok in top.tolist():
        piece = pieces(tok)
        if piece is None:
            if complete:  # end of turn / special token on a complete text
                break
            continue
        if pattern.fullmatch(text + piece, partial=True):
            valid.append(tok)
            if temperature <= 0:
                break
    return valid
