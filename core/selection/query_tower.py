"""A query tower: the embedding model's top layers fine-tuned for requests, the tool side left as it is.

`training/query_tower.py` trains the top layers of the bundled MiniLM on the same pairs as the query map
(training-half intent phrases and everyday paraphrases, never an evaluation set) against the base model's own
tool vectors, so tool embeddings and their cache stay valid for any catalog. Queries are encoded with the
tower's layers in place of the base ones. The tower is the planners' default query encoder ("auto",
docs/SELECTION.md); the older linear map stays available as "linear".
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

KIND = "query_tower"


def bundled_tower_path() -> Path:
    return assets_dir() / "selection" / "query_tower.npz"


@dataclass
class QueryTower:
    """`weights` (the replaced layers, `core.selection.encoder.numpy_layout` names) for the encoder `encoder_id`."""

    weights: dict[str, np.ndarray]
    encoder_id: str
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @cached_property
    def id(self) -> str:
        """A hash of the weights, computed once (~20 ms for 4 layers; a plan's config names it every run)."""
        return weights_id(self.weights)

    def encode(self, texts: list[str], encoder: Any, batch_size: int = 32) -> np.ndarray:
        """Query vectors: `encoder` (a `NumpyBertEncoder`) with this tower's layers."""
        if not hasattr(encoder, "w"):
            raise UsageError(f"a query tower needs the numpy encoder; {type(encoder).__name__} cannot swap layers",
                             hint="use query_map='none' or the numpy encoder backend")
        return np.asarray(encoder.encode(list(texts), batch_size=batch_size, weights=self.weights), dtype=np.float32)

    def save(self, path: str | Path) -> Path:
        """Weights stored as float16 (half the bytes; retrieval is unchanged at that precision)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"w:{k}": v.astype(np.float16) for k, v in self.weights.items()}
        np.savez_compressed(path, kind=np.array(KIND), encoder_id=np.array(self.encoder_id),
                            meta=np.array(json.dumps(self.meta, sort_keys=True)), **arrays)
        return path


def is_tower_file(path: str | Path) -> bool:
    try:
        with np.load(Path(path).expanduser(), allow_pickle=False) as z:
            return "kind" in z.files and str(z["kind"]) == KIND
    except (OSError, ValueError):
        return False


def load_query_tower(path: str | Path) -> QueryTower:
    """Read a tower file; a missing or malformed file is an error naming it and the field."""
    p, data = read_npz(path, "query tower", ("kind", "encoder_id"), "train one with `python -m training.query_tower`")
    if str(data["kind"]) != KIND:
        raise DataError(f"expected kind {KIND!r}, got {str(data['kind'])!r}", path=str(p), field="kind")
    weights = {k[2:]: v.astype(np.float32) for k, v in data.items() if k.startswith("w:")}
    if not weights:
        raise DataError("no layer weights", path=str(p), field="w:*")
    for k, v in weights.items():
        if not np.isfinite(v).all():
            raise DataError("non-finite weights", path=str(p), field=f"w:{k}")
    return QueryTower(weights, str(data["encoder_id"]), read_meta(data, p), source=str(p))
