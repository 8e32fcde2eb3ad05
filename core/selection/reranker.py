"""A tool reranker: MiniLM reading a request and a tool's name and description together (a cross-encoder).

`training/reranker.py` fine-tunes the bundled MiniLM's top layers and a linear head on the query tower's
training pairs (never an evaluation set), each request against tools the first stage confuses it with. At plan
time it rescores a clause's few best retrieved tools (`PlannerConfig.rerank_k`); the numpy encoder runs the pair
with the reranker's layers in place of the base ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import DataError, UsageError
from core.paths import assets_dir
from core.selection.trained_file import read_meta, read_npz, weights_id

KIND = "reranker"


def bundled_reranker_path() -> Path:
    return assets_dir() / "selection" / "reranker.npz"


@dataclass
class Reranker:
    """`weights` (replaced layers, `core.selection.encoder.numpy_layout` names) and a linear head over the
    mean-pooled (request, tool) pair, for the encoder `encoder_id`."""

    weights: dict[str, np.ndarray]
    head_w: np.ndarray
    head_b: float
    encoder_id: str
    max_len: int = 64
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @cached_property
    def id(self) -> str:
        return weights_id(self.weights, self.head_w)

    def scores(self, query: str, docs: list[str], encoder: Any) -> np.ndarray:
        """One score per doc for `query` (higher: the doc's tool does what the query asks)."""
        if not hasattr(encoder, "encode_pairs"):
            raise UsageError(f"the reranker needs the numpy encoder; {type(encoder).__name__} cannot read pairs",
                             hint="use the numpy encoder backend or turn reranking off (rerank_k=0)")
        if not docs:
            return np.zeros(0, dtype=np.float32)
        pooled = encoder.encode_pairs([(query, d) for d in docs], self.max_len, weights=self.weights)
        return (pooled @ self.head_w + self.head_b).astype(np.float32)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"w:{k}": v.astype(np.float16) for k, v in self.weights.items()}
        np.savez_compressed(path, kind=np.array(KIND), encoder_id=np.array(self.encoder_id),
                            head_w=self.head_w.astype(np.float32), head_b=np.array(self.head_b, dtype=np.float32),
                            max_len=np.array(self.max_len), meta=np.array(json.dumps(self.meta, sort_keys=True)),
                            **arrays)
        return path


def load_reranker(path: str | Path) -> Reranker:
    """Read a reranker file; a missing or malformed file is an error naming it and the field."""
    p, data = read_npz(path, "reranker", ("kind", "encoder_id", "head_w", "head_b", "max_len"),
                       "train one with `python -m training.reranker`")
    if str(data["kind"]) != KIND:
        raise DataError(f"expected kind {KIND!r}, got {str(data['kind'])!r}", path=str(p), field="kind")
    weights = {k[2:]: v.astype(np.float32) for k, v in data.items() if k.startswith("w:")}
    head_w = data["head_w"].astype(np.float32).reshape(-1)
    for k, v in [*weights.items(), ("head_w", head_w)]:
        if not np.isfinite(v).all():
            raise DataError("non-finite weights", path=str(p), field=f"w:{k}" if k != "head_w" else k)
    return Reranker(weights, head_w, float(data["head_b"]), str(data["encoder_id"]), int(data["max_len"]),
                    read_meta(data, p), source=str(p))
