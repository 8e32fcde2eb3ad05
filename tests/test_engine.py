"""The engine: buffer-type detection and its override, the child process protocol, crash containment
(a stub worker that dies on SIGSEGV) in the client, the CLI and the TUI, and `sage-tui doctor`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError, EngineCrashed, ExitCode
from core.llm.cpu import CpuInfo, choose_buffers, parse_cpuinfo

ROOT = Path(__file__).resolve().parent.parent
SEGV_WORKER = [sys.executable, str(Path(__file__).parent / "engine_stubs" / "segv_worker.py")]
XEON = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse4_2 avx avx2 fma f16c avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
"""
EPYC = """processor\t: 0
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse4_2 avx avx2 fma f16c
"""


# ---- detector and override -------------------------------------------------------------------------------
def test_cpuinfo_parsing_sees_amx_only_where_present() -> None:
    xeon, epyc = parse_cpuinfo(XEON), parse_cpuinfo(EPYC)
    assert xeon.has_amx and xeon.model.startswith("Intel(R) Xeon") and "avx512f" in xeon.simd()
    assert not epyc.has_amx and epyc.simd() == ["sse4_2", "avx", "avx2", "fma", "f16c"]


def test_auto_turns_extra_buffers_off_on_amx_and_keeps_them_elsewhere(tmp_path: Path) -> None:
    none = tmp_path / "absent.toml"
    amx = choose_buffers(parse_cpuinfo(XEON), env={}, config=none)
    assert amx.use_extra_bufts is False and amx.setting == "auto" and "AMX" in amx.reason
    plain = choose_buffers(parse_cpuinfo(EPYC), env={}, config=none)
    assert plain.use_extra_bufts is True and plain.source == "default"


def test_override_env_beats_config_beats_auto(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[engine]\nextra_bufts = "on"\n')
    xeon = parse_cpuinfo(XEON)
    from_cfg = choose_buffers(xeon, env={}, config=cfg)
    assert from_cfg.use_extra_bufts is True and from_cfg.source == str(cfg)
    from_env = choose_buffers(xeon, env={"SAGE_TUI_EXTRA_BUFTS": "off"}, config=cfg)
    assert from_env.use_extra_bufts is False and from_env.source == "$SAGE_TUI_EXTRA_BUFTS"
    assert choose_buffers(CpuInfo("x", "x86_64"), env={"SAGE_TUI_EXTRA_BUFTS": " OFF "}, config=cfg).setting == "off"


def test_bad_override_names_the_variable_or_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\$SAGE_TUI_EXTRA_BUFTS.*'maybe'"):
        choose_buffers(parse_cpuinfo(EPYC), env={"SAGE_TUI_EXTRA_BUFTS": "maybe"}, config=tmp_path / "none.toml")
    cfg = tmp_path / "config.toml"
    cfg.write_text('[engine]\nextra_bufts = 3\n')
    with pytest.raises(ConfigError, match=r"engine\.extra_bufts") as e:
        choose_buffers(parse_cpuinfo(EPYC), env={}, config=cfg)
    assert str(cfg) in str(e.value)


def test_app_config_accepts_the_engine_section_and_names_bad_values() -> None:
    from sage_tui.config import parse_config

    parse_config({"engine": {"extra_bufts": "off", "isolation": "inprocess"}})
    with pytest.raises(ConfigError, match="engine.isolation"):
        parse_config({"engine": {"isolation": "thread"}})


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["off", "on"])
def test_the_choice_reaches_llama_model_params(setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.llm.llamacpp import load_llama
    from core.llm.models import bundled_gemma_path

    monkeypatch.setenv("SAGE_TUI_EXTRA_BUFTS", setting)
    llm = load_llama(str(bundled_gemma_path()), None, 256, 1, tag=f"bufts-test-{setting}")
    assert bool(llm.model_params.use_extra_bufts) is (setting == "on")
    assert llm.tokenize(b"hello")  # the model really loaded


# ---- the child process -----------------------------------------------------------------------------------
def test_a_worker_dying_on_sigsegv_is_a_typed_error_and_the_next_request_starts_afresh() -> None:
    from core.llm.engine.client import EngineProcess

    eng = EngineProcess(SEGV_WORKER)
    with pytest.raises(EngineCrashed) as e:
        eng.request({"op": "hello"}, model="gemma3-270m")
    assert e.value.signal_name == "SIGSEGV" and e.value.exit_code == ExitCode.ENGINE
    assert "SIGSEGV" in str(e.value) and "gemma3-270m" in str(e.value) and "doctor" in str(e.value)
    assert "about to crash" in e.value.log_tail
    with pytest.raises(EngineCrashed):
        eng.request({"op": "hello"})
    assert eng.starts == 2 and eng.crashes == 2


def test_real_worker_answers_and_reports_typed_errors() -> None:
    from core.errors import UsageError
    from core.llm.engine.client import EngineProcess

    eng = EngineProcess()
    try:
        hello = eng.request({"op": "hello"})
        assert hello["pid"] != os.getpid()
        with pytest.raises(UsageError, match="unknown engine op"):
            eng.request({"op": "nonsense"})
        assert eng.request({"op": "hello"})["pid"] == hello["pid"]  # an error reply keeps the child
    finally:
        eng.close()


@pytest.mark.slow
def test_child_engine_gives_the_in_process_answers() -> None:
    """Same greedy text (guided JSON and free), same vote log-probabilities, tokens streamed."""
    from core.llm.engine.client import EngineBackend, EngineProcess
    from core.llm.llamacpp import LlamaCppBackend
    from core.llm.models import resolve_model

    model = resolve_model("gemma3-270m")
    local = LlamaCppBackend(model, n_ctx=1024, slots=1, context_tag="parity")
    eng = EngineProcess()
    child = EngineBackend(model, n_ctx=1024, slots=1, context_tag="parity", engine=eng)
    msgs = [{"role": "user", "content": "Give a JSON object with a city name."}]
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}}, "required": ["city"]}
    try:
        streamed: list[str] = []
        a = local.complete(msgs, json_schema=schema, max_tokens=24)
        b = child.complete(msgs, json_schema=schema, max_tokens=24, on_token=streamed.append)
        assert a.text == b.text and "".join(streamed) == b.text and b.meta["engine"] == "child"
        assert local.complete(msgs, max_tokens=12).text == child.complete(msgs, max_tokens=12).text
        texts = [" yes", " no"]
        from core.timing.llm_vote import _llama_logprobs

        la = _llama_logprobs(local, msgs, texts)
        lb = child.continuation_logprobs(msgs, texts)
        assert lb == pytest.approx(la, abs=1e-6)
        assert child.info() == local.info()
    finally:
        eng.close()


# ---- containment in the CLI and the TUI ---------------------------------------------------------------------
def _cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sage_tui", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=timeout)


@pytest.mark.slow
def test_cli_plan_survives_a_crashing_engine_with_a_documented_exit(tmp_path: Path) -> None:
    from core.store import RunStore

    db = tmp_path / "runs.db"
    r = _cli(["plan", "book a table for two tonight and text Ana the time", "--db", str(db), "--timing", "rule"],
             {"SAGE_TUI_ENGINE_WORKER": " ".join(SEGV_WORKER), "SAGE_TUI_ENGINE": "child"})
    assert r.returncode == int(ExitCode.ENGINE), r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "SIGSEGV" in lines[0] and "Segmentation fault" not in r.stderr, r.stderr
    runs = RunStore(db).list_runs(kind="plan")
    assert len(runs) == 1 and runs[0]["status"] == "failed" and "SIGSEGV" in runs[0]["error"]


@pytest.mark.slow
def test_doctor_passes_here_and_fails_with_a_hint_when_the_engine_dies(tmp_path: Path) -> None:
    ok = _cli(["doctor", "--json", "--db", str(tmp_path / "none.db")], {})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    report = json.loads(ok.stdout)
    names = [c["name"] for c in report["checks"]]
    assert names == ["cpu", "models", "store", "engine"] and all(c["ok"] for c in report["checks"])
    engine = report["checks"][-1]["data"]
    assert engine["smoke"]["tokens"] > 0 and "AVX" in engine["system_info"].upper()
    cpu = report["checks"][0]["data"]
    assert engine["smoke"]["use_extra_bufts"] == cpu["buffers"]["use_extra_bufts"]
    bad = _cli(["doctor", "--db", str(tmp_path / "none.db")], {"SAGE_TUI_ENGINE_WORKER": " ".join(SEGV_WORKER)})
    assert bad.returncode == int(ExitCode.ENGINE) and "SIGSEGV" in bad.stdout and "hint" in bad.stdout


@pytest.mark.slow
@pytest.mark.asyncio
async def test_tui_survives_a_killed_engine_and_stores_the_run_failed(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.widgets import Static
    from tui_seed import submit_goal, write_catalog

    from core.llm.factory import clear_cache
    from core.store import RunStore
    from sage_tui.app import SageApp
    from sage_tui.config import UIConfig

    monkeypatch.setenv("SAGE_TUI_ENGINE_WORKER", " ".join(SEGV_WORKER))
    monkeypatch.setenv("SAGE_TUI_ENGINE", "child")
    clear_cache()
    app = SageApp(db=tmp_path / "runs.db", config=UIConfig(selector="keyword", timing="rule"),
                  catalog_path=write_catalog(tmp_path / "tools.jsonl"), mode="plan")
    try:
        async with app.run_test(size=(140, 45)) as pilot:
            screen = await submit_goal(app, pilot, "find flights to Lisbon and add the trip to my calendar")
            assert "engine crashed (SIGSEGV)" in screen.sub_title
            from sage_tui.widgets.dag import DagView

            notice = screen.query_one(DagView).notice  # where the plan would be: signal, model, hint, retry
            text = notice.plain if notice is not None else ""
            assert "SIGSEGV" in text and "sage-gemma3-270m" in text and "retries" in text and "doctor" in text
            assert "SIGSEGV" in str(screen.query_one("#checks", Static).render())
            # the app is alive: a no-LLM plan still works, and is stored completed
            from textual.widgets import Select

            screen.query_one("#planner", Select).value = "greedy"
            await pilot.press("ctrl+r")
            await pilot.pause(0.2)
            await app.workers.wait_for_complete()
            await pilot.pause(0.2)
            assert screen.sub_title.startswith("done"), screen.sub_title
    finally:
        clear_cache()
    runs = sorted(RunStore(tmp_path / "runs.db").list_runs(kind="plan"), key=lambda r: r["started"])
    assert [r["status"] for r in runs] == ["failed", "completed"]
    assert "SIGSEGV" in runs[0]["error"] and runs[1]["method"] == "greedy"


@pytest.mark.slow
def test_llama_cpp_chatter_stays_off_the_users_stderr(tmp_path: Path) -> None:
    """llama.cpp logs (e.g. `llama_kv_cache_iswa: using full-size SWA cache`) go to the engine's log file."""
    r = _cli(["decide", "what is the weather in Paris right now?", "--strategy", "llm", "--json"],
             {"SAGE_TUI_ENGINE": "child", "SAGE_TUI_CACHE": str(tmp_path / "cache")}, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "llama" not in r.stderr.lower() and "ggml" not in r.stderr.lower(), r.stderr
    assert json.loads(r.stdout)["strategy"] == "llm"
    logs = list((tmp_path / "cache" / "engine").glob("worker-*.log"))
    assert logs  # the chatter went somewhere a person can read it
