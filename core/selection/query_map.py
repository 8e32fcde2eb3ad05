"""A learned residual map on query embeddings: q' = normalise(q + q W).

Tool vectors stay the encoder's own; only the query moves, toward the tools that everyday requests for the
same thing were paired with in training (`training/query_map.py`: our catalog's training-half intent phrases
and model-written everyday paraphrases of them, never an evaluation set). Because it acts on the query alone
it applies to any catalog. The bundled map (`assets/selection/query_map.npz`) was trained for the bundled
MiniLM; ``"auto"`` uses it only with that encoder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import DataError, NotFoundError, UsageError
from core.paths import assets_dir

MAP_CHOICES = ("auto", "none")  # or a path to an .npz written by training/query_map.py


def bundled_map_path() -> Path:
    return assets_dir() / "selection" / "query_map.npz"


@dataclass
class QueryMap:
    """`matrix` (dim x dim, float32) for the encoder `encoder_id`; `meta` says how it was trained."""

    matrix: np.ndarray
    encoder_id: str
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def id(self) -> str:
        return hashlib.sha256(np.ascontiguousarray(self.matrix, dtype=np.float32).tobytes()).hexdigest()[:12]

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        q = np.asarray(vectors, dtype=np.float32)
        q = q + q @ self.matrix
        return (q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)).astype(np.float32)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, matrix=self.matrix.astype(np.float32), encoder_id=np.array(self.encoder_id),
                 meta=np.array(json.dumps(self.meta, sort_keys=True)))
        return path


def load_query_map(path: str | Path) -> QueryMap:
    """Read a map file; a missing or malformed file is an error naming it and the field."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise NotFoundError(f"query map file not found: {p}", hint="train one with `python -m training.query_map`")
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"not a query map (.npz): {exc}", path=str(p)) from None
    for key in ("matrix", "encoder_id"):
        if key not in data:
            raise DataError("missing array", path=str(p), field=key)
    m = data["matrix"]
    if m.ndim != 2 or m.shape[0] != m.shape[1] or not np.isfinite(m).all():
        raise DataError(f"expected a finite square matrix, got shape {m.shape}", path=str(p), field="matrix")
    try:
        meta = json.loads(str(data["meta"])) if "meta" in data else {}
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc}", path=str(p), field="meta") from None
    return QueryMap(m.astype(np.float32), str(data["encoder_id"]), meta, source=str(p))


def resolve_query_map(spec: str | Path | None, encoder_id: str, dim: int) -> QueryMap | None:
    """The map an embedding selector uses: ``None``/"none" = no map; "auto" = the bundled map when it exists
    and was trained for this encoder; a path = that map, which must match the encoder."""
    if spec is None or str(spec) == "none":
        return None
    if str(spec) == "auto":
        path = bundled_map_path()
        if not path.is_file():
            return None
        qmap = load_query_map(path)
        return qmap if qmap.encoder_id == encoder_id and qmap.matrix.shape[0] == dim else None
    qmap = load_query_map(spec)
    if qmap.encoder_id != encoder_id or qmap.matrix.shape[0] != dim:
        raise UsageError(
            f"query map {qmap.source} was trained for encoder {qmap.encoder_id!r} ({qmap.matrix.shape[0]} dims), "
            f"not {encoder_id!r} ({dim} dims)", hint="use query_map='none' or train a map for this encoder")
    return qmap
