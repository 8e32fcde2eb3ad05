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
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import DataError, UsageError
from core.paths import assets_dir
from core.selection.trained_file import read_meta, read_npz

if TYPE_CHECKING:
    from core.selection.query_tower import QueryTower

# "auto": the bundled query tower (core/selection/query_tower.py) when it fits the encoder, else the bundled linear
# map; "linear": the bundled linear map; "none"; or a path to an .npz from training/query_map.py or query_tower.py
MAP_CHOICES = ("auto", "linear", "none")


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

    def encode(self, texts: list[str], encoder: Any, batch_size: int = 32) -> np.ndarray:
        """Query vectors: the encoder's, moved by the map."""
        return self.apply(np.asarray(encoder.encode(list(texts), batch_size=batch_size), dtype=np.float32))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, matrix=self.matrix.astype(np.float32), encoder_id=np.array(self.encoder_id),
                 meta=np.array(json.dumps(self.meta, sort_keys=True)))
        return path


def load_query_map(path: str | Path) -> QueryMap:
    """Read a map file; a missing or malformed file is an error naming it and the field."""
    p, data = read_npz(path, "query map", ("matrix", "encoder_id"), "train one with `python -m training.query_map`")
    m = data["matrix"]
    if m.ndim != 2 or m.shape[0] != m.shape[1] or not np.isfinite(m).all():
        raise DataError(f"expected a finite square matrix, got shape {m.shape}", path=str(p), field="matrix")
    return QueryMap(m.astype(np.float32), str(data["encoder_id"]), read_meta(data, p), source=str(p))


def resolve_query_map(spec: str | Path | None, encoder_id: str, dim: int) -> QueryMap | QueryTower | None:
    """What moves an embedding selector's queries: ``None``/"none" = nothing; "auto" = the bundled query tower
    when it exists and was trained for this encoder, else the bundled linear map on the same terms; "linear" = the
    bundled linear map on those terms; a path = that map or tower file, which must match the encoder."""
    from core.selection.query_tower import bundled_tower_path, is_tower_file, load_query_tower

    if spec is None or str(spec) == "none":
        return None
    if str(spec) in ("auto", "linear"):
        if str(spec) == "auto" and bundled_tower_path().is_file():
            tower = load_query_tower(bundled_tower_path())
            if tower.encoder_id == encoder_id:
                return tower
        path = bundled_map_path()
        if not path.is_file():
            return None
        qmap = load_query_map(path)
        return qmap if qmap.encoder_id == encoder_id and qmap.matrix.shape[0] == dim else None
    if is_tower_file(spec):
        tower = load_query_tower(spec)
        if tower.encoder_id != encoder_id:
            raise UsageError(f"query tower {tower.source} was trained for encoder {tower.encoder_id!r}, not "
                             f"{encoder_id!r}", hint="use query_map='none' or train a tower for this encoder")
        return tower
    qmap = load_query_map(spec)
    if qmap.encoder_id != encoder_id or qmap.matrix.shape[0] != dim:
        raise UsageError(
            f"query map {qmap.source} was trained for encoder {qmap.encoder_id!r} ({qmap.matrix.shape[0]} dims), "
            f"not {encoder_id!r} ({dim} dims)", hint="use query_map='none' or train a map for this encoder")
    return qmap
