"""Guided decoding (core/llm/guided.py) on a scripted character-level model: prompt-lookup drafts and positional
step schemas change how many forward calls are made, never the text."""

from __future__ import annotations

import json

import numpy as np
import pytest
import regex
from planning_support import make_catalog

from core.llm import guided
from core.llm.json_regex import schema_to_regex
from core.llm.prompts import tagged_steps_schema, tagged_steps_target

WORDS = ['{"', '": "', '", "', "Os", "lo", "city", "weather", "subgoal", "depends_on"]
CHARS = [chr(c) for c in range(32, 127)]


class FakeLlama:
    """Greedy 'model' that continues `target` after the prompt; its logits depend only on the tokens in its
    (fake) KV cache, so a stale or rejected draft token left there would change the output."""

    def __init__(self, target: str) -> None:
        self.vocab = ["<eos>", *CHARS, *WORDS]
        self.target = target
        self.input_ids = np.zeros(4096, dtype=np.intc)
        self.n_tokens = 0
        self.n_batch = 512
        self.prompt_len = 0
        self._batch = object()  # drafts need the low-level batch API: `_decode` is patched below
        self.rows: dict[int, np.ndarray] = {}
        self.calls = 0

    def n_vocab(self) -> int:
        return len(self.vocab)

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        s, out = text.decode(), []
        while s:
            tok = max((i for i, v in enumerate(self.vocab) if i and s.startswith(v)), key=lambda i: len(self.vocab[i]))
            out.append(tok)
            s = s[len(self.vocab[tok]):]
        return out

    def detokenize(self, toks: list[int]) -> bytes:
        return "".join("" if t == 0 else self.vocab[t] for t in toks).encode()

    def _logits_after(self, n: int) -> np.ndarray:
        out = self.detokenize(list(self.input_ids[self.prompt_len: n])).decode()
        z = np.zeros(self.n_vocab(), dtype=np.float32)
        if not self.target.startswith(out):
            return z  # off-script: a flat distribution
        rest = self.target[len(out):]
        if not rest:
            z[0] = 10.0
        for i, v in enumerate(self.vocab[1:], start=1):
            if rest.startswith(v):
                z[i] = 10.0 + len(v)
        z[self.vocab.index("x")] = max(z[self.vocab.index("x")], 5.0)  # a wrong runner-up everywhere
        return z

    def decode(self, tokens: list[int], outputs: range) -> None:
        start = self.n_tokens
        self.input_ids[start: start + len(tokens)] = tokens
        self.n_tokens += len(tokens)
        self.rows = {i: self._logits_after(start + i + 1) for i in outputs}
        self.calls += 1

    def eval(self, tokens: list[int]) -> None:
        self.decode(tokens, range(len(tokens) - 1, len(tokens)))


@pytest.fixture(autouse=True)
def fake_llama_api(monkeypatch):
    monkeypatch.setattr(guided, "_decode", lambda llm, toks, outs: llm.decode(toks, outs))
    monkeypatch.setattr(guided, "_row", lambda llm, i: llm.rows[i])
    monkeypatch.setattr(guided, "_logits", lambda llm: llm.rows[max(llm.rows)])


def run(llm: FakeLlama, prompt: str, pattern: str, draft: int) -> guided.GuidedResult:
    toks = llm.tokenize(prompt.encode())
    llm.prompt_len = len(toks)
    return guided.guided_generate(llm, toks, regex.compile(pattern), max_tokens=600, draft_tokens=draft)


CITY = schema_to_regex({"type": "object", "properties": {"city": {"type": "string", "maxLength": 30}},
                        "required": ["city"]})


@pytest.mark.parametrize("target", ['{"city": "Oslo Norway"}', '{"city": "Osaka"}', '{"city": "Bergen"}'])
def test_drafts_give_the_greedy_text_with_fewer_forward_calls(target):
    prompt = "Goal: the weather in Oslo Norway today. Answer:"
    plain = run(FakeLlama(target), prompt, CITY, draft=0)
    assert plain.text == target and plain.stats["accepted_draft_tokens"] == 0
    llm = FakeLlama(target)
    fast = run(llm, prompt, CITY, draft=8)
    assert fast.text == target and fast.sampled_tokens == plain.sampled_tokens
    assert fast.stats["forward_calls"] == llm.calls == plain.stats["forward_calls"] - fast.stats["accepted_draft_tokens"]
    if "Oslo" in target:  # copied from the prompt: drafted and kept
        assert fast.stats["accepted_draft_tokens"] >= 3 and fast.stats["forward_calls"] < plain.stats["forward_calls"]
    # a rejected draft leaves nothing behind: a second call on the same cache gives the same text again
    again = run(llm, prompt, CITY, draft=8)
    assert again.text == target and again.stats["reused_prompt_tokens"] > 0


@pytest.mark.parametrize("through", [False, True])
def test_positional_schema_fast_forwards_ids_and_gives_the_same_plan(monkeypatch, through):
    monkeypatch.setattr(guided, "DRAFT_THROUGH_FORCED", through)
    cat = make_catalog()
    tools = [cat.get("get_weather"), cat.get("send_email")]
    steps = [{"id": 1, "tool_id": "get_weather", "arguments": {"city": "Oslo"}, "depends_on": []},
             {"id": 2, "tool_id": "get_weather", "arguments": {"city": "Rome"}, "depends_on": []},
             {"id": 3, "tool_id": "send_email", "arguments": {"to": "Ana"}, "depends_on": [1, 2]}]
    target = tagged_steps_target(steps, [1, 1, 2])
    prompt = "Goal: weather in Oslo and Rome, email Ana. Steps:"
    out = {}
    for first_id in (None, 1):
        pattern = schema_to_regex(tagged_steps_schema(tools, 4, 2, first_id=first_id))
        out[first_id] = [run(FakeLlama(target), prompt, pattern, draft=d) for d in (0, 8)]
    assert {r.text for rs in out.values() for r in rs} == {target}
    assert json.loads(target)["steps"][2]["depends_on"] == [1, 2]
    # ids, the first tag and the first step's empty dependency list are no longer sampled
    assert out[1][0].sampled_tokens <= out[None][0].sampled_tokens - 5
    assert out[1][0].forced_tokens > out[None][0].forced_tokens
    # guesses from the prompt and the earlier steps save forward calls (with or without forced text)
    assert out[1][1].stats["accepted_draft_tokens"] > 0
    assert out[1][1].stats["forward_calls"] < out[1][0].stats["forward_calls"]


def test_lookup_guesses_follow_the_latest_earlier_occurrence():
    lk = guided._Lookup([1, 2, 3, 4, 9, 2, 3, 5, 6])
    lk.add(2)
    lk.add(3)  # the last tokens (2, 3) were followed by 5 at their latest earlier occurrence
    assert lk.guess([]) == 5
    assert [lk.guess([5]), lk.guess([5, 6])] == [6, 2]  # guesses continue over tokens not yet seen
    assert lk.guess([7]) is None  # never seen: no guess


def test_forced_characters_are_found_with_fewer_probes_exactly():
    cat = make_catalog()
    tools = [cat.get("get_weather"), cat.get("send_email"), cat.get("convert_currency")]
    rx = regex.compile(schema_to_regex(tagged_steps_schema(tools, 3, 2, first_id=1)))
    steps = [{"id": 1, "tool_id": "convert_currency", "arguments": {"amount": 12.5, "to_currency": "NOK"},
              "depends_on": []},
             {"id": 2, "tool_id": "send_email", "arguments": {"to": "Zoë ~ [x]", "body": "{{step_1}}"},
              "depends_on": [1]}]
    target = tagged_steps_target(steps, [1, 2])
    probes, stand_in = guided._probes(rx)
    assert len(probes) < len(guided.ALPHABET) and len(stand_in) == 2
    for i in range(len(target) + 1):
        allowed = [c for c in guided.ALPHABET + guided.NON_ASCII_PROBE if rx.fullmatch(target[:i] + c, partial=True)]
        got = guided._next_chars(rx, target[:i])
        assert all(rx.fullmatch(target[:i] + c, partial=True) for c in got)
        assert (len(got) == 1) == (len(allowed) == 1) and (len(got) == 0) == (len(allowed) == 0), target[:i]
        if len(allowed) == 1:
            assert got == allowed
