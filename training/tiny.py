"""A tiny randomly initialised Llama model with an in-process BPE tokenizer (for tests).

Built from a config in code in a second or two, saved as a normal HF model directory so every
code path (peft, checkpoints, resume, GGUF export) runs exactly as with a real model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

SPECIAL = ["<pad>", "<bos>", "<eos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
_BASE_TEXT = [
    "user model assistant tool call the a to of and in is for with on that this it as be",
    '{"tool_calls": [{"name": "search", "arguments": {"query": "weather"}}]} true false yes no',
    '{"steps": [{"id": 1, "tool_id": "x", "arguments": {}, "depends_on": []}]}',
    "0 1 2 3 4 5 6 7 8 9 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ _ - . , : ; ! ? ( ) [ ] { }",
]


def build_tiny_model_dir(out: str | Path, corpus: Iterable[str] = (), *, vocab_size: int = 600, seed: int = 0) -> Path:
    """Train a byte-level BPE tokenizer on `corpus` and save it with a random tiny Llama model."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([*_BASE_TEXT, *corpus], trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=["<start_of_turn>", "<end_of_turn>"],
    )
    fast.save_pretrained(str(out))
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=0.2,  # larger than usual so LoRA updates move the outputs quickly
    )
    LlamaForCausalLM(cfg).save_pretrained(str(out))
    return out


def tiny_dialogs(n: int, tasks: tuple[str, ...] = ("tool_selection", "timing_judgment"), prefix: str = "d") -> list[dict]:
    """Small synthetic training dialogs (in the bundled dialog format) for tests and smoke runs."""
    out = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        tool = ["weather_lookup", "send_email", "flight_search"][i % 3]
        if task == "timing_judgment":
            answer = {"role": "assistant", "content": "yes" if i % 2 else "no"}
        else:
            args = json.dumps({"q": f"item {i}"})
            answer = {"role": "assistant", "content": None,
                      "tool_calls": [{"id": "c", "type": "function", "function": {"name": tool, "arguments": args}}]}
        out.append({"id": f"{prefix}{i}", "task": task, "messages": [
            {"role": "system", "content": "You are a helpful agent."},
            {"role": "user", "content": f"request {i} about {tool.replace('_', ' ')} number {i * 7 % 13}"},
            answer]})
    return out
