"""training/evaluate.py on a tiny random model: the cached constrained-choice scores equal a plain
full forward pass, the four-task evaluation reports the public metric names from real test rows,
and a compare run stores the methods' evaluation, efficiency and continual metrics."""

from __future__ import annotations

import json

import pytest

from core.store import RunStore
from training.tiny import build_tiny_model_dir, tiny_dialogs


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_eval")
    corpus = [m["content"] or "" for x in tiny_dialogs(30) for m in x["messages"]]
    return build_tiny_model_dir(d / "m", corpus)


@pytest.fixture(scope="module")
def scorer(tiny_dir):
    from training.evaluate import load_scorer

    return load_scorer(str(tiny_dir), threads=1)


def test_cached_choice_scores_equal_full_forward(scorer):
    import torch

    msgs = [{"role": "system", "content": "Pick a tool."}, {"role": "user", "content": "request 3 about weather"}]
    conts = ["weather_lookup", "send_email", "flight_search", "x"]
    got = scorer.continuation_logprobs(msgs, conts)
    prompt = scorer.prompt_ids(msgs)
    for c, g in zip(conts, got, strict=True):
        ids = scorer.tok(c + scorer.end, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = scorer.model(input_ids=torch.tensor([prompt + ids])).logits[0].float()
        lp = torch.log_softmax(logits, -1)
        ref = sum(float(lp[len(prompt) + j - 1, t]) for j, t in enumerate(ids))
        assert g == pytest.approx(ref, abs=1e-3)
    # without the closing marker the score of a prefix is higher (fewer tokens to pay for)
    open_ = scorer.continuation_logprobs(msgs, conts, close=False)
    assert all(o > c for o, c in zip(open_, got, strict=True))


def test_teacher_forced_answer_score_equals_choice_score(scorer):
    """`answer_scores` (scored planning) and `continuation_logprobs` agree on the same answer, and the
    greedy-hit count equals argmax agreement of a plain full forward pass."""
    import torch

    msgs = [{"role": "user", "content": "plan request 2 about weather"}]
    ans = '{"steps": [{"id": "s1", "tool_id": "weather_lookup"}]}'
    nll, n, hit = scorer.answer_scores(msgs, ans)
    assert nll == pytest.approx(-scorer.continuation_logprobs(msgs, [ans])[0], abs=1e-3)
    prompt = scorer.prompt_ids(msgs)
    ids = scorer.tok(ans + scorer.end, add_special_tokens=False)["input_ids"]
    assert n == len(ids)
    with torch.no_grad():
        logits = scorer.model(input_ids=torch.tensor([prompt + ids])).logits[0]
    pred = logits[len(prompt) - 1: len(prompt) + len(ids) - 1].argmax(-1).tolist()
    assert hit == sum(int(p == t) for p, t in zip(pred, ids, strict=True))


def test_evaluate_model_reports_public_metrics_per_task(scorer):
    from training.evaluate import EvalSizes, evaluate_model

    summary, rows = evaluate_model(scorer, split="test", sizes=EvalSizes(3, -1, 4, 1, max_new_tokens=24))
    for k in ("acc@1", "acc@5", "mrr", "accuracy", "fpr", "precision", "recall", "step_validity",
              "dependency_correctness", "executability", "node_f1", "edge_f1", "exact_match"):
        assert k in summary and 0.0 <= summary[k] <= 1.0, k
    assert summary["eval_n/tool_selection"] == 3 and summary["eval_n/timing_judgment"] == 4
    assert "eval_n/tool_retrieval" not in summary  # skipped (-1), and the test split has no retrieval file
    by_task = {}
    for r in rows:
        by_task.setdefault(r["task"], []).append(r)
    assert [r["sample_id"] for r in by_task["tool_selection"]] == ["ts-test-0001", "ts-test-0002", "ts-test-0003"]
    sel = by_task["tool_selection"][0]
    assert sel["gold"] and len(sel["pred"]) == 5 and sel["ok"] == (sel["pred"][0] in sel["gold"])
    acc = sum(r["ok"] for r in by_task["timing_judgment"]) / 4
    assert summary["accuracy"] == pytest.approx(acc)
    assert isinstance(by_task["task_planning"][0]["raw"], str)


def test_compare_stores_method_runs_with_eval_and_continual_metrics(tiny_dir, tmp_path, monkeypatch):
    from training import pipeline
    from training.compare import run_compare

    pipeline.BASE_LOSS_CACHE.clear()

    monkeypatch.setenv("SAGE_TUI_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(x) + "\n" for x in tiny_dialogs(16)))
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(f'name = "tiny"\n[model]\nbase = "{tiny_dir}"\nmax_seq_len = 128\n'
                   f'[data]\ntrain = "{data}"\n[train]\nbatch_size = 4\nlr = 0.01\n'
                   '[coreset]\nbudget = 0.5\nembed_model = "tfidf"\n[continual]\nbuffer_size = 8\n'
                   '[eval]\ntool_selection = 2\ntool_retrieval = -1\ntiming_judgment = 2\ntask_planning = 1\n'
                   'max_new_tokens = 8\nplan_scored = 2\ntiming_split = "test_extended"\n')
    store = RunStore(tmp_path / "runs.db")
    runs = run_compare(str(cfg), store, methods=["A", "B1", "C", "D", "R"], log=lambda s: None)
    assert [r["config"]["method"] for r in runs] == ["A", "B1", "C", "D", "R"]
    for r in runs:
        run = store.get_run(r["run_id"])
        assert run["method"] == r["config"]["method"] and run["status"] == "completed"
        final = store.final_metrics(r["run_id"])
        for k in ("acc@1", "mrr", "accuracy", "fpr", "executability", "samples_used", "train_seconds",
                  "tokens_per_second", "peak_memory_mb"):
            assert k in final and k in r["metrics"], (r["config"]["method"], k)
        assert len(store.sample_results(r["run_id"])) == 7  # 2 + 2 + 1 generated + 2 scored plans
        assert {"plan_token_acc", "plan_nll", "ci95/acc@1"} <= set(final)
        assert {x["sample_id"][:6] for x in store.sample_results(r["run_id"]) if x["sample_id"].startswith("tj-")} == {"tj-ext"}
    by = {r["config"]["method"]: r for r in runs}
    assert by["A"]["metrics"]["samples_used"] == 16 and by["R"]["metrics"]["samples_used"] == 8
    assert by["B1"]["metrics"]["samples_used"] == 8 and by["D"]["metrics"]["samples_used"] == 8
    # the base model's per-sample losses are computed once (B1) and reused (D: hybrid = loss + diversity)
    assert store.final_metrics(by["B1"]["run_id"])["coreset_scored"] == 16
    assert store.final_metrics(by["D"]["run_id"])["coreset_cached"] == 16
    assert store.final_metrics(by["D"]["run_id"])["coreset_scored"] == 0
    for m in ("C", "D"):
        final = store.final_metrics(by[m]["run_id"])
        assert {"forgetting", "backward_transfer"} <= set(final), m
    from training.compare import compare_summary

    md = compare_summary(store, store.get_run(by["C"]["run_id"])["parent_id"])
    lines = md.splitlines()
    assert sum(line.startswith(("| A |", "| B1 |", "| C |", "| D |", "| R |")) for line in lines) == 5 + 4
    assert "± " in md and "| method vs A |" in md
    from typer.testing import CliRunner

    from sage_tui.cli import app

    parent = store.get_run(by["C"]["run_id"])["parent_id"]
    res = CliRunner().invoke(app, ["train", "compare", "--summary", parent, "--db", str(tmp_path / "runs.db")])
    assert res.exit_code == 0 and res.stdout.strip() == md.strip()
    res = CliRunner().invoke(app, ["train", "compare", "--summary", parent, "--baseline", "A", "--baseline", "R",
                                   "--db", str(tmp_path / "runs.db")])
    assert res.exit_code == 0 and "| method vs R |" in res.stdout and "| method vs A |" in res.stdout
    vs_r = res.stdout.split("| method vs R |", 1)[1].splitlines()
    assert sum(line.startswith(("| A |", "| B1 |", "| C |", "| D |")) for line in vs_r) == 4  # R itself has no row
    res = CliRunner().invoke(app, ["train", "compare", "--summary", parent, "--baseline", "Z",
                                   "--db", str(tmp_path / "runs.db")])
    assert res.exit_code == 2, res.output
    res = CliRunner().invoke(app, ["train", "compare", "--summary", "no-such-run", "--db", str(tmp_path / "runs.db")])
    assert res.exit_code == 4, res.output
    c = by["C"]["run_id"]
    assert {"forgetting", "backward_transfer"} <= set(store.final_metrics(c))
    chunk = [m for m in store.metrics(c) if m["name"].startswith("chunk_acc/")]
    assert sorted({(m["name"], m["step"]) for m in chunk}) == [
        ("chunk_acc/timing_judgment", 1), ("chunk_acc/tool_selection", 0), ("chunk_acc/tool_selection", 1)]


def test_prefix_cache_scores_equal_full_forward(tiny_dir):
    """`prefix_cache`: prompts sharing a long system text reuse the KV of the shared prefix; every score equals
    the plain computation (the second prompt of a family builds the prefix, later ones reuse it)."""
    from training.evaluate import load_scorer

    plain = load_scorer(str(tiny_dir), threads=1)
    cached = load_scorer(str(tiny_dir), threads=1)
    cached.prefix_cache = True
    system = "You pick tools for an agent. " * 12  # ~100+ shared tokens
    prompts = [[{"role": "system", "content": system}, {"role": "user", "content": f"request {i} about weather {i * 3}"}]
               for i in range(4)]
    conts = ["weather_lookup", "send_email", "flight_search"]
    for msgs in prompts:
        assert cached.continuation_logprobs(msgs, conts) == pytest.approx(plain.continuation_logprobs(msgs, conts), abs=1e-4)
        a, b = cached.answer_scores(msgs, '{"steps": []}'), plain.answer_scores(msgs, '{"steps": []}')
        assert a[0] == pytest.approx(b[0], abs=1e-3) and a[1:] == b[1:]
    assert cached._prefixes  # the family prefix was built and used
    (prefix, _), = cached._prefixes.values()
    assert len(prefix) >= cached.PREFIX_MIN and prefix == plain.prompt_ids(prompts[0])[: len(prefix)]
    # an identical prompt scored again (the prefix may not reach into the answer): still exact
    assert cached.answer_scores(prompts[0], "x")[0] == pytest.approx(plain.answer_scores(prompts[0], "x")[0], abs=1e-3)


def test_external_sets_take_seal_tools_test_file_and_spread_the_rows(tmp_path):
    from planning_support import TOOLS

    from core.errors import NotFoundError
    from training.evaluate import load_external

    (tmp_path / "catalog.jsonl").write_text("".join(json.dumps(t) + "\n" for t in TOOLS))
    rows = [{"id": f"{'in' if i < 10 else 'out'}-{i}", "task": "tool_retrieval", "instruction": f"get the weather {i}",
             "candidate_tools": None, "gold": {"tools": ["get_weather"]}} for i in range(20)]
    with pytest.raises(NotFoundError, match="tool_retrieval.jsonl"):
        load_external(tmp_path)
    (tmp_path / "tool_retrieval_test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    name, catalog, got = load_external(tmp_path, 4)
    assert name == tmp_path.name and "get_weather" in catalog
    assert [r["id"] for r in got] == ["in-0", "in-5", "out-10", "out-15"]  # both halves, not the first 4 rows
    assert len(load_external(tmp_path)[2]) == 20
