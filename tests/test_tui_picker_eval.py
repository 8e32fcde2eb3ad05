"""Plan screen model picker (fine-tuned adapters by name, OpenAI-compatible endpoints from the config) and
the dashboard's eval progress bar."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from textual.widgets import ProgressBar, Select, Static
from tui_seed import seed_store, write_catalog

from core.errors import ConfigError, NotFoundError
from core.llm.models import list_adapters, resolve_adapter
from sage_tui.app import SageApp
from sage_tui.config import UIConfig, load_config
from sage_tui.screens.eval_launch import EvalLaunchScreen, eval_command, run_eval_process
from sage_tui.screens.plan import PlanScreen

CONFIG = """
[general]
selector = "keyword"

[[endpoints]]
name = "local-llama"
base_url = "http://127.0.0.1:8080/v1"
model = "qwen"
api_key_env = "SAGE_TEST_KEY"

[[endpoints]]
name = "lab"
base_url = "https://lab.example/v1"
"""


def fake_adapter(runs: Path, run_id: str, method: str = "B1") -> Path:
    d = runs / run_id / "adapter"
    d.mkdir(parents=True)
    (d / "adapter.gguf").write_bytes(b"GGUF" + b"\0" * 16)
    (d / "manifest.json").write_text(json.dumps({"run_id": run_id, "method": method, "steps": 40}))
    return d / "adapter.gguf"


def test_endpoints_parsed_and_validated(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text(CONFIG)
    cfg = load_config(p)
    assert [e.name for e in cfg.endpoints] == ["local-llama", "lab"]
    ep = cfg.endpoint("local-llama")
    assert ep is not None and ep.model == "qwen" and cfg.endpoint("lab").model == "default"  # type: ignore[union-attr]
    for bad, field in (('[[endpoints]]\nname = "x"\nbase_url = "ftp://h"\n', "endpoints[0].base_url"),
                       ('[[endpoints]]\nname = "x"\nbase_url = "http://h"\nkey = "k"\n', "endpoints[0].key"),
                       ('[[endpoints]]\nbase_url = "http://h"\n', "endpoints[0].name"),
                       ('[[endpoints]]\nname = "x"\nbase_url = "http://h"\n[[endpoints]]\nname = "x"\nbase_url = "http://g"\n',
                        "endpoints[1].name")):
        p.write_text(bad)
        with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
            load_config(p)


def test_adapters_listed_and_resolved_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    gg = fake_adapter(tmp_path / "cache" / "runs", "train-20260101-000000-abc", "B1")
    found = {a.name: a for a in list_adapters()}
    assert found["train-20260101-000000-abc"].source == "trained" and found["train-20260101-000000-abc"].method == "B1"
    assert resolve_adapter("train-20260101-000000-abc") == gg
    assert resolve_adapter(str(gg)) == gg
    with pytest.raises(NotFoundError, match="no-such-adapter"):
        resolve_adapter("no-such-adapter")


@pytest.mark.asyncio
async def test_picker_offers_adapters_and_endpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SAGE_TEST_KEY", "sk-test")
    gg = fake_adapter(tmp_path / "cache" / "runs", "train-20260101-000000-abc")
    (tmp_path / "config.toml").write_text(CONFIG)
    cfg = load_config(tmp_path / "config.toml")
    app = SageApp(db=tmp_path / "runs.db", config=cfg, catalog_path=write_catalog(tmp_path / "tools.jsonl"), mode="plan")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        model = screen.query_one("#model", Select)
        values = [v for _, v in model._options if isinstance(v, str)]
        assert "gemma3-270m" in values and "endpoint:local-llama" in values and "endpoint:lab" in values
        adapter = screen.query_one("#adapter", Select)
        labels = {str(label): v for label, v in adapter._options if isinstance(v, str)}
        assert "train-20260101-000000-abc · B1" in labels and "gemma3-270m-sage · bundled" in labels
        # a fine-tuned adapter by name: the bundled base model plus that LoRA
        adapter.value = str(gg)
        await pilot.pause()
        req = screen.plan_request()
        assert req["lora"] == str(gg) and req["model"] == "gemma3-270m" and req["endpoint"] is None
        from sage_tui.screens.plan import model_label

        assert model_label(req) == "gemma3-270m + train-20260101-000000-abc"
        # an endpoint from the config: no local model, no adapter; the backend is built from the entry
        model.value = "endpoint:local-llama"
        await pilot.pause()
        req = screen.plan_request()
        assert req["endpoint"] == "local-llama" and req["model"] is None and req["lora"] is None
        assert model_label(req) == "endpoint local-llama"
        from sage_tui.screens.plan_worker import get_backend

        backend = get_backend(app, req["model"], req["lora"], req["endpoint"])
        assert backend.base_url == "http://127.0.0.1:8080/v1" and backend.model == "qwen" and backend.api_key == "sk-test"
        with pytest.raises(ConfigError, match="nope"):
            get_backend(app, None, None, "nope")


GATED_EVAL = """
import json, sys, time, pathlib
gate = pathlib.Path(sys.argv[1])
def progress(i):
    sys.stderr.write(json.dumps({"event": "progress", "done": i, "total": 10, "label": "tool_selection · keyword"}) + "\\n")
    sys.stderr.flush()
for i in range(6):
    progress(i)
while not gate.exists():
    time.sleep(0.02)
for i in range(6, 11):
    progress(i)
print(json.dumps({"run_id": "eval-fake"}))
"""


@pytest.mark.asyncio
async def test_dashboard_eval_shows_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = tmp_path / "gate"
    script = tmp_path / "fake_eval.py"
    script.write_text(GATED_EVAL)
    seen: list[list[str]] = []

    def fake_command(*args: object, **kw: object) -> list[str]:
        seen.append(eval_command(*args, **kw))  # type: ignore[arg-type]
        return [sys.executable, str(script), str(gate)]

    monkeypatch.setattr("sage_tui.screens.eval_launch.eval_command", fake_command)
    seed_store(tmp_path / "runs.db").close()
    app = SageApp(db=tmp_path / "runs.db", config=UIConfig(), catalog_path=write_catalog(tmp_path / "tools.jsonl"), mode="dashboard")
    async with app.run_test(size=(140, 45)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        dash = app.screen
        assert not dash.query_one("#eval-bar").display
        await pilot.press("e")
        await pilot.pause(0.2)
        assert isinstance(app.screen, EvalLaunchScreen)
        await pilot.press("ctrl+r")
        await pilot.pause(0.2)
        assert app.screen is dash
        bar = dash.query_one("#eval-progress", ProgressBar)
        for _ in range(100):  # the fake eval stops at 5/10 until the gate opens
            await pilot.pause(0.05)
            if bar.progress == 5:
                break
        assert dash.query_one("#eval-bar").display and bar.total == 10 and bar.progress == 5
        assert "5/10" in str(dash.query_one("#eval-label", Static).content)
        gate.write_text("go")
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        assert bar.progress == 10 and "eval-fake" in str(dash.query_one("#eval-label", Static).content)
    assert seen and "--progress-jsonl" in seen[0]


@pytest.mark.asyncio
async def test_dashboard_eval_can_be_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "fake_eval.py"
    script.write_text(GATED_EVAL)  # the gate never opens: only k ends it
    monkeypatch.setattr("sage_tui.screens.eval_launch.eval_command",
                        lambda *a, **k: [sys.executable, str(script), str(tmp_path / "gate")])
    seed_store(tmp_path / "runs.db").close()
    app = SageApp(db=tmp_path / "runs.db", config=UIConfig(), catalog_path=write_catalog(tmp_path / "tools.jsonl"), mode="dashboard")
    async with app.run_test(size=(140, 45)) as pilot:
        await app.workers.wait_for_complete()
        dash = app.screen
        await pilot.press("e")
        await pilot.pause(0.2)
        await pilot.press("ctrl+r")
        bar = dash.query_one("#eval-progress", ProgressBar)
        for _ in range(100):
            await pilot.pause(0.05)
            if bar.progress == 5:
                break
        await pilot.press("k")
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        assert "eval stopped" in str(dash.query_one("#eval-label", Static).content)
        assert dash._eval_proc is None  # type: ignore[attr-defined]


def test_eval_cli_writes_progress_lines(tmp_path: Path) -> None:
    events: list[tuple[int, int, str]] = []
    cmd = eval_command("tool_selection", "test", methods="keyword", limit="4", db=tmp_path / "runs.db")
    ids, error = run_eval_process(cmd, lambda d, t, label: events.append((d, t, label)))
    assert error is None and len(ids) == 1
    assert events[0][:2] == (0, 4) and events[-1][:2] == (4, 4) and "keyword" in events[-1][2]


class _FakeOpenAI:
    """A local OpenAI-compatible server (stdlib http.server) that answers like ScriptedBackend, streamed as SSE."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from test_tui_plan import ScriptedBackend

        fake = self
        self.auth: list[str | None] = []
        self.paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.auth.append(self.headers.get("Authorization"))
                fake.paths.append(self.path)
                schema = (body.get("response_format") or {}).get("schema")
                text = ScriptedBackend().complete(body["messages"], json_schema=schema).text
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i in range(0, len(text), 5):
                    chunk = {"choices": [{"delta": {"content": text[i:i + 5]}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                done = {"choices": [{"delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.asyncio
async def test_plan_through_an_endpoint_picked_from_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.widgets import Input

    from core.store import RunStore
    from sage_tui.widgets.dag import DagView

    fake = _FakeOpenAI()
    monkeypatch.setenv("SAGE_TEST_KEY", "sk-fake")
    (tmp_path / "config.toml").write_text(f'[general]\nselector = "keyword"\ntiming = "rule"\n\n[[endpoints]]\nname = "fake"\n'
                                          f'base_url = "{fake.url}"\napi_key_env = "SAGE_TEST_KEY"\n')
    cfg = load_config(tmp_path / "config.toml")
    app = SageApp(db=tmp_path / "runs.db", config=cfg, catalog_path=write_catalog(tmp_path / "tools.jsonl"), mode="plan")
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            screen.query_one("#model", Select).value = "endpoint:fake"
            screen.query_one("#goal", Input).value = "find flights to Lisbon and check the weather there, then add the trip to my calendar"
            await pilot.pause()
            await pilot.press("ctrl+r")
            await pilot.pause(0.2)
            await app.workers.wait_for_complete()
            await pilot.pause(0.2)
            assert [s["tool_id"] for s in screen.query_one(DagView).steps] == ["flight_search", "weather_forecast", "calendar_add_event"]
    finally:
        fake.close()
    assert fake.auth and set(fake.auth) == {"Bearer sk-fake"} and set(fake.paths) == {"/v1/chat/completions"}
    runs = RunStore(tmp_path / "runs.db").list_runs(kind="plan")
    assert len(runs) == 1 and runs[0]["config"]["picked"]["endpoint"] == "fake"
