"""Training config: typed TOML loading, unknown keys, presets."""

from __future__ import annotations

import pytest

from core.errors import ConfigError, NotFoundError
from training.config import Config, config_from_dict, dump_toml, load_config, preset_names


def test_unknown_key_names_the_key(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[train]\nlearning_rate = 0.1\n')
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert ei.value.field == "train.learning_rate"
    assert str(p) in str(ei.value)


def test_wrong_type_and_bad_values():
    with pytest.raises(ConfigError, match="expected int"):
        config_from_dict({"train": {"batch_size": "4"}})
    with pytest.raises(ConfigError, match="unknown method"):
        config_from_dict({"method": "Z"})
    with pytest.raises(ConfigError, match="budget"):
        config_from_dict({"coreset": {"strategy": "hybrid"}})


def test_roundtrip_through_toml(tmp_path):
    cfg = config_from_dict({"method": "B3", "coreset": {"strategy": "hybrid", "budget": 0.4}, "lora": {"r": 4}})
    p = tmp_path / "c.toml"
    p.write_text(dump_toml(cfg))
    again = load_config(p)
    assert again == cfg
    assert again.coreset.budget == 0.4 and again.lora.r == 4


def test_presets_load():
    names = preset_names()
    assert {"quick_cpu", "full_gpu", "ship_gemma"} <= set(names)
    for n in names:
        assert isinstance(load_config(n), Config)
    with pytest.raises(NotFoundError):
        load_config("no_such_preset")
