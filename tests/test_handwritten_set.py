"""The hand-written planning test set (assets/handwritten/plans.jsonl): valid gold, the promised coverage,
no overlap with the generated data, a loader that names file/line/field, and an eval path that works."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from core.catalog import load_catalog
from core.errors import DataError, NotFoundError
from core.handwritten import (
    NO_TOOL_KINDS,
    confirm_path,
    gold_with_alternatives,
    handwritten_path,
    load_handwritten,
    normalize_goal,
    to_samples,
)

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "assets" / "datasets"
MIN_BUCKETS = {0: 20, 1: 45, 2: 55, 3: 35, 4: 15}  # intents -> minimum items (0 = needs no tool)
CATEGORIES = 12
NEAR_DUPLICATE = 0.6  # token-set Jaccard from which a goal counts as a near-duplicate of a generated row


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


# per file: the coverage it promises (minimum items per intent count, total, categories, tag floors)
COVERAGE = {
    "plans": {"buckets": MIN_BUCKETS, "total": 170, "per_category": 15, "conditional": 10, "relative_date": 30,
              "pronoun": 30, "chains": 5},
    "confirm": {"buckets": {0: 8, 1: 20, 2: 30, 3: 20, 4: 10}, "total": 100, "per_category": 5, "conditional": 5,
                "relative_date": 12, "pronoun": 12, "chains": 2},
}


@pytest.fixture(scope="module")
def items(catalog) -> list[dict[str, Any]]:
    return load_handwritten(catalog=catalog)


@pytest.fixture(scope="module", params=["plans", "confirm"])
def each_file(request, catalog) -> tuple[str, list[dict[str, Any]]]:
    """Both hand-written files: the set (plans.jsonl) and the report-only confirmation set (confirm.jsonl)."""
    path = handwritten_path() if request.param == "plans" else confirm_path()
    return request.param, load_handwritten(path, catalog=catalog)


@pytest.fixture(scope="module")
def dataset_texts() -> list[str]:
    """Every instruction, message and user turn in assets/datasets/** (all four splits)."""
    texts: list[str] = []
    for f in sorted(DATASETS.glob("*/*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts += [row[k] for k in ("instruction", "message") if isinstance(row.get(k), str)]
            texts += [m["content"] for m in (row.get("messages") or []) + (row.get("context") or [])
                      if m.get("role") == "user" and isinstance(m.get("content"), str)]
    assert len(texts) > 5000
    return texts


def test_bundled_file_is_the_default() -> None:
    assert handwritten_path() == ROOT / "assets" / "handwritten" / "plans.jsonl"
    assert not str(handwritten_path()).startswith(str(DATASETS))  # outside the generated, byte-checked tree


def test_every_item_is_valid_gold(each_file, catalog) -> None:
    from jsonschema import Draft202012Validator

    from core.metrics.planning import gold_steps, plan_metrics

    name, items = each_file
    prefix = {"plans": "hw-", "confirm": "hc-"}[name]
    assert all(i["id"].startswith(prefix) for i in items)
    assert len({i["id"] for i in items}) == len(items)
    for it in items:
        steps = it["gold"]["steps"]
        ids = [s["id"] for s in steps]
        assert ids == list(range(1, len(steps) + 1)), it["id"]
        for s in steps:
            assert s["tool_id"] in catalog, (it["id"], s["tool_id"])
            # only earlier steps: topological order, hence acyclic
            assert all(d in ids and d < s["id"] for d in s["depends_on"]), it["id"]
            params = catalog.get(s["tool_id"]).parameters
            assert set(s["arguments"]) <= set(params["properties"]), (it["id"], s["tool_id"])
            errors = [e.message for e in Draft202012Validator(params).iter_errors(s["arguments"])]
            assert not errors, (it["id"], s["tool_id"], errors)
        for alts in (it.get("alternatives") or {}).values():
            assert all(a in catalog for a in alts), it["id"]
        if not it["needs_tool"]:
            assert steps == [] and it["intents"] == 0, it["id"]
            assert len(NO_TOOL_KINDS.intersection(it["tags"])) == 1, it["id"]
        else:
            # the metrics score the gold against itself perfectly: executable, valid DAG, exact match
            gold = gold_steps(it)
            m = plan_metrics(gold, gold, catalog)
            assert m["executability"] == m["exact_match"] == m["node_f1"] == m["edge_f1"] == 1.0, it["id"]


def test_coverage(each_file, catalog) -> None:
    name, items = each_file
    want = COVERAGE[name]
    assert len(items) >= want["total"]
    buckets = Counter(i["intents"] for i in items)
    for k, n in want["buckets"].items():
        assert buckets[k] >= n, (k, buckets)
    cats = Counter(catalog.get(s["tool_id"]).category for i in items for s in i["gold"]["steps"])
    assert len(cats) == CATEGORIES and min(cats.values()) >= want["per_category"], cats
    tool_items = [i for i in items if i["needs_tool"]]
    tags = Counter(t for i in tool_items for t in i["tags"])
    assert tags["implicit"] >= 0.25 * len(tool_items)
    assert all(tags[t] >= want[t] for t in ("conditional", "relative_date", "pronoun")), tags
    assert tags["dependency"] >= 0.3 * len(tool_items)
    # search -> book chains: a booking depends on the search for it
    chains = [i for i in tool_items for s in i["gold"]["steps"]
              if s["tool_id"].endswith("_book") and any(
                  i["gold"]["steps"][d - 1]["tool_id"] == s["tool_id"].replace("_book", "_search")
                  for d in s["depends_on"])]
    assert len(chains) >= want["chains"]


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def test_no_goal_leaks_into_or_from_generated_data(each_file, dataset_texts) -> None:
    _name, items = each_file
    norm = {normalize_goal(t) for t in dataset_texts}
    goals = [normalize_goal(i["goal"]) for i in items]
    assert not [g for g in goals if g in norm]
    blob = "\n".join(norm)
    # not a substring of a longer row either
    assert not [g for g in goals if len(g.split()) >= 6 and g in blob]
    sets = list({frozenset(t.split()) for t in norm})
    freq = Counter(tok for t in sets for tok in t)
    index: dict[str, list[int]] = {}
    for k, t in enumerate(sets):
        for tok in t:
            index.setdefault(tok, []).append(k)
    near = []
    for it, g in zip(items, goals, strict=True):
        toks = frozenset(g.split())
        # prefix filter: a row with Jaccard >= tau shares at least ceil(tau * n) of the goal's n tokens, so it
        # contains one of the goal's n - ceil(tau * n) + 1 rarest tokens
        keep = len(toks) - math.ceil(NEAR_DUPLICATE * len(toks)) + 1
        prefix = sorted(toks, key=lambda tok: freq.get(tok, 0))[:keep]
        cands = {k for tok in prefix for k in index.get(tok, ())}
        best = max((_jaccard(toks, sets[k]) for k in cands), default=0.0)
        if best >= NEAR_DUPLICATE:
            near.append((it["id"], round(best, 2)))
    assert not near, near


def test_no_near_duplicates_inside_the_set(each_file) -> None:
    _name, items = each_file
    toks = [frozenset(normalize_goal(i["goal"]).split()) for i in items]
    pairs = [(items[a]["id"], items[b]["id"]) for a in range(len(items)) for b in range(a + 1, len(items))
             if _jaccard(toks[a], toks[b]) >= 0.7]
    assert not pairs, pairs


def test_confirmation_set_is_new_to_the_set_and_to_the_query_map_s_training_texts(items, catalog) -> None:
    """confirm.jsonl was written after the map was trained: none of its goals is near the first set's goals or
    any paraphrase the map learned from (assets/selection/paraphrases.jsonl)."""
    confirm = load_handwritten(confirm_path(), catalog=catalog)
    seen = [normalize_goal(i["goal"]) for i in items]
    for line in (ROOT / "assets" / "selection" / "paraphrases.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        seen += [normalize_goal(t) for t in [row["intent"], *row["paraphrases"]]]
    seen_sets = [frozenset(t.split()) for t in seen]
    near = [(c["id"], round(j, 2)) for c in confirm for t in seen_sets
            if (j := _jaccard(frozenset(normalize_goal(c["goal"]).split()), t)) >= NEAR_DUPLICATE]
    assert not near, near


def _bad_copy(tmp_path: Path, lineno: int, edit) -> Path:
    lines = handwritten_path().read_text(encoding="utf-8").splitlines()
    obj = json.loads(lines[lineno - 1])
    edit(obj)
    lines[lineno - 1] = json.dumps(obj, ensure_ascii=False)
    p = tmp_path / "plans.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _first(pred) -> int:
    for n, line in enumerate(handwritten_path().read_text(encoding="utf-8").splitlines(), start=1):
        if pred(json.loads(line)):
            return n
    raise AssertionError("no such line")


def _steps(o: dict) -> list[dict]:
    return o["gold"]["steps"]


CORRUPTIONS = [
    # (which line, how to break it, the field the error must name)
    (lambda o: len(_steps(o)) >= 2, lambda o: _steps(o)[1].update(tool_id="teleport_now"),
     "gold.steps[1].tool_id"),
    (lambda o: any(s["tool_id"] == "hotel_search" for s in _steps(o)),
     lambda o: next(s for s in _steps(o) if s["tool_id"] == "hotel_search")["arguments"].update(nights="three"),
     "gold.steps[{i}].arguments.nights"),
    (lambda o: any(s["tool_id"] == "weather_get_forecast" for s in _steps(o)),
     lambda o: next(s for s in _steps(o) if s["tool_id"] == "weather_get_forecast")["arguments"].pop("city"),
     "gold.steps[{i}].arguments"),
    (lambda o: len(_steps(o)) >= 2, lambda o: _steps(o)[0].update(depends_on=[2]), "gold.steps[0].depends_on"),
    (lambda o: len(_steps(o)) >= 2, lambda o: _steps(o)[1].update(depends_on=[2]), "gold.steps[1].depends_on"),
    (lambda o: not o["needs_tool"], lambda o: _steps(o).append(
        {"id": 1, "tool_id": "web_search", "arguments": {"query": "x"}, "depends_on": []}), "gold.steps"),
    (lambda o: o["needs_tool"], lambda o: o.update(needs_tool=False), "needs_tool"),
    (lambda o: True, lambda o: o.pop("goal"), "goal"),
    (lambda o: True, lambda o: o["tags"].append("urgent"), "tags[{t}]"),
    (lambda o: any(s["depends_on"] for s in _steps(o)) and "{{step_" not in json.dumps(o),
     lambda o: [s.update(depends_on=[]) for s in _steps(o)], "tags"),
    (lambda o: bool(o.get("alternatives")), lambda o: o["alternatives"].update({"9": ["web_search"]}), "alternatives.9"),
    (lambda o: True, lambda o: o.update(intents=7), "intents"),
]


@pytest.mark.parametrize("case", range(len(CORRUPTIONS)))
def test_loader_names_file_line_and_field(tmp_path: Path, catalog, case: int) -> None:
    pick, edit, field = CORRUPTIONS[case]
    lineno = _first(pick)
    original = json.loads(handwritten_path().read_text(encoding="utf-8").splitlines()[lineno - 1])
    p = _bad_copy(tmp_path, lineno, edit)
    with pytest.raises(DataError) as exc:
        load_handwritten(p, catalog=catalog)
    e = exc.value
    tool_index = next((i for i, s in enumerate(_steps(original))
                       if s["tool_id"] in ("hotel_search", "weather_get_forecast")), 0)
    assert (e.path, e.line) == (str(p), lineno), str(e)
    assert e.field == field.format(i=tool_index, t=len(original["tags"])), str(e)
    assert str(p) in str(e) and f":{lineno}" in str(e)


def test_loader_rejects_bad_json_and_duplicates(tmp_path: Path, catalog) -> None:
    lines = handwritten_path().read_text(encoding="utf-8").splitlines()
    p = tmp_path / "plans.jsonl"
    p.write_text("\n".join([lines[0], '{"id": "hw-999", "goal": ', *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_handwritten(p, catalog=catalog)
    assert (exc.value.path, exc.value.line) == (str(p), 2)
    p.write_text("\n".join([lines[0], lines[1], lines[0]]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_handwritten(p, catalog=catalog)
    assert (exc.value.line, exc.value.field) == (3, "id")
    dup_goal = json.loads(lines[0]) | {"id": "hw-999"}
    p.write_text("\n".join([lines[0], json.dumps(dup_goal)]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_handwritten(p, catalog=catalog)
    assert (exc.value.line, exc.value.field) == (2, "goal")


def test_split_converts_to_eval_samples(items) -> None:
    from core.datasets import SPLITS, default_dataset_path, load_dataset

    assert "handwritten" in SPLITS
    n_tool = sum(i["needs_tool"] for i in items)
    for task, n in (("task_planning", n_tool), ("tool_retrieval", n_tool), ("timing_judgment", len(items))):
        ds = load_dataset(default_dataset_path(task, "handwritten"), task=task)
        assert ds.task == task and len(ds) == n
        assert ds.path.endswith("handwritten/plans.jsonl")  # the runner stores split = "handwritten"
    plan = load_dataset(handwritten_path()).samples  # no task: planning
    by_id = {i["id"]: i for i in items}
    assert all(s["task"] == "task_planning" and s["gold"]["steps"] == by_id[s["id"]]["gold"]["steps"] for s in plan)
    assert all(s["candidate_tools"] is None for s in plan)
    timing = to_samples(items, "timing_judgment")
    assert sum(not s["gold"]["should_call_tool"] for s in timing) == sum(not i["needs_tool"] for i in items)
    with pytest.raises(NotFoundError):
        default_dataset_path("tool_selection", "handwritten")
    with pytest.raises(NotFoundError):
        to_samples(items, "tool_selection")


def test_generated_splits_still_load() -> None:
    from core.datasets import default_dataset_path, load_dataset

    ds = load_dataset(default_dataset_path("task_planning", "test"), task="task_planning")
    assert len(ds) == 50 and ds.samples[0]["id"].startswith("tp-test-")


def test_planning_eval_runs_on_the_set(items, catalog, store) -> None:
    """The planning evaluator and runner take the converted set unchanged (an oracle stands in for a planner)."""
    from core.datasets import load_dataset
    from core.evaluation.planning import PlanningEvaluator
    from core.evaluation.runner import run_evaluation
    from core.planning.types import Plan, PlanStep

    gold = {i["goal"]: i["gold"]["steps"] for i in items}

    class Oracle:
        name = "oracle"
        uses_llm = False

        def describe(self) -> dict[str, Any]:
            return {"planner": self.name}

        def plan(self, goal: str, candidates=None) -> Plan:
            steps = [PlanStep.from_dict(s) for s in gold[goal]]
            return Plan(goal=goal, steps=steps, planner=self.name, candidates=[s.tool_id for s in steps])

    ds = load_dataset(handwritten_path(), task="task_planning")
    res = run_evaluation(PlanningEvaluator(Oracle(), catalog, None), ds, store, catalog_hash=catalog.hash, limit=25)
    assert res.n == 25
    assert res.metrics["exact_match"] == res.metrics["executability"] == res.metrics["node_f1"] == 1.0
    assert store.get_run(res.run_id)["status"] == "completed"


def test_alternative_aware_gold(items) -> None:
    sample = next(s for s in to_samples(items) if s.get("alternatives"))
    sid, alts = next(iter(sample["alternatives"].items()))
    gold = sample["gold"]["steps"]
    pred = [alts[0] if str(s["id"]) == sid else s["tool_id"] for s in gold]
    swapped = gold_with_alternatives(sample, pred)
    assert [s["tool_id"] for s in swapped] == pred
    assert gold_with_alternatives(sample, [s["tool_id"] for s in gold]) == gold  # the gold tool itself stays
    assert gold_with_alternatives(sample, ["web_search"]) == gold


def test_dev_and_test_subsets_split_the_set_by_id_and_hash_apart(items) -> None:
    from core.datasets import load_split
    from core.handwritten import in_subset

    whole = load_split("task_planning", "handwritten")
    dev, test = load_split("task_planning", "handwritten-dev"), load_split("task_planning", "handwritten-test")
    assert len(dev) + len(test) == len(whole) and len(dev) and len(test)
    assert all(int(s["id"].split("-")[1]) % 5 == 0 for s in dev.samples)
    assert not {s["id"] for s in dev.samples} & {s["id"] for s in test.samples}
    assert len({whole.sha256, dev.sha256, test.sha256}) == 3  # stored runs of the subsets never mix
    assert (dev.split, test.split, whole.split) == ("handwritten-dev", "handwritten-test", None)
    assert in_subset("hw-010", "dev") and in_subset("hw-011", "test") and in_subset("hw-011", "all")
    # the confirmation set is report-only: no id of it is in a design subset
    assert in_subset("hc-010", "test") and not in_subset("hc-010", "dev") and in_subset("hc-010", "all")
    confirm = load_split("task_planning", "handwritten-confirm")
    assert confirm.path.endswith("handwritten/confirm.jsonl") and confirm.samples
    assert all(s["id"].startswith("hc-") for s in confirm.samples)
    assert confirm.split == "handwritten-confirm"  # stored with its metrics; the file's folder would say "handwritten"
    from core.datasets import default_dataset_path

    with pytest.raises(NotFoundError, match="load_split"):  # a path alone would silently mean the whole set
        default_dataset_path("task_planning", "handwritten-test")


def test_planning_evaluators_use_each_planner_s_default_selector_unless_one_is_named(catalog, monkeypatch) -> None:
    """`sage-tui eval --planner grounded` must score the planner as the plan screen runs it (grounded retrieves
    with two_stage by default); a named --selector feeds every planner."""
    from core.evaluation.planning import build_evaluators
    from core.planning.greedy import GreedyPlanner

    (ev,) = build_evaluators(catalog, {"planners": ["greedy"]})
    assert ev.config["selector"]["name"] == "keyword"
    monkeypatch.setattr(GreedyPlanner, "default_selector", "two_stage")
    (ev,) = build_evaluators(catalog, {"planners": ["greedy"]})
    assert ev.config["selector"]["name"] == "two_stage"
    (ev,) = build_evaluators(catalog, {"planners": ["greedy"], "selectors": ["keyword"]})
    assert ev.config["selector"]["name"] == "keyword"
