"""In-process llama.cpp backend (llama-cpp-python), loaded once per process and reused."""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from core.errors import ModelError
from core.llm.base import Completion, Message, TokenCallback
from core.llm.chat_format import get_format
from core.llm.grammar import schema_to_gbnf
from core.llm.models import ResolvedModel, resolve_model

THREADS_ENV = "SAGE_TUI_THREADS"
DEFAULT_N_CTX = 4096  # Gemma 3 / Qwen 2.5 take 32k; 4096 keeps 4 slots' KV caches small (docs/PLANNING.md)
MIN_NEW_TOKENS = 64  # a prompt that leaves fewer new tokens than this is a ContextLengthError

DECODING_ENV = "SAGE_TUI_DECODING"
DECODINGS = ("guided", "gbnf")
MAX_SLOTS = 4  # contexts per model: one per fixed system prompt, so each keeps its prefix in the KV cache

_MODELS: dict[tuple[str, str | None, int, int, int], Any] = {}
_LOAD_LOCK = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Free cached models before interpreter teardown (avoids llama_cpp errors in __del__ at exit)."""
    for llm in _MODELS.values():
        try:
            llm.close()
        except Exception:  # best effort at exit
            pass
    _MODELS.clear()


def default_threads() -> int:
    """`$SAGE_TUI_THREADS`, else the number of physical cores (measure: see docs/PLANNING.md)."""
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            from core.errors import UsageError

            raise UsageError(f"${THREADS_ENV} must be a positive integer, got {env!r}")
        return int(env)
    try:
        import psutil

        return max(1, psutil.cpu_count(logical=False) or 1)
    except Exception:  # psutil missing or unsupported platform
        return max(1, (os.cpu_count() or 2) // 2)


def load_llama(path: str, lora: str | None, n_ctx: int, n_threads: int, seed: int = 0, slot: int = 0, *,
               n_threads_batch: int | None = None, flash_attn: bool = False, tag: str = "",
               extra_bufts: bool | None = None) -> Any:
    """Return the process-wide `llama_cpp.Llama` for this (model, LoRA, n_ctx, threads, context slot).

    Slots are separate contexts on the same mmap-ed weights (the file's pages are shared). `n_threads_batch`
    (default `n_threads`) runs multi-token batches (prompt, forced text, drafts); `tag` keeps separate
    contexts for otherwise identical settings (benchmark arms must not share KV caches). `extra_bufts`
    (default: `core.llm.cpu.choose_buffers()`, off on AMX CPUs) reaches `llama_model_params.use_extra_bufts`.
    """
    n_threads_batch = n_threads_batch or n_threads
    if extra_bufts is None:
        from core.llm.cpu import choose_buffers

        extra_bufts = choose_buffers().use_extra_bufts
    key = (path, lora, n_ctx, n_threads, slot, n_threads_batch, flash_attn, tag, extra_bufts)
    with _LOAD_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads starve a busy box
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelError(f"llama-cpp-python is not installed ({exc})", hint="pip install llama-cpp-python") from None
        import logging

        # llama.cpp's C log (LoRA buffer notes, load chatter) goes to stderr unless asked for
        if not os.environ.get("SAGE_TUI_LLAMA_LOG"):
            logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
        try:
            with model_params_patch(use_extra_bufts=extra_bufts):
                llm = Llama(model_path=path, lora_path=lora, n_ctx=n_ctx, n_threads=n_threads,
                            n_threads_batch=n_threads_batch, flash_attn=flash_attn, seed=seed, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"cannot load {path}" + (f" with LoRA {lora}" if lora else "") + f": {exc}") from None
        _MODELS[key] = llm
        return llm


@contextmanager
def model_params_patch(**fields: Any) -> Iterator[None]:
    """Set `llama_model_params` fields that `llama_cpp.Llama` does not expose (e.g. `use_extra_bufts`) on the
    params of every model loaded inside this block. Call under `_LOAD_LOCK` (it swaps a module attribute)."""
    import llama_cpp._internals as internals

    real = internals.LlamaModel

    class _Patched(real):  # type: ignore[misc, valid-type]
        def __init__(self, *, path_model: str, params: Any, verbose: bool = True) -> None:
            for name, value in fields.items():
                if hasattr(params, name):
                    setattr(params, name, value)
            super().__init__(path_model=path_model, params=params, verbose=verbose)

    internals.LlamaModel = _Patched
    try:
        yield
    finally:
        internals.LlamaModel = real


def relax_prefix_items(node: Any) -> Any:
    """Schema copy with every `prefixItems` array turned into `items: {anyOf: positions}` (same bounds): what
    llama.cpp's GBNF converter can express, since it makes every prefix item required."""
    if isinstance(node, list):
        return [relax_prefix_items(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: relax_prefix_items(v) for k, v in node.items()}
    if "prefixItems" in out:
        extra = out.pop("items", False)
        alts = [*out.pop("prefixItems"), *([extra] if isinstance(extra, dict) else [])]
        out["items"] = {"anyOf": alts} if len(alts) > 1 else alts[0] if alts else {"type": "string"}
    return out


class LlamaCppBackend:
    """Chat completion on a local GGUF with JSON-schema/GBNF constrained decoding and streaming."""

    def __init__(self, model: ResolvedModel | str | None = None, *, lora: str | None = None,
                 n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None, decoding: str | None = None,
                 slots: int = MAX_SLOTS, n_threads_batch: int | None = None, flash_attn: bool = False,
                 draft_tokens: int | None = None, positional: bool = True, context_tag: str = "",
                 merge_lora: bool | None = None) -> None:
        """`draft_tokens` (default `DRAFT_TOKENS`) and `positional` tune guided decoding (prompt-lookup drafts,
        positional step schemas); `context_tag` gives this backend its own llama.cpp contexts; `merge_lora`
        (default: `merge_default`, i.e. the shipped adapter only) loads base + LoRA as one merged file (core/llm/merge_lora.py)
        instead of applying the adapter at every forward pass. The model's identity (calibration keys, run
        configs) stays base + adapter either way."""
        from core.llm.guided import DRAFT_TOKENS
        from core.llm.merge_lora import merge_default

        self.model = model if isinstance(model, ResolvedModel) else resolve_model(model, lora)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.n_threads_batch = n_threads_batch or self.n_threads
        self.flash_attn = flash_attn
        self.draft_tokens = DRAFT_TOKENS if draft_tokens is None else max(0, draft_tokens)
        self.positional = positional
        self.context_tag = context_tag
        self.merge_lora = merge_default(self.model) if merge_lora is None else merge_lora
        self._merged_path: str | None = None
        self.decoding = decoding or os.environ.get(DECODING_ENV) or "guided"
        if self.decoding not in DECODINGS:
            raise ModelError(f"unknown decoding {self.decoding!r}; expected one of {DECODINGS}")
        self.slots = max(1, slots)
        self._slot_of: dict[str, int] = {}
        self._patterns: dict[str, Any] = {}
        self.name = f"llama.cpp:{self.model.name}"
        self._render, self._stop = get_format(self.model.chat_format)
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}

    @property
    def supports_prefix_items(self) -> bool:
        """Guided decoding follows `prefixItems` within `minItems`/`maxItems` exactly (the positional step
        schemas of core/llm/prompts.py); llama.cpp's GBNF converter would require every prefix item."""
        return self.decoding == "guided" and self.positional

    @property
    def llama(self) -> Any:
        return self._llama(0)

    def _weights(self) -> tuple[str, str | None]:
        """(GGUF to load, LoRA to apply at run time): the merged file and no LoRA when merging."""
        lora = str(self.model.lora) if self.model.lora else None
        if lora and self.merge_lora:
            if self._merged_path is None:
                from core.llm.merge_lora import merged_model_path

                self._merged_path = str(merged_model_path(self.model.path, lora))
            return self._merged_path, None
        return str(self.model.path), lora

    def prepare(self) -> None:
        """Merge the adapter if this backend merges and the cache lacks it (~20 s once), then load the model:
        callers with a progress display do this up front instead of inside the first completion."""
        self._llama(0)

    @property
    def merge_pending(self) -> bool:
        """True when the first load will build the merged file (worth telling the user about)."""
        if not (self.model.lora and self.merge_lora) or self._merged_path is not None:
            return False
        from core.llm.merge_lora import merged_model_path

        return not merged_model_path(self.model.path, self.model.lora, build=False).is_file()

    def _llama(self, slot: int) -> Any:
        path, lora = self._weights()
        return load_llama(path, lora, self.n_ctx, self.n_threads, slot=slot,
                          n_threads_batch=self.n_threads_batch, flash_attn=self.flash_attn, tag=self.context_tag)

    def slot_for(self, messages: Sequence[Message]) -> int:
        """Context slot for a prompt family: keyed by its first message (the fixed system prompt)."""
        head = (messages[0].get("content") or "") if messages else ""
        if head not in self._slot_of:
            self._slot_of[head] = len(self._slot_of) % self.slots
        return self._slot_of[head]

    def info(self) -> dict[str, Any]:
        return {"backend": "llama.cpp", **self.model.to_dict(), "n_ctx": self.n_ctx, "n_threads": self.n_threads,
                "n_threads_batch": self.n_threads_batch, "flash_attn": self.flash_attn, "decoding": self.decoding,
                "draft_tokens": self.draft_tokens, "positional": self.positional,
                **({"merged_lora": True} if self.merge_lora and self.model.lora else {})}

    def _pattern(self, json_schema: dict[str, Any]) -> Any:
        """Compiled output regex for a schema, or None when the converter does not support it."""
        import json

        import regex

        from core.llm.json_regex import UnsupportedSchema, schema_to_regex

        key = json.dumps(json_schema, sort_keys=True)
        if key not in self._patterns:
            try:
                self._patterns[key] = regex.compile(schema_to_regex(json_schema))
            except (UnsupportedSchema, regex.error):
                self._patterns[key] = None
            if len(self._patterns) > 256:
                self._patterns.pop(next(iter(self._patterns)))
        return self._patterns[key]

    def render(self, messages: Sequence[Message]) -> str:
        return self._render(messages, add_generation_prompt=True)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens of these messages as `complete` would send them (loads the model)."""
        return len(self._llama(0).tokenize(self.render(messages).encode("utf-8"), add_bos=True, special=True))

    def _grammar(self, json_schema: dict[str, Any] | None, grammar: str | None) -> Any:
        if json_schema is None and grammar is None:
            return None
        import json

        from llama_cpp import LlamaGrammar

        text = grammar if grammar is not None else schema_to_gbnf(relax_prefix_items(json_schema or {}))
        key = text if grammar is not None else json.dumps(json_schema, sort_keys=True)
        if key not in self._grammars:
            try:
                self._grammars[key] = LlamaGrammar.from_string(text, verbose=False)
            except ValueError as exc:
                raise ModelError(f"invalid grammar: {exc}") from None
            if len(self._grammars) > 256:
                self._grammars.pop(next(iter(self._grammars)))
        return self._grammars[key]

    def complete(
        self,
        messages: Sequence[Message],
        *,
        json_schema: dict[str, Any] | None = None,
        grammar: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        prompt = self.render(messages)
        llm = self._llama(self.slot_for(messages))
        pattern = None
        # guided decoding (a compiled regex of the schema) cannot honour arbitrary stop strings: with `stop`
        # the schema goes through llama.cpp's GBNF sampler instead, which stops on them
        if json_schema is not None and grammar is None and self.decoding == "guided" and not stop:
            pattern = self._pattern(json_schema)
        gram = None if pattern is not None else self._grammar(json_schema, grammar)
        with self._lock:
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
            n_prompt = len(tokens)
            if n_prompt + min(max_tokens, MIN_NEW_TOKENS) > self.n_ctx:
                from core.errors import ContextLengthError

                raise ContextLengthError(f"prompt of {n_prompt} tokens leaves no room for new tokens in n_ctx={self.n_ctx}")
            max_tokens = min(max_tokens, self.n_ctx - n_prompt)  # the rest of the window, reported as truncation
            if pattern is not None:
                return self._guided(llm, tokens, pattern, max_tokens, temperature, seed, on_token)
            t0 = time.perf_counter()
            pieces: list[str] = []
            finish = "stop"
            n_out = 0
            try:
                stream = llm.create_completion(
                    prompt, max_tokens=max_tokens, temperature=temperature, seed=seed, grammar=gram,
                    stop=list(stop or []) + self._stop, stream=True, top_k=1 if temperature == 0 else 40,
                )
                for chunk in stream:
                    choice = chunk["choices"][0]
                    piece = choice.get("text") or ""
                    if piece:
                        pieces.append(piece)
                        n_out += 1
                        if on_token is not None:
                            on_token(piece)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            except (RuntimeError, ValueError) as exc:
                raise ModelError(f"generation failed: {exc}") from None
            secs = time.perf_counter() - t0
        return Completion("".join(pieces), finish, n_prompt, n_out, secs,
                          meta={"backend": self.name, "decoding": "gbnf" if gram is not None else "free"})

    def _guided(self, llm: Any, tokens: list[int], pattern: Any, max_tokens: int, temperature: float, seed: int,
                on_token: TokenCallback | None) -> Completion:
        from core.llm.guided import guided_generate

        t0 = time.perf_counter()
        try:
            r = guided_generate(llm, tokens, pattern, max_tokens=max_tokens, temperature=temperature, seed=seed,
                                on_token=on_token, draft_tokens=self.draft_tokens)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"generation failed: {exc}") from None
        secs = time.perf_counter() - t0
        finish = "length" if r.finish_reason == "length" else "stop"
        return Completion(r.text, finish, r.prompt_tokens, r.sampled_tokens + r.forced_tokens, secs,
                          meta={"backend": self.name, "decoding": "guided", "sampled_tokens": r.sampled_tokens,
                                "forced_tokens": r.forced_tokens, **r.stats})
