"""OpenAICompatibleBackend against llama-cpp-python's own server with the bundled Gemma (no mock)."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from core.errors import ModelError
from core.llm.models import bundled_gemma_path
from core.llm.openai_compat import OpenAICompatibleBackend

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("uvicorn")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gemma_path()),
                             "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_ctx", "1024",
                             "--chat_format", "gemma"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"OMP_WAIT_POLICY": "PASSIVE",
                                                                                      "PATH": "/usr/bin:/bin"})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/v1/models", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("llama_cpp.server exited")
                time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_completion_mode_with_schema_and_streaming(server):
    b = OpenAICompatibleBackend(server, chat_format="gemma")
    schema = {"type": "object", "properties": {"call": {"type": "boolean"}, "tool": {"enum": ["get_weather", None]}},
              "required": ["call", "tool"]}
    msgs = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "Weather in Oslo now?"}]
    c = b.complete(msgs, json_schema=schema, max_tokens=30)
    obj = json.loads(c.text)
    assert isinstance(obj["call"], bool) and obj["tool"] in ("get_weather", None)
    pieces: list[str] = []
    s = b.complete(msgs, json_schema=schema, max_tokens=30, on_token=pieces.append)
    # the streamed answer is what was streamed and fits the schema; it need not equal the first answer token for
    # token: llama-cpp-python's server reuses the cached prompt prefix on the second request, and with this build's
    # kernels that shifts the logits enough to flip a close greedy choice (seen: "tool": null vs "get_weather")
    streamed = json.loads(s.text)
    assert "".join(pieces) == s.text and set(streamed) == set(obj)
    assert isinstance(streamed["call"], bool) and streamed["tool"] in ("get_weather", None)


def test_chat_mode_truncation(server):
    c = OpenAICompatibleBackend(server).complete([{"role": "user", "content": "Count to fifty in words."}], max_tokens=3)
    assert c.finish_reason == "length"


def test_unreachable_server_is_a_model_error():
    with pytest.raises(ModelError, match="unreachable"):
        OpenAICompatibleBackend(f"http://127.0.0.1:{_free_port()}", timeout_s=2).complete(
            [{"role": "user", "content": "x"}], max_tokens=1)
