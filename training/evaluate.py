"""Evaluate a trained model (HF base + optional peft adapter) on the agent task types.

* tool selection: constrained choice = log-likelihood of each candidate tool id (+ end of turn)
  after `selection_prompt`; the prompt is run once and its KV cache shared by all candidates, and
  logits are computed only at the answer positions. Metrics `acc@1`, `acc@5`, `mrr`, ... (ranked
  by likelihood, ties ordered pessimistically).
* tool retrieval (only where the split has it, e.g. test_extended): the same choice among the
  BM25 top-`RETRIEVAL_POOL` tools of the catalog; metrics are stored as `retrieval/<name>`.
* timing: likelihood of `{"should_call_tool": true` vs `... false` after `timing_prompt` (tools =
  the BM25 top-5 for the message, as the timing decider shows them); `accuracy`, `fpr`, ...
  from the pooled confusion matrix.
* planning: greedy generation after `plan_prompt` (the flat planner's single call), then
  `core.planning` repair (lenient JSON, alias keys, non-candidate tools dropped, dependencies
  repaired; no greedy fallback, so an unusable answer scores 0) and `core.metrics.planning`.

Subset sizes (`EvalSizes`): the CPU default takes the first 40 selection, 30 timing (the whole
test file) and 12 planning samples of the `test` split; `EvalSizes.full()` takes everything.
Per-sample results go to the run (`RunStore.add_sample_results`), the metrics with their public
names as summary metrics (step NULL).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import NotFoundError
from core.metrics.planning import METRIC_NAMES as PLAN_METRICS
from core.metrics.stats import mean_ci

RETRIEVAL_POOL = 10
TIMING_TOOLS = 5
TRUE_PREFIX = '{"should_call_tool": true'
FALSE_PREFIX = '{"should_call_tool": false'


@dataclass
class EvalSizes:
    """Samples per task (0 = the whole file; a negative number skips the task)."""

    tool_selection: int = 40
    tool_retrieval: int = 20
    timing_judgment: int = 30
    task_planning: int = 12
    max_new_tokens: int = 200
    plan_scored: int = 0  # planning samples scored teacher-forced (gold plan likelihood, no generation); <= 0: off
    splits: dict[str, str] | None = None  # per-task split override (task -> split name)
    plan_batch: int = 1  # HF generation: plans per batch (left-padded)

    @classmethod
    def full(cls) -> EvalSizes:
        return cls(0, 0, 0, 0, 256, 0)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class ModelScorer:
    """Prompt rendering, continuation log-likelihoods and greedy generation for one HF model."""

    def __init__(self, model: Any, tokenizer: Any, device: str = "cpu", chat_format: str = "auto", *,
                 prefix_cache: bool = False) -> None:
        """`prefix_cache`: prompts of one family (same first tokens: the fixed system text of the timing or plan
        prompt) reuse the KV cache of their common token prefix, computed once, and run only the rest (the
        medium tier's cost lever; equal to a full forward within float noise, tests/test_evaluate.py)."""
        from training.formatting import pick_format

        self.model = model
        self.tok = tokenizer
        self.device = device
        self.fmt = pick_format(tokenizer, chat_format)
        self.end = "<end_of_turn>" if self.fmt == "gemma" else (tokenizer.eos_token or "")
        self.prefix_cache = prefix_cache
        self._prefixes: dict[tuple[int, ...], tuple[list[int], Any]] = {}  # family -> (prefix ids, its KV cache)
        self._last: dict[tuple[int, ...], list[int]] = {}  # family -> the previous prompt (to find the prefix)
        self.model.eval()

    PREFIX_MIN = 48  # shortest shared prefix worth caching (tokens)
    FAMILY = 16  # leading tokens that name a prompt family

    def _prefix_for(self, ids: list[int], backbone: Any, limit: int) -> tuple[int, Any]:
        """(p, a fresh copy of the KV cache of ids[:p]) for the longest cached family prefix of `ids`, or (0, None).
        The second prompt of a family builds its prefix cache (one forward over the shared tokens)."""
        import copy

        import torch

        if not self.prefix_cache or len(ids) <= self.PREFIX_MIN:
            return 0, None
        fam = tuple(ids[: self.FAMILY])
        ent = self._prefixes.get(fam)
        if ent is not None and len(ent[0]) <= limit and ids[: len(ent[0])] == ent[0]:
            return len(ent[0]), copy.deepcopy(ent[1])
        ref = ent[0] if ent is not None else self._last.get(fam)
        self._last[fam] = list(ids)
        if ref is None:
            return 0, None
        n = 0
        for a, b in zip(ref, ids, strict=False):
            if a != b:
                break
            n += 1
        n = min(n, limit)
        if n < self.PREFIX_MIN:
            return 0, None
        with torch.no_grad():
            out = backbone(input_ids=torch.tensor([ids[:n]], device=self.device), use_cache=True)
        cache = getattr(out, "cache", None) or out.past_key_values
        self._prefixes[fam] = (list(ids[:n]), cache)
        return n, copy.deepcopy(cache)

    def _forward(self, backbone: Any, ids: list[int], *, use_cache: bool, limit: int) -> tuple[Any, int]:
        """(backbone output over `ids`, p): with a cached prefix of p <= `limit` tokens the output covers ids[p:]
        only and its cache (when `use_cache`) holds all of `ids`."""
        import torch

        p, cache = self._prefix_for(ids, backbone, limit)
        kw = {_cache_kw(backbone): cache} if cache is not None else {}
        out = backbone(input_ids=torch.tensor([ids[p:]], device=self.device), use_cache=use_cache or cache is not None, **kw)
        return out, p

    def prompt_ids(self, messages: Sequence[dict[str, Any]]) -> list[int]:
        """Token ids the model sees before its answer (what training supervises after)."""
        if self.fmt == "gemma":
            from core.llm.chat_format import render_gemma

            ids = self.tok(render_gemma(messages), add_special_tokens=False)["input_ids"]
            bos = self.tok.bos_token_id
            return [bos, *ids] if bos is not None else list(ids)
        from training.formatting import _turns

        msgs = [{"role": "assistant" if r == "model" else "user", "content": t} for r, t in _turns(list(messages))]
        text = self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def continuation_logprobs(self, messages: Sequence[dict[str, Any]], continuations: Sequence[str],
                              *, close: bool = True) -> list[float]:
        """Sum of token log-probabilities of each continuation (followed by the end-of-turn marker
        when `close`) after the prompt. The prompt is encoded once; its cache is shared."""
        import torch

        from training.loss import causal_lm

        lm = causal_lm(self.model)
        backbone = lm.get_decoder() if hasattr(lm, "get_decoder") else lm.model
        head = lm.get_output_embeddings()
        cap = getattr(lm.config, "final_logit_softcapping", None)
        prompt = self.prompt_ids(messages)
        suffix = self.end if close else ""
        cands = [list(self.tok(c + suffix, add_special_tokens=False)["input_ids"]) for c in continuations]
        n, width = len(cands), max(len(c) for c in cands)
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        with torch.no_grad():
            out, _ = self._forward(backbone, prompt, use_cache=True, limit=len(prompt) - 1)
            cache = getattr(out, "cache", None) or out.past_key_values
            cache.batch_repeat_interleave(n)
            ids = torch.full((n, width), pad, dtype=torch.long, device=self.device)
            mask = torch.zeros((n, len(prompt) + width), dtype=torch.long, device=self.device)
            mask[:, : len(prompt)] = 1
            for i, c in enumerate(cands):
                ids[i, : len(c)] = torch.tensor(c)
                mask[i, len(prompt): len(prompt) + len(c)] = 1
            h = backbone(input_ids=ids, attention_mask=mask, **{_cache_kw(backbone): cache}).last_hidden_state
            last = out.last_hidden_state[:, -1:].expand(n, 1, -1)
            pred = torch.cat([last, h[:, :-1]], dim=1)  # position j is predicted from j-1 (or the prompt)
            sel = mask[:, len(prompt):].bool()
            logits = head(pred[sel]).float()
            if cap:
                logits = torch.tanh(logits / cap) * cap
            lp = torch.log_softmax(logits, -1).gather(1, ids[sel].unsqueeze(1)).squeeze(1)
            rows = torch.arange(n, device=self.device).unsqueeze(1).expand(n, width)[sel]
            sums = torch.zeros(n, device=self.device).index_add_(0, rows, lp)
        return sums.tolist()

    def answer_scores(self, messages: Sequence[dict[str, Any]], answer: str) -> tuple[float, int, int]:
        """Teacher-forced scoring of `answer` (+ end of turn) after the prompt, one forward pass with
        logits only at the answer positions: (sum of token NLL, answer tokens, greedy-correct tokens)."""
        import torch

        from training.loss import causal_lm

        lm = causal_lm(self.model)
        backbone = lm.get_decoder() if hasattr(lm, "get_decoder") else lm.model
        head = lm.get_output_embeddings()
        cap = getattr(lm.config, "final_logit_softcapping", None)
        prompt = self.prompt_ids(messages)
        ans = list(self.tok(answer + self.end, add_special_tokens=False)["input_ids"])
        with torch.no_grad():
            out, p = self._forward(backbone, prompt + ans, use_cache=False, limit=len(prompt) - 1)
            h = out.last_hidden_state[0]
            logits = head(h[len(prompt) - 1 - p: len(prompt) + len(ans) - 1 - p]).float()
            if cap:
                logits = torch.tanh(logits / cap) * cap
            target = torch.tensor(ans, device=self.device)
            nll = torch.nn.functional.cross_entropy(logits, target, reduction="sum")
            hit = int((logits.argmax(-1) == target).sum())
        return float(nll), len(ans), hit

    def generate_many(self, prompts: Sequence[Sequence[dict[str, Any]]], max_new_tokens: int = 200,
                      batch: int = 8) -> list[str]:
        """Greedy decoding of several prompts, `batch` at a time (left padding; the same text as `generate`
        up to numerical noise of padded attention)."""
        import torch

        if batch <= 1:
            return [self.generate(m, max_new_tokens) for m in prompts]
        stop = [t for t in {self.tok.convert_tokens_to_ids(self.end) if self.end else None, self.tok.eos_token_id}
                if t is not None]
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        ids = [self.prompt_ids(m) for m in prompts]
        out: list[str] = []
        for i in range(0, len(ids), batch):
            chunk = ids[i: i + batch]
            w = max(len(c) for c in chunk)
            inp = torch.tensor([[pad] * (w - len(c)) + c for c in chunk], device=self.device)
            mask = torch.tensor([[0] * (w - len(c)) + [1] * len(c) for c in chunk], device=self.device)
            with torch.no_grad():
                gen = self.model.generate(input_ids=inp, attention_mask=mask, max_new_tokens=max_new_tokens,
                                          do_sample=False, eos_token_id=stop, use_cache=True, pad_token_id=pad)
            out += [self.tok.decode(row[w:], skip_special_tokens=True) for row in gen]
        return out

    def generate(self, messages: Sequence[dict[str, Any]], max_new_tokens: int = 200) -> str:
        """Greedy decoding until the end-of-turn marker."""
        import torch

        prompt = self.prompt_ids(messages)
        stop = [t for t in {self.tok.convert_tokens_to_ids(self.end) if self.end else None, self.tok.eos_token_id}
                if t is not None]
        with torch.no_grad():
            out = self.model.generate(input_ids=torch.tensor([prompt], device=self.device),
                                      attention_mask=torch.ones((1, len(prompt)), dtype=torch.long, device=self.device),
                                      max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stop, use_cache=True,
                                      pad_token_id=self.tok.pad_token_id)
        return self.tok.decode(out[0, len(prompt):], skip_special_tokens=True)


def _cache_kw(module: Any) -> str:
    """`cache` (transformers >= 5.2x) or `past_key_values` (older releases)."""
    import inspect

    return "cache" if "cache" in inspect.signature(module.forward).parameters else "past_key_values"


# ---- per-task evaluation ------------------------------------------------------------------------
def _ranked(scores: dict[str, float]) -> tuple[list[str], list[float]]:
    order = sorted(scores, key=lambda t: -scores[t])
    return order, [scores[t] for t in order]


def eval_selection(scorer: ModelScorer, sample: dict[str, Any], catalog: Any, candidates: Sequence[str]) -> dict[str, Any]:
    from core.metrics.selection import selection_metrics
    from training.prompts_bridge import selection_prompt

    tools = [catalog.get(t) for t in candidates if t in catalog]
    ids = [t.tool_id for t in tools]
    lp = scorer.continuation_logprobs(selection_prompt(sample["instruction"], tools), ids)
    ranked, scores = _ranked(dict(zip(ids, lp, strict=True)))
    gold = list(sample["gold"]["tools"])
    m = selection_metrics(ranked, gold, scores)
    return {"ok": m["acc@1"] == 1.0, "metrics": m, "pred": ranked[:5], "gold": gold}


def eval_timing(scorer: ModelScorer, sample: dict[str, Any], catalog: Any, selector: Any) -> dict[str, Any]:
    from core.llm.prompts import timing_prompt

    tools = [catalog.get(s.tool_id) for s in selector.select(sample["message"], top_k=TIMING_TOOLS)]
    context = [m for m in sample.get("context") or [] if m.get("role") != "system"]
    lp_true, lp_false = scorer.continuation_logprobs(timing_prompt(sample["message"], context, tools),
                                                     [TRUE_PREFIX, FALSE_PREFIX], close=False)
    pred, gold = lp_true > lp_false, bool(sample["gold"]["should_call_tool"])
    return {"ok": pred == gold, "metrics": {"correct": float(pred == gold)}, "pred": pred, "gold": gold,
            "margin": lp_true - lp_false}


def planning_prompt(sample: dict[str, Any], catalog: Any) -> list[dict[str, Any]]:
    from core.llm.prompts import plan_prompt

    cands = [t for t in sample.get("candidate_tools") or [] if t in catalog]
    return plan_prompt(sample["instruction"], [catalog.get(t) for t in cands])


def eval_planning(scorer: ModelScorer, sample: dict[str, Any], catalog: Any, max_new_tokens: int,
                  text: str | None = None) -> dict[str, Any]:
    """A plan generated greedily by the HF model (or the given `text`, generated in a batch), repaired, scored."""
    from core.errors import PlanError
    from core.metrics.planning import gold_steps, plan_metrics
    from core.planning.dag import repair_dependencies
    from core.planning.repair import normalize_steps, repair_json

    cands = [t for t in sample.get("candidate_tools") or [] if t in catalog]
    if text is None:
        text = scorer.generate(planning_prompt(sample, catalog), max_new_tokens)
    repairs: list[str] = []
    try:
        obj, rep = repair_json(text)
        steps, rep2 = normalize_steps(obj)
        repairs += [r.kind for r in rep + rep2]
    except PlanError as exc:
        steps, repairs = [], [f"json: {exc.message}"]
    kept = [s for s in steps if s.tool_id in cands]
    if len(kept) < len(steps):
        repairs.append("tool")
    kept, rep = repair_dependencies(kept)
    repairs += [r.kind for r in rep]
    gold = gold_steps(sample)
    m = plan_metrics(kept, gold, catalog, cands)
    return {"ok": m["exact_match"] == 1.0, "metrics": m, "pred": [s.__dict__ for s in kept], "raw": text[:600],
            "repairs": repairs}


def eval_planning_planner(planner: Any, sample: dict[str, Any], catalog: Any) -> dict[str, Any]:
    """A generated plan through a `core.planning` planner (the product path: llama.cpp with the trained
    adapter, guided decoding, repair, DAG). A plan where the model gave no usable step (the planner's
    greedy `fallback`) is scored as the empty plan: the fallback is the retriever's plan, not the model's."""
    from core.errors import SageError
    from core.metrics.planning import gold_steps, plan_metrics

    cands = [t for t in sample.get("candidate_tools") or [] if t in catalog]
    meta: dict[str, Any] = {}
    try:
        plan = planner.plan(sample["instruction"], candidates=cands or None)
        steps, repairs, meta = list(plan.steps), [r.kind for r in plan.repairs], plan.meta
    except SageError as exc:  # an engine crash or a context error scores 0 and keeps the evaluation going
        steps, repairs = [], [f"error: {exc}"]
    fallback = "fallback" in repairs
    if fallback:
        steps = []
    m = plan_metrics(steps, gold_steps(sample), catalog, cands)
    m["fallback"] = float(fallback)
    return {"ok": m["exact_match"] == 1.0, "metrics": m, "pred": [s.__dict__ for s in steps], "repairs": repairs,
            "llm_calls": meta.get("llm_calls", 0), "completion_tokens": meta.get("completion_tokens", 0)}


class LlamaPlanGenerator:
    """Generated plans on llama.cpp: the trained peft adapter exported to a GGUF LoRA (training/lora_gguf) and
    applied at run time to the bundled base GGUF in an engine child of its own (closed with `close()`, so a
    comparison does not keep one loaded model per method), planned by `planner` with guided decoding."""

    def __init__(self, gguf: str | Path, catalog: Any, *, planner: str = "flat", max_tokens: int = 256,
                 threads: int = 0, base_model: str = "gemma3-270m") -> None:
        from core.llm.engine.client import EngineProcess
        from core.llm.factory import make_backend
        from core.planning.base import PlannerConfig
        from core.planning.registry import make_planner, make_selector

        self.proc = EngineProcess()
        opts: dict[str, Any] = {"n_threads": threads} if threads else {}
        self.backend = make_backend(base_model, str(gguf), purpose="plan", isolation="child", cache=False,
                                    engine=self.proc, **opts)
        self.planner = make_planner(planner, catalog, selector=make_selector(catalog, "keyword"), backend=self.backend,
                                    config=PlannerConfig(max_tokens=max_tokens))

    def __call__(self, sample: dict[str, Any], catalog: Any) -> dict[str, Any]:
        return eval_planning_planner(self.planner, sample, catalog)

    def close(self) -> None:
        self.proc.close()


def eval_plan_scored(scorer: ModelScorer, sample: dict[str, Any], catalog: Any) -> dict[str, Any]:
    """Teacher-forced planning: likelihood of the gold plan (the flat planner's training target)
    after `plan_prompt`. `plan_token_acc` = share of gold-plan tokens the model ranks first given
    the gold prefix, `plan_nll` = mean token negative log-likelihood. No generation: ~one prompt
    forward per sample, so many more samples fit than with greedy decoding."""
    from core.llm.prompts import plan_prompt, steps_target

    cands = [t for t in sample.get("candidate_tools") or [] if t in catalog]
    nll, n, hit = scorer.answer_scores(plan_prompt(sample["instruction"], [catalog.get(t) for t in cands]),
                                       steps_target(sample["gold"]["steps"]))
    acc = hit / n if n else 0.0
    return {"ok": hit == n, "metrics": {"plan_token_acc": acc, "plan_nll": nll / max(1, n)}, "tokens": n}


# ---- driver -----------------------------------------------------------------------------------
def _load(task: str, split: str, n: int) -> list[dict[str, Any]]:
    from core.datasets import default_dataset_path, load_dataset

    if n < 0:
        return []
    try:
        path = default_dataset_path(task, split)
    except NotFoundError:
        return []
    samples = load_dataset(path).samples
    return samples[:n] if n else samples


def evaluate_model(scorer: ModelScorer, *, split: str = "test", sizes: EvalSizes | None = None,
                   progress: Callable[[str, int, int], None] | None = None,
                   plan_fn: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None,
                   external: Sequence[tuple[str, Any, list[dict[str, Any]]]] = ()) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """(summary metrics with public names, per-sample rows for `RunStore.add_sample_results`).

    `plan_fn(sample, catalog)`: how generated plans are made (default: HF greedy generation on `scorer`;
    `LlamaPlanGenerator` for llama.cpp). `external`: (name, catalog, samples) of imported sets, scored as
    the trained model's top-1 among the catalog's BM25 top-`RETRIEVAL_POOL` (`ext/<name>/<metric>`)."""
    from core.catalog import load_catalog_cached
    from core.metrics.timing import confusion, timing_metrics
    from core.planning.registry import make_selector

    sizes = sizes or EvalSizes()
    splits = dict(sizes.splits or {})

    def load(task: str, n: int) -> list[dict[str, Any]]:
        return _load(task, splits.get(task) or split, n)

    catalog = load_catalog_cached()
    selector = make_selector(catalog, "keyword")
    rows: list[dict[str, Any]] = []
    summary: dict[str, float] = {}

    def run(task: str, samples: list[dict[str, Any]], fn: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        t0 = time.perf_counter()
        for i, s in enumerate(samples):
            t1 = time.perf_counter()
            r = fn(s)
            # scored plans share ids with the generated ones: a suffix keeps both rows (one row per id)
            sid = f'{s["id"]}#scored' if task == "task_planning_scored" else s["id"]
            r.update(sample_id=sid, task=task, latency_ms=(time.perf_counter() - t1) * 1000)
            out.append(r)
            if progress:
                progress(task, i + 1, len(samples))
        if samples:
            summary[f"eval_seconds/{task}"] = time.perf_counter() - t0
        rows.extend(out)
        return out

    def mean(rs: list[dict[str, Any]], names: Sequence[str], prefix: str = "") -> None:
        for k in names:
            vals = [r["metrics"][k] for r in rs if k in r["metrics"]]
            if vals:
                summary[prefix + k] = sum(vals) / len(vals)

    from core.metrics.selection import METRIC_NAMES

    sel = run("tool_selection", load("tool_selection", sizes.tool_selection),
              lambda s: eval_selection(scorer, s, catalog, s.get("candidate_tools") or []))
    mean(sel, METRIC_NAMES)
    ret = run("tool_retrieval", load("tool_retrieval", sizes.tool_retrieval),
              lambda s: eval_selection(scorer, s, catalog,
                                       [x.tool_id for x in selector.select(s["instruction"], top_k=RETRIEVAL_POOL)]))
    mean(ret, METRIC_NAMES, "retrieval/")
    tim = run("timing_judgment", load("timing_judgment", sizes.timing_judgment),
              lambda s: eval_timing(scorer, s, catalog, selector))
    if tim:
        c = confusion((r["pred"], r["gold"]) for r in tim)
        summary.update(timing_metrics(c))
        # continuous: log-odds the model puts on the gold decision (> 0: right side); moves before accuracy does
        signed = [r["margin"] if r["gold"] else -r["margin"] for r in tim]
        summary["timing_margin"], ci = mean_ci(signed)
        if len(signed) >= 2:
            summary["ci95/timing_margin"] = ci
    plans = load("task_planning", sizes.task_planning)
    texts: dict[str, str] = {}
    if plan_fn is None and sizes.plan_batch > 1 and plans:
        t0 = time.perf_counter()
        gen = scorer.generate_many([planning_prompt(s, catalog) for s in plans], sizes.max_new_tokens, sizes.plan_batch)
        texts = {str(s["id"]): g for s, g in zip(plans, gen, strict=True)}
        summary["eval_seconds/plan_generation"] = time.perf_counter() - t0
    pla = run("task_planning", plans,
              (lambda s: plan_fn(s, catalog)) if plan_fn is not None
              else (lambda s: eval_planning(scorer, s, catalog, sizes.max_new_tokens, texts.get(str(s["id"])))))
    mean(pla, (*PLAN_METRICS, "fallback"))
    tf = run("task_planning_scored", load("task_planning", sizes.plan_scored if sizes.plan_scored > 0 else -1),
             lambda s: eval_plan_scored(scorer, s, catalog))
    mean(tf, ("plan_token_acc", "plan_nll"))
    for name, ext_catalog, ext_samples in external:
        from core.selection.keyword import KeywordSelector

        bm25 = KeywordSelector().fit(ext_catalog)
        ers = run(f"ext:{name}", ext_samples,
                  lambda s, c=ext_catalog, b=bm25: eval_selection(
                      scorer, s, c, [x.tool_id for x in b.select(s["instruction"], top_k=RETRIEVAL_POOL)]))
        mean(ers, METRIC_NAMES, f"ext/{name}/")
        if ers:
            summary[f"eval_n/ext:{name}"] = float(len(ers))
    add_intervals(summary, sel, tim, tf, pla)
    for task, rs in (("tool_selection", sel), ("tool_retrieval", ret), ("timing_judgment", tim), ("task_planning", pla),
                     ("task_planning_scored", tf)):
        if rs:
            summary[f"eval_n/{task}"] = float(len(rs))
    return summary, rows


def load_external(folder: str | Path, n: int = 0) -> tuple[str, Any, list[dict[str, Any]]]:
    """(name, catalog, `n` rows spread evenly over the file) of an imported external set: `catalog.jsonl` +
    `tool_retrieval.jsonl` (MetaTool) or `tool_retrieval_test.jsonl` (Seal-Tools: in- then out-of-domain, so
    the first rows alone would be one domain) in `folder` (`sage-tui data import KIND SRC --out folder`)."""
    from core.catalog import load_catalog
    from core.datasets import load_dataset

    d = Path(folder).expanduser()
    data = next((d / f for f in ("tool_retrieval.jsonl", "tool_retrieval_test.jsonl") if (d / f).is_file()), None)
    for f in (d / "catalog.jsonl", data or d / "tool_retrieval.jsonl"):
        if not f.is_file():
            raise NotFoundError(f"{f}: not found", hint="import the set first: sage-tui data import KIND SRC --out DIR")
    catalog = load_catalog(d / "catalog.jsonl")
    rows = [s for s in load_dataset(data).samples if s.get("gold", {}).get("tools")]
    if n and len(rows) > n:
        rows = [rows[i * len(rows) // n] for i in range(n)]
    return d.name, catalog, rows


def add_intervals(summary: dict[str, float], sel: list[dict[str, Any]], tim: list[dict[str, Any]],
                  tf: list[dict[str, Any]], pla: Sequence[dict[str, Any]] = ()) -> None:
    """`ci95/<metric>`: half-width of the 95 % CI of the per-sample mean (sampling noise of the
    evaluation set, not seed variance) for acc@1, mrr, timing accuracy, the scored plan metrics and the
    generated plans' executability / node F1 / edge F1 / exact match."""
    for name, rs, key in (("acc@1", sel, "acc@1"), ("mrr", sel, "mrr"), ("accuracy", tim, "correct"),
                          ("plan_token_acc", tf, "plan_token_acc"), ("plan_nll", tf, "plan_nll"),
                          *((k, pla, k) for k in ("executability", "node_f1", "edge_f1", "exact_match"))):
        vals = [float(r["metrics"][key]) for r in rs if key in r["metrics"]]
        if len(vals) >= 2:
            summary[f"ci95/{name}"] = mean_ci(vals)[1]


def load_scorer(base: str, adapter: str | None = None, *, chat_format: str = "auto", device: str = "auto",
                threads: int = 0) -> ModelScorer:
    """An HF base model (directory or `bundled-gemma3-270m`) with an optional peft adapter."""
    import os

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.errors import ModelError
    from training.base_models import resolve_base_model
    from training.trainer import pick_device_dtype

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if threads:
        torch.set_num_threads(threads)
    model_dir = resolve_base_model(base)
    dev, dtype = pick_device_dtype(device)
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype)
    if adapter:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, str(adapter))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(f"{adapter}: cannot load the adapter onto {base}: {exc}") from None
    return ModelScorer(model.to(dev), tok, dev, chat_format)


def store_evaluation(store: Any, run_id: str, summary: dict[str, float], rows: list[dict[str, Any]]) -> None:
    """Per-sample rows on the run and the metrics as summary metrics (step NULL)."""
    store.add_sample_results(run_id, rows)
    store.log_metrics(run_id, summary)
