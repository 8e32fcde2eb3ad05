"""The backend protocol over HTTP to an OpenAI-compatible server (llama-server, llama-cpp-python, vLLM)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

from core.errors import ModelError
from core.llm.base import Completion, Message, TokenCallback
from core.llm.chat_format import get_format


class OpenAICompatibleBackend:
    """`/v1/chat/completions`, or `/v1/completions` with our own prompt rendering when `chat_format` is set.

    Use `chat_format="gemma"` for a base model without a chat template (the server would guess a
    wrong one). JSON schemas go out as a GBNF `grammar` (llama.cpp servers) plus `guided_json`
    (vLLM) in completion mode, or as `response_format` in chat mode (`schema_style` picks the
    llama-cpp-python `json_object`+schema form or the OpenAI `json_schema` form).
    """

    def __init__(self, base_url: str, *, model: str = "default", chat_format: str | None = None,
                 api_key: str | None = None, timeout_s: float = 120.0, schema_style: str = "llama-cpp") -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model = model
        self.chat_format = chat_format
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.schema_style = schema_style
        self.name = f"openai:{model}@{self.base_url}"

    def info(self) -> dict[str, Any]:
        return {"backend": "openai-compatible", "base_url": self.base_url, "model": self.model,
                "chat_format": self.chat_format}

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.base_url + path, data=json.dumps(body).encode(), headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise ModelError(f"server {self.base_url} answered HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelError(f"server {self.base_url} is unreachable: {reason}",
                             hint="start it or check --server") from None

    @staticmethod
    def _sse(resp: Any) -> Iterator[dict[str, Any]]:
        for raw in resp:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            yield json.loads(data)

    def _body(self, messages: Sequence[Message], json_schema: dict[str, Any] | None, grammar: str | None) -> tuple[str, dict]:
        if self.chat_format:
            render, stops = get_format(self.chat_format)
            body: dict[str, Any] = {"prompt": render(messages, add_generation_prompt=True), "stop": list(stops)}
            if grammar is None and json_schema is not None:
                try:
                    from core.llm.grammar import schema_to_gbnf

                    grammar = schema_to_gbnf(json_schema)
                except ImportError:
                    grammar = None
            if grammar is not None:
                body["grammar"] = grammar
            if json_schema is not None:
                body["guided_json"] = json_schema
            return "/completions", body
        body = {"messages": list(messages), "stop": []}
        if json_schema is not None:
            if self.schema_style == "openai":
                body["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": json_schema}}
            else:
                body["response_format"] = {"type": "json_object", "schema": json_schema}
        if grammar is not None:
            body["grammar"] = grammar
        return "/chat/completions", body

    def complete(
        self,
        messages: Sequence[Message],
        *,
        json_schema: dict[str, Any] | None = None,
        grammar: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        path, body = self._body(messages, json_schema, grammar)
        body.update(model=self.model, max_tokens=max_tokens, temperature=temperature, seed=seed,
                    stream=on_token is not None)
        body["stop"] = body["stop"] + list(stop or [])
        chat = path == "/chat/completions"
        t0 = time.perf_counter()
        resp = self._post(path, body)
        usage: dict[str, Any] = {}
        try:
            if on_token is None:
                data = json.loads(resp.read())
                choice = data["choices"][0]
                text = choice["message"].get("content") or "" if chat else choice.get("text", "")
                finish = choice.get("finish_reason") or "stop"
                usage = data.get("usage") or {}
                n_out = int(usage.get("completion_tokens", 0))
            else:
                pieces, finish, n_out = [], "stop", 0
                for event in self._sse(resp):
                    if not event.get("choices"):
                        continue
                    choice = event["choices"][0]
                    piece = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                    if piece:
                        pieces.append(piece)
                        n_out += 1
                        on_token(piece)
                    finish = choice.get("finish_reason") or finish
                text = "".join(pieces)
        except (KeyError, IndexError, ValueError) as exc:
            raise ModelError(f"unexpected answer from {self.base_url}{path}: {exc}") from None
        finally:
            resp.close()
        return Completion(text, finish, int(usage.get("prompt_tokens", 0)), n_out, time.perf_counter() - t0,
                          meta={"backend": self.name})
