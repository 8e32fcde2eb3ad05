"""Reading a trained selection file (.npz: the query map, the query tower) with errors that name the file and field."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import DataError, NotFoundError


def read_npz(path: str | Path, what: str, keys: tuple[str, ...], hint: str) -> tuple[Path, dict[str, np.ndarray]]:
    """(path, its arrays) of a trained .npz (`what`: "query map", ...); a missing file, a file that is not an .npz or
    one without an array of `keys` is an error naming the file and the field."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise NotFoundError(f"{what} file not found: {p}", hint=hint)
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"not a {what} (.npz): {exc}", path=str(p)) from None
    for key in keys:
        if key not in data:
            raise DataError("missing array", path=str(p), field=key)
    return p, data


def read_meta(data: dict[str, np.ndarray], p: Path) -> dict[str, Any]:
    try:
        return json.loads(str(data["meta"])) if "meta" in data else {}
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc}", path=str(p), field="meta") from None


def weights_id(weights: dict[str, np.ndarray], *extra: np.ndarray) -> str:
    """A short hash of named weight arrays (and any extra arrays, in order): a trained file's id."""
    h = hashlib.sha256()
    for k in sorted(weights):
        h.update(k.encode())
        h.update(np.ascontiguousarray(weights[k], dtype=np.float32).tobytes())
    for a in extra:
        h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()[:12]
