"""`sage-tui decide` on the product defaults: the hybrid's LLM vote is the bundled timing adapter, and real
messages near the rule's threshold are handed to it (the hybrid is not the rule in disguise)."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.llm.models import default_timing_lora, timing_adapter_path
from sage_tui.cli import app

runner = CliRunner()


def test_default_timing_lora_only_when_nothing_is_named(tmp_path: Path) -> None:
    assert timing_adapter_path().is_file()
    assert default_timing_lora(None, None) == str(timing_adapter_path())
    assert default_timing_lora("qwen2.5-coder-1.5b", None) is None  # another model: no Gemma adapter forced on it
    assert default_timing_lora(None, "my.gguf") == "my.gguf"


@pytest.mark.parametrize(("message", "call"), [
    ("has 1Z9338156065 shipped yet or what", True),  # test_extended messages the rule is unsure of (P 0.59)
    ("write a short farewell card message for Mei Chen", False),
])
def test_decide_default_consults_the_timing_adapter_in_band(message: str, call: bool) -> None:
    r = runner.invoke(app, ["decide", message, "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["llm"].startswith("sage-gemma3-270m|lora:") and d["llm"].endswith("|vote:tools0")
    assert d["strategy"] == "hybrid" and d["used_llm"] is True
    assert d["should_call_tool"] is call and d["llm_probability"] is not None


def test_decide_default_lets_a_sure_rule_decide_alone() -> None:
    r = runner.invoke(app, ["decide", "what continent is Vietnam on?", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["used_llm"] is False and d["should_call_tool"] is False


def test_decide_warns_when_it_truncates_a_huge_message() -> None:
    r = runner.invoke(app, ["decide", "what is the weather " * 200, "--strategy", "rule", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["warnings"] == ["message truncated from 3999 to 2000 characters"]
    assert "truncated" in r.stderr
