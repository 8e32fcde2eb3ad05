"""core/llm/merge_lora.py: base + GGUF LoRA merged into one GGUF (math, copied tensors, provenance, cache, errors)."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest
from gguf import quants

from core.errors import DataError, ModelError
from core.llm.merge_lora import META_KEY, merge_lora, merged_model_path, merged_provenance

RNG = np.random.default_rng(0)
W = RNG.normal(size=(64, 32)).astype(np.float32)  # numpy (out, in) = ggml ne [32, 64]
EMB = RNG.normal(size=(16, 32)).astype(np.float32)
A = RNG.normal(size=(4, 32)).astype(np.float32) * 0.1  # rank 4
B = RNG.normal(size=(64, 4)).astype(np.float32) * 0.1


def _write_base(path, w=W):
    wr = gguf.GGUFWriter(str(path), "llama")
    wr.add_string("general.name", "tiny")
    wr.add_uint32("llama.block_count", 1)
    wr.add_array("tokenizer.ggml.tokens", ["a", "b", "c"])
    wr.add_tensor("token_embd.weight", EMB)
    q = quants.quantize(w, gguf.GGMLQuantizationType.Q8_0)
    wr.add_tensor("blk.0.attn_q.weight", q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


def _write_lora(path, alpha=8.0, a=A, b=B, name="blk.0.attn_q.weight", drop_b=False):
    wr = gguf.GGUFWriter(str(path), "llama")
    wr.add_string("general.type", "adapter")
    wr.add_string("adapter.type", "lora")
    wr.add_float32("adapter.lora.alpha", alpha)
    wr.add_tensor(name + ".lora_a", a)
    if not drop_b:
        wr.add_tensor(name + ".lora_b", b)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


def _tensor(reader, name):
    t = next(x for x in reader.tensors if x.name == name)
    return t, quants.dequantize(t.data, t.tensor_type)


def test_merge_adds_the_scaled_low_rank_delta_and_copies_the_rest(tmp_path):
    base, lora, out = tmp_path / "base.gguf", tmp_path / "lora.gguf", tmp_path / "merged.gguf"
    _write_base(base)
    _write_lora(lora, alpha=8.0)
    prov = merge_lora(base, lora, out)
    assert prov["tensors"] == 1 and prov["alpha"] == 8.0 and len(prov["lora_sha256"]) == 64
    rb, rm = gguf.GGUFReader(str(base)), gguf.GGUFReader(str(out))
    _, w_base = _tensor(rb, "blk.0.attn_q.weight")
    t, w_merged = _tensor(rm, "blk.0.attn_q.weight")
    assert t.tensor_type == gguf.GGMLQuantizationType.Q8_0
    expected = w_base + (8.0 / 4) * (B @ A)  # scale = alpha / rank, as llama.cpp applies it
    assert np.abs(w_merged - expected).max() < 0.02  # Q8_0 rounding only
    assert np.abs(w_merged - w_base).max() > 0.1  # the delta is really there
    e_base, e_merged = _tensor(rb, "token_embd.weight")[0], _tensor(rm, "token_embd.weight")[0]
    assert bytes(e_base.data) == bytes(e_merged.data)  # untouched tensors byte for byte
    assert rm.fields["general.name"].contents() == "tiny"
    assert rm.fields["tokenizer.ggml.tokens"].contents() == ["a", "b", "c"]
    assert json.loads(rm.fields[META_KEY].contents()) == prov == merged_provenance(out)
    assert merged_provenance(base) is None


def test_bad_inputs_are_typed_errors_and_leave_no_file(tmp_path):
    base, out = tmp_path / "base.gguf", tmp_path / "m.gguf"
    _write_base(base)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all")
    with pytest.raises(DataError) as e:
        merge_lora(base, junk, out)
    assert str(junk) in str(e.value)
    with pytest.raises(ModelError, match="not found"):
        merge_lora(tmp_path / "missing.gguf", junk, out)
    half = tmp_path / "half.gguf"
    _write_lora(half, drop_b=True)
    with pytest.raises(DataError, match="without their pair"):
        merge_lora(base, half, out)
    other = tmp_path / "other.gguf"
    _write_lora(other, name="blk.7.attn_q.weight")
    with pytest.raises(DataError, match="lacks"):
        merge_lora(base, other, out)
    wrong = tmp_path / "wrong.gguf"
    _write_lora(wrong, a=np.zeros((4, 16), np.float32))
    with pytest.raises(DataError, match="do not fit"):
        merge_lora(base, wrong, out)
    assert not out.exists() and not list(tmp_path.glob("m.gguf.*.part"))


def test_cached_merge_is_reused_and_rebuilt_for_another_adapter(tmp_path):
    base, lora = tmp_path / "base.gguf", tmp_path / "lora.gguf"
    _write_base(base)
    _write_lora(lora, alpha=8.0)
    cache = tmp_path / "cache"
    p1 = merged_model_path(base, lora, cache)
    mtime = p1.stat().st_mtime_ns
    assert merged_model_path(base, lora, cache) == p1 and p1.stat().st_mtime_ns == mtime  # reused
    _write_lora(lora, alpha=2.0)  # retrained adapter: new name, new merge
    p2 = merged_model_path(base, lora, cache)
    assert p2 != p1 and merged_provenance(p2)["alpha"] == 2.0
    p2.write_bytes(b"torn")  # a damaged cache file is rebuilt
    assert merged_provenance(merged_model_path(base, lora, cache))["alpha"] == 2.0
    with pytest.raises(ModelError):
        merged_model_path(tmp_path / "nope.gguf", lora, cache)


@pytest.mark.slow
def test_merged_shipped_adapter_behaves_like_the_runtime_lora(tmp_path, monkeypatch):
    """The shipped Gemma adapter merged into the bundled base: same identity, same planner contract, and its
    true/false timing margins follow the runtime LoRA far more closely than the base model's do (they are not
    bit-equal: Q8_0 merged weights vs Q4/Q5 weights + a float LoRA take different quantised compute paths)."""
    from core.catalog import load_catalog
    from core.llm.llamacpp import LlamaCppBackend
    from core.planning.registry import make_planner, make_selector
    from core.timing.llm_vote import model_key, vote_margin
    from core.timing.vote_prompt import vote_prompt

    lora = LlamaCppBackend("sage-gemma3-270m", n_threads=1)
    merged = LlamaCppBackend("sage-gemma3-270m", n_threads=1, merge_lora=True, context_tag="merged")
    base = LlamaCppBackend("gemma3-270m", n_threads=1)
    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path))  # after the models resolved: only the merge goes here
    path, runtime_lora = merged._weights()
    assert runtime_lora is None and path.startswith(str(tmp_path)) and merged.info()["merged_lora"]
    assert model_key(merged) == model_key(lora)  # calibrations and run configs keep the adapter's identity
    assert merged_provenance(path)["lora_sha256"].startswith(model_key(lora).split("lora:")[1])
    msgs = ["What's the weather in Rome today?", "Why is the sky blue?", "book a hotel in Oslo for 2 nights",
            "hi there!", "convert 20 euros to dollars", "tell me a joke about cats"]
    d_merged, d_base = [], []
    for m in msgs:
        p = vote_prompt(m, [], [], 0)
        ref = vote_margin(lora, p)
        d_merged.append(abs(vote_margin(merged, p) - ref))
        d_base.append(abs(vote_margin(base, p) - ref))
    assert sum(d_merged) < 0.6 * sum(d_base), (d_merged, d_base)
    cat = load_catalog()
    plan = make_planner("hierarchical", cat, selector=make_selector(cat), backend=merged).plan(
        "Find a hotel in Lisbon for next weekend and email the booking to my manager")
    assert plan.steps and all(s.tool_id in plan.candidates for s in plan.steps)


def test_merge_default_is_the_shipped_adapter_unless_the_environment_says(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from core.llm.merge_lora import MERGE_ENV, merge_default
    from core.llm.models import sage_adapter_path

    shipped = SimpleNamespace(lora=sage_adapter_path())
    other = SimpleNamespace(lora=tmp_path / "mine.gguf")
    bare = SimpleNamespace(lora=None)
    monkeypatch.delenv(MERGE_ENV, raising=False)
    assert merge_default(shipped) and not merge_default(other) and not merge_default(bare)
    monkeypatch.setenv(MERGE_ENV, "1")
    assert merge_default(shipped) and merge_default(other) and not merge_default(bare)
    monkeypatch.setenv(MERGE_ENV, "0")
    assert not merge_default(shipped) and not merge_default(other)


def test_merge_pending_and_prepare(tmp_path, monkeypatch):
    """A backend that merges reports a pending merge until prepare() built it; runtime-LoRA backends never do."""
    import core.llm.llamacpp as lc
    from core.llm.models import ResolvedModel

    base, lora = tmp_path / "base.gguf", tmp_path / "lora.gguf"
    _write_base(base)
    _write_lora(lora)
    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    loaded = []
    monkeypatch.setattr(lc, "load_llama", lambda path, lora, *a, **k: loaded.append((path, lora)) or object())
    model = ResolvedModel("tiny", base, lora, "gemma")
    be = lc.LlamaCppBackend(model, merge_lora=True, n_threads=1)
    assert be.merge_pending
    be.prepare()
    assert not be.merge_pending and loaded[-1][1] is None and merged_provenance(loaded[-1][0])["tensors"] == 1
    plain = lc.LlamaCppBackend(model, merge_lora=False, n_threads=1)
    assert not plain.merge_pending
    plain.prepare()
    assert loaded[-1] == (str(base), str(lora))
