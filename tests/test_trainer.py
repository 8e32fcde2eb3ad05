"""AgentSFTTrainer on a tiny random model: labels, dynamic padding, logits-at-supervised positions,
loss goes down, per-step metrics stream to the RunStore, checkpoints resume exactly, cancel."""

from __future__ import annotations

import pytest

from core.store import RunStore
from training.config import config_from_dict
from training.formatting import IGNORE, collate, encode_all, render_gemma
from training.tiny import build_tiny_model_dir, tiny_dialogs
from training.trainer import AgentSFTTrainer, pick_device_dtype


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    corpus = [m["content"] or "" for x in tiny_dialogs(30) for m in x["messages"]]
    return build_tiny_model_dir(d / "m", corpus)


def _cfg(**train):
    t = {"batch_size": 4, "lr": 0.03, "warmup_ratio": 0.0, **train}
    return config_from_dict({"train": t, "lora": {"r": 8, "alpha": 16, "dropout": 0.0,
                                                  "target_modules": ["q_proj", "v_proj", "up_proj", "down_proj"]}})


def test_render_merges_system_and_supervises_only_answers():
    msgs = [{"role": "system", "content": "SYS"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "A1"},
            {"role": "tool", "content": "R"}, {"role": "assistant", "content": "A2"}]
    text, spans = render_gemma(msgs)
    assert text.startswith("<start_of_turn>user\nSYS\n\nhi<end_of_turn>\n<start_of_turn>model\n")
    assert "Tool result: R" in text
    assert [text[a:b] for a, b in spans] == ["A1<end_of_turn>", "A2<end_of_turn>"]


def test_labels_and_dynamic_padding(tiny_dir):
    tr = AgentSFTTrainer(_cfg(), tiny_dir.parent / "o0", log=lambda s: None)
    tr.setup(tiny_dir)
    dialogs = tiny_dialogs(6)
    enc = encode_all(dialogs, tr.tokenizer, max_len=128)
    sup = tr.tokenizer.decode([t for t, lab in zip(enc[0].input_ids, enc[0].labels, strict=False) if lab != IGNORE])
    assert sup.startswith('{"tool_calls"') and sup.endswith("<end_of_turn>")
    assert "request 0" not in sup
    b = collate(enc[:3], tr.tokenizer.pad_token_id)
    assert b["input_ids"].shape[1] == max(len(e.input_ids) for e in enc[:3])
    assert int(b["attention_mask"].sum()) == sum(len(e.input_ids) for e in enc[:3])


def test_supervised_logits_loss_equals_full_loss(tiny_dir):
    from training.loss import full_logits_loss, supervised_loss

    tr = AgentSFTTrainer(_cfg(), tiny_dir.parent / "o1", log=lambda s: None)
    tr.setup(tiny_dir)
    enc = encode_all(tiny_dialogs(4), tr.tokenizer, max_len=128)
    b = collate(enc, tr.tokenizer.pad_token_id)
    assert abs(float(supervised_loss(tr.model, b)) - float(full_logits_loss(tr.model, b))) < 1e-4


def test_train_logs_steps_to_store_and_loss_decreases(tiny_dir, tmp_path):
    store = RunStore(tmp_path / "runs.db")
    rid = store.create_run("train", {"t": 1})
    lines: list[str] = []
    tr = AgentSFTTrainer(_cfg(epochs=4), tmp_path / "out", store=store, run_id=rid, log=lines.append)
    tr.setup(tiny_dir)
    enc = encode_all(tiny_dialogs(16), tr.tokenizer, max_len=128)
    before = sum(tr.per_sample_losses(enc)) / len(enc)
    total = tr.plan(len(enc))
    assert tr.train(enc) == "completed"
    after = sum(tr.per_sample_losses(enc)) / len(enc)
    assert after < before - 0.3
    assert len(lines) == total == 16
    assert lines[0].startswith("step=1/16 ") and "tokens_per_second=" in lines[0] and "peak_memory_mb=" in lines[0]
    steps = store.metrics(rid, "loss")
    assert [r["step"] for r in steps] == list(range(1, 17))
    for name in ("lr", "tokens_per_second", "peak_memory_mb"):
        assert len(store.metrics(rid, name)) == 16
    assert pick_device_dtype()[0] in ("cpu", "cuda")


def test_resume_from_checkpoint_matches_uninterrupted_run(tiny_dir, tmp_path):
    from training.trainer import data_hash

    def make(out, cancel_at=None):
        tr = AgentSFTTrainer(_cfg(epochs=2, save_every=0), out, log=lambda s: None)
        tr.setup(tiny_dir)
        enc = encode_all(tiny_dialogs(12), tr.tokenizer, max_len=128)
        tr.plan(len(enc))
        tr.state.data_hash = data_hash(enc)
        return tr, enc

    ref, enc = make(tmp_path / "ref")
    ref.train(enc)
    ref_loss = ref.per_sample_losses(enc)

    a, enc = make(tmp_path / "run")
    a.train(enc, max_steps=2)
    a.cancel.set()
    assert a.train(enc) == "cancelled"  # cancel saves a checkpoint after the current step
    assert a.state.step == 3 and (a.ckpt_dir / "config.toml").exists()
    b, enc = make(tmp_path / "run")
    assert b.try_resume(data_hash(enc)) and b.state.step == 3
    assert b.train(enc) == "completed" and b.state.step == ref.state.step
    got = b.per_sample_losses(enc)
    assert max(abs(x - y) for x, y in zip(got, ref_loss, strict=False)) < 1e-4


def test_kill_between_checkpoint_renames_resumes_from_the_previous_one(tiny_dir, tmp_path):
    """save_checkpoint moves the old checkpoint aside before the new one takes its place; a process
    killed between the two renames leaves `checkpoint-prev`, which resume uses (never step 0)."""
    from training.trainer import data_hash

    tr = AgentSFTTrainer(_cfg(epochs=1, save_every=0), tmp_path / "run", log=lambda s: None)
    tr.setup(tiny_dir)
    enc = encode_all(tiny_dialogs(8), tr.tokenizer, max_len=128)
    tr.plan(len(enc))
    tr.state.data_hash = data_hash(enc)
    tr.train(enc, max_steps=1)
    tr.save_checkpoint()
    tr.train(enc, max_steps=2)
    tr.save_checkpoint()
    assert tr.state.step == 2 and not (tmp_path / "run" / "checkpoint-prev").exists()
    tr.ckpt_dir.rename(tmp_path / "run" / "checkpoint-prev")  # the state right after the first rename
    b = AgentSFTTrainer(_cfg(epochs=1, save_every=0), tmp_path / "run", log=lambda s: None)
    b.setup(tiny_dir)
    b.plan(len(enc))
    assert b.try_resume(data_hash(enc)) and b.state.step == 2 and b.ckpt_dir.exists()


def test_reused_base_gets_a_fresh_lora_and_untouched_weights(tiny_dir, tmp_path):
    """compare loads the base once (`reuse_base`): after one method trained its copy, the next
    setup's model equals a cold load with the same seed (same LoRA init, same base weights)."""
    import torch

    from training import trainer as trmod

    trmod.BASE_CACHE.clear()
    enc = None
    first = AgentSFTTrainer(_cfg(epochs=2), tmp_path / "a", log=lambda s: None)
    first.setup(tiny_dir, reuse_base=True)
    enc = encode_all(tiny_dialogs(8), first.tokenizer, max_len=128)
    first.plan(len(enc))
    first.train(enc)
    trained = {k: v.clone() for k, v in first.model.state_dict().items()}
    assert len(trmod.BASE_CACHE) == 1
    again = AgentSFTTrainer(_cfg(epochs=2), tmp_path / "b", log=lambda s: None)
    again.setup(tiny_dir, reuse_base=True)
    cold = AgentSFTTrainer(_cfg(epochs=2), tmp_path / "c", log=lambda s: None)
    cold.setup(tiny_dir)  # no reuse: loaded from disk
    sa, sc = again.model.state_dict(), cold.model.state_dict()
    assert sa.keys() == sc.keys()
    for k in sa:
        assert torch.equal(sa[k], sc[k]), k
    lora_b = [k for k in sa if "lora_B" in k]
    assert lora_b and all(not torch.any(sa[k]) for k in lora_b)  # fresh adapter: B = 0
    assert any(not torch.equal(trained[k], sa[k]) for k in lora_b)  # the first run really trained
    b = collate(enc[:4], again.tokenizer.pad_token_id)
    with torch.no_grad():
        la = again.model(**b).logits
        lc = cold.model(**b).logits
    assert torch.equal(la, lc)
    _, cached = trmod.BASE_CACHE[next(iter(trmod.BASE_CACHE))]
    assert all(not p.requires_grad for p in cached.parameters())
    assert again.model.get_base_model() is not cached
    trmod.BASE_CACHE.clear()
