"""`lora.init_adapter`: a new run starts from an existing adapter's LoRA weights (used to retrain the
shipped adapter for the batched level-2 prompt and balanced timing data with fewer steps)."""

from __future__ import annotations

import pytest

from core.errors import ModelError, NotFoundError
from training.config import config_from_dict
from training.formatting import encode_all
from training.tiny import build_tiny_model_dir, tiny_dialogs
from training.trainer import AgentSFTTrainer

LORA = {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_init")
    corpus = [m["content"] or "" for x in tiny_dialogs(20) for m in x["messages"]]
    return build_tiny_model_dir(d / "m", corpus)


def _cfg(**lora):
    return config_from_dict({"train": {"batch_size": 4, "lr": 0.03, "warmup_ratio": 0.0},
                             "lora": {**LORA, **lora}})


def _lora_state(tr):
    return {k: v.detach().clone() for k, v in tr.model.named_parameters() if "lora_" in k}


def test_init_adapter_loads_the_trained_weights(tiny_dir, tmp_path):
    tr = AgentSFTTrainer(_cfg(), tmp_path / "a", log=lambda s: None)
    tr.setup(tiny_dir)
    enc = encode_all(tiny_dialogs(8), tr.tokenizer, max_len=128)
    tr.plan(len(enc))
    assert tr.train(enc) == "completed"
    adapter = tr.save_adapter(tmp_path / "adapter")
    trained = _lora_state(tr)

    lines: list[str] = []
    tr2 = AgentSFTTrainer(_cfg(init_adapter=str(adapter)), tmp_path / "b", log=lines.append)
    tr2.setup(tiny_dir)
    assert any("initialised LoRA weights" in x for x in lines)
    got = _lora_state(tr2)
    assert got.keys() == trained.keys()
    assert all((got[k] == trained[k]).all() for k in got)
    fresh = AgentSFTTrainer(_cfg(), tmp_path / "c", log=lambda s: None)
    fresh.setup(tiny_dir)
    assert any(not (v == trained[k]).all() for k, v in _lora_state(fresh).items())  # B starts at zero


def test_init_adapter_errors(tiny_dir, tmp_path):
    with pytest.raises(NotFoundError):
        AgentSFTTrainer(_cfg(init_adapter=str(tmp_path / "nope")), tmp_path / "x", log=lambda s: None).setup(tiny_dir)
    tr = AgentSFTTrainer(_cfg(), tmp_path / "a", log=lambda s: None)
    tr.setup(tiny_dir)
    adapter = tr.save_adapter(tmp_path / "adapter")
    with pytest.raises(ModelError):
        AgentSFTTrainer(_cfg(init_adapter=str(adapter), r=4), tmp_path / "y", log=lambda s: None).setup(tiny_dir)
