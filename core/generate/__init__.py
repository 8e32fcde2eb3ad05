"""Seeded, deterministic generators for the tool catalog and the agent datasets.

``build_all(assets_dir)`` writes ``catalog/tools.jsonl``, every dataset file under
``datasets/`` and ``datasets/MANIFEST.json``. Formats are documented in docs/DATA.md.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

DEFAULT_SEED = 7


def build_all(assets_dir: Path | str, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Generate and write the catalog, all datasets and the manifest; return the manifest."""
    from core.generate.catalog_gen import write_catalog
    from core.generate.dataset_gen import write_datasets

    root = Path(assets_dir)
    catalog = write_catalog(root / "catalog" / "tools.jsonl", seed=seed)
    files = write_datasets(root / "datasets", catalog, seed=seed)
    entries: dict[str, Any] = {}
    cat_path = root / "catalog" / "tools.jsonl"
    entries["../catalog/tools.jsonl"] = {"sha256": _sha(cat_path), "count": len(catalog)}
    for rel in sorted(files):
        entries[rel] = {"sha256": _sha(root / "datasets" / rel), "count": len(files[rel])}
    manifest = {"generator": "core.generate", "seed": seed, "files": entries}
    with open(root / "datasets" / "MANIFEST.json", "w", encoding="utf-8", newline="\n") as fh:
        fh.write(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
