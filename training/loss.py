"""Causal-LM loss that computes logits only at supervised positions.

With a 262k-token vocabulary the LM head dominates a small model's step; running it only on
the (few) assistant tokens instead of every position is the main CPU speed-up (see bench/).
"""

from __future__ import annotations

from typing import Any

from training.formatting import IGNORE


def causal_lm(model: Any) -> Any:
    """The underlying *ForCausalLM module of a plain or peft-wrapped model."""
    m = model
    if hasattr(m, "get_base_model"):
        m = m.get_base_model()
    return m


def supervised_logits(model: Any, batch: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(logits at supervised positions [n, V], their targets [n], row index [n])."""
    import torch

    lm = causal_lm(model)
    backbone = lm.get_decoder() if hasattr(lm, "get_decoder") else lm.model
    hidden = backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    labels = batch["labels"]
    # position t predicts token t+1
    target = labels[:, 1:]
    sel = target != IGNORE
    h = hidden[:, :-1][sel]
    logits = lm.get_output_embeddings()(h).float()
    cap = getattr(lm.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    rows = torch.arange(labels.shape[0], device=labels.device).unsqueeze(1).expand_as(target)[sel]
    return logits, target[sel], rows


def supervised_loss(model: Any, batch: dict[str, Any], *, per_sample: bool = False) -> Any:
    """Mean token cross-entropy over assistant tokens (scalar, or one value per sample)."""
    import torch
    import torch.nn.functional as F

    logits, target, rows = supervised_logits(model, batch)
    tok = F.cross_entropy(logits, target, reduction="none")
    if not per_sample:
        return tok.mean()
    n = batch["input_ids"].shape[0]
    sums = torch.zeros(n, device=tok.device).index_add_(0, rows, tok)
    counts = torch.zeros(n, device=tok.device).index_add_(0, rows, torch.ones_like(tok))
    return sums / counts.clamp(min=1)


def full_logits_loss(model: Any, batch: dict[str, Any]) -> Any:
    """Reference: the standard HF loss with logits at every position (used by bench/ and tests)."""
    return model(**batch).loss
