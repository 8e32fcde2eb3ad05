"""No evaluation sample leaks into training, and the gold data is well-formed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from core.generate import entities as E
from core.generate import templates as T
from core.generate.dataset_gen import normalize

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DS = ASSETS / "datasets"
EVAL_SPLITS = ("test", "test_extended", "validation")
TYPE_CHECK = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
}


def _rows(rel: str) -> list[dict]:
    return [json.loads(line) for line in (DS / rel).read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def catalog() -> dict[str, dict]:
    lines = (ASSETS / "catalog" / "tools.jsonl").read_text(encoding="utf-8").splitlines()
    return {t["tool_id"]: t for t in map(json.loads, lines)}


@pytest.fixture(scope="module")
def train() -> list[dict]:
    return _rows("train/dialogs.jsonl")


@pytest.fixture(scope="module")
def evals() -> dict[str, list[dict]]:
    return {
        p.relative_to(DS).as_posix(): _rows(p.relative_to(DS).as_posix())
        for split in EVAL_SPLITS
        for p in sorted((DS / split).glob("*.jsonl"))
    }


def _text(row: dict) -> str:
    return row.get("instruction") or row["message"]


def test_no_eval_instruction_in_training(train: list[dict], evals: dict[str, list[dict]]) -> None:
    train_user = {normalize(m["content"]) for r in train for m in r["messages"] if m["role"] == "user"}
    leaked = [
        (rel, r["id"]) for rel, rows in evals.items() for r in rows if normalize(_text(r)) in train_user
    ]
    assert not leaked, leaked[:5]


def test_long_eval_instructions_not_substrings_of_training(
    train: list[dict], evals: dict[str, list[dict]]
) -> None:
    blob = "\n".join(normalize(m["content"]) for r in train for m in r["messages"] if m["role"] == "user")
    long_ones = [normalize(r["instruction"]) for rows in evals.values() for r in rows if "instruction" in r]
    assert not [s for s in long_ones if len(s.split()) >= 8 and s in blob]


def test_eval_splits_do_not_repeat_each_other(evals: dict[str, list[dict]]) -> None:
    seen = Counter(
        normalize(json.dumps(r.get("context", [])) + "|" + _text(r)) for rows in evals.values() for r in rows
    )
    assert max(seen.values()) == 1


def test_template_sets_disjoint() -> None:
    train_t = {normalize(t) for t in T.all_train_templates()}
    test_t = {normalize(t) for t in T.all_test_templates()}
    assert not train_t & test_t
    for tr, te in ((T.SELECTION_TRAIN, T.SELECTION_TEST), (T.TIMING_WRAP_TRAIN, T.TIMING_WRAP_TEST)):
        assert not {i for i, _ in tr} & {i for i, _ in te}


def test_eval_rows_use_test_templates(train: list[dict], evals: dict[str, list[dict]]) -> None:
    for rows in evals.values():
        assert all("-te-" in r["template_id"] for r in rows)


def test_entity_pools_disjoint() -> None:
    assert set(E.TRAIN_POOLS) == set(E.TEST_POOLS)
    for kind in E.TRAIN_POOLS:
        tr, te = set(E.TRAIN_POOLS[kind]), set(E.TEST_POOLS[kind])
        assert tr and te, kind
        assert not tr & te, kind
    import random

    rng = random.Random(0)
    for kind in E.PROCEDURAL_KINDS:
        tr = {json.dumps(E.sample(kind, rng, "train")) for _ in range(300)}
        te = {json.dumps(E.sample(kind, rng, "test")) for _ in range(300)}
        assert not tr & te, kind
    for cat, concepts in T.CONCEPTS.items():
        assert not set(T.split_list(concepts, "train")) & set(T.split_list(concepts, "test")), cat


def test_timing_balanced(train: list[dict], evals: dict[str, list[dict]]) -> None:
    for rel, rows in evals.items():
        if rel.endswith("timing_judgment.jsonl"):
            c = Counter(r["gold"]["should_call_tool"] for r in rows)
            assert c[True] == c[False], rel
            kinds = Counter(r["kind"] for r in rows)
            assert {"general_knowledge", "result_in_context"} <= set(kinds), rel
    c = Counter(r["gold"]["should_call_tool"] for r in train if r["task"] == "timing_judgment")
    assert abs(c[True] - c[False]) <= 1


def test_result_in_context_has_tool_turns(evals: dict[str, list[dict]]) -> None:
    rows = [r for r in evals["test_extended/timing_judgment.jsonl"] if r["kind"] == "result_in_context"]
    assert rows
    for r in rows:
        roles = [m["role"] for m in r["context"]]
        assert "tool" in roles and any(m.get("tool_calls") for m in r["context"])
        assert r["gold"] == {"should_call_tool": False, "tool": None}


def _ancestors(steps: list[dict]) -> dict[int, set[int]]:
    deps = {s["id"]: set(s["depends_on"]) for s in steps}
    anc: dict[int, set[int]] = {}
    for sid in sorted(deps):
        anc[sid] = set(deps[sid]).union(*(anc[d] for d in deps[sid])) if deps[sid] else set()
    return anc


def test_planning_gold_is_valid_dag_with_parallel_branches(
    catalog: dict[str, dict], evals: dict[str, list[dict]], train: list[dict]
) -> None:
    plans = [
        r["gold"]["steps"] for rel, rows in evals.items() if rel.endswith("task_planning.jsonl") for r in rows
    ]
    plans += [r["gold"]["steps"] for r in train if r["task"] == "task_planning"]
    parallel = fan_in = 0
    for steps in plans:
        assert 2 <= len(steps) <= 6
        ids = [s["id"] for s in steps]
        assert ids == list(range(1, len(steps) + 1))
        for s in steps:
            assert all(d < s["id"] for d in s["depends_on"])  # topological order => acyclic
            tool = catalog[s["tool_id"]]
            props, required = tool["parameters"]["properties"], tool["parameters"]["required"]
            assert set(required) <= set(s["arguments"]), (s["tool_id"], s["arguments"])
            for name, val in s["arguments"].items():
                assert name in props, (s["tool_id"], name)
                assert TYPE_CHECK[props[name]["type"]](val), (s["tool_id"], name, val)
                if "enum" in props[name]:
                    assert val in props[name]["enum"]
        anc = _ancestors(steps)
        if any(a != b and a not in anc[b] and b not in anc[a] for a in ids for b in ids):
            parallel += 1
        if any(len(s["depends_on"]) >= 2 for s in steps):
            fan_in += 1
    assert parallel >= 0.4 * len(plans)
    assert fan_in >= 0.2 * len(plans)
    test_plans = _rows("test/task_planning.jsonl")
    assert any(len(r["gold"]["steps"]) >= 5 for r in _rows("test_extended/task_planning.jsonl"))
    assert any(any(len(s["depends_on"]) >= 2 for s in r["gold"]["steps"]) for r in test_plans)


def test_gold_tools_exist_and_candidates_contain_gold(
    catalog: dict[str, dict], evals: dict[str, list[dict]], train: list[dict]
) -> None:
    for rel, rows in evals.items():
        for r in rows:
            gold = r["gold"]
            if "tools" in gold:
                tools = gold["tools"]
            elif "steps" in gold:
                tools = [s["tool_id"] for s in gold["steps"]]
            else:
                tools = [gold["tool"]] if gold["tool"] else []
            assert all(t in catalog for t in tools), (rel, r["id"])
            cands = r.get("candidate_tools")
            if rel.endswith("tool_retrieval.jsonl"):
                assert cands is None
            else:
                assert cands and all(c in catalog for c in cands)
                assert set(tools) <= set(cands), (rel, r["id"])
            if rel.endswith("tool_selection.jsonl"):
                assert 8 <= len(cands) <= 20
    for r in train:
        gold = r["gold"]
        tools = (
            gold.get("tools")
            or [s["tool_id"] for s in gold.get("steps", [])]
            or ([gold["tool"]] if gold.get("tool") else [])
        )
        assert all(t in catalog for t in tools)
        assert all(t in catalog for t in r["tools"])
        if r["task"] != "tool_retrieval":
            assert set(tools) <= set(r["tools"])


def test_selection_has_hard_negatives_and_multi_tool(
    evals: dict[str, list[dict]], catalog: dict[str, dict]
) -> None:
    rows = evals["test_extended/tool_selection.jsonl"]
    multi = [r for r in rows if len(r["gold"]["tools"]) > 1]
    assert 0.1 * len(rows) <= len(multi) <= 0.4 * len(rows)
    same_cat = [
        r
        for r in rows
        if sum(
            catalog[c]["category"] == catalog[r["gold"]["tools"][0]]["category"] for c in r["candidate_tools"]
        )
        >= 4
    ]
    assert len(same_cat) >= 0.8 * len(rows)


def test_training_dialogs_are_short_and_well_formed(train: list[dict]) -> None:
    for r in train:
        roles = [m["role"] for m in r["messages"]]
        assert roles[0] == "system" and "user" in roles and roles[-1] == "assistant"
        words = sum(len((m.get("content") or "").split()) for m in r["messages"])
        assert words < 200, r["id"]
        for m in r["messages"]:
            for call in m.get("tool_calls") or []:
                json.loads(call["function"]["arguments"])
        last_user = max(i for i, role in enumerate(roles) if role == "user")
        answer = json.loads(r["messages"][last_user + 1]["content"])  # the target right after the request
        assert answer == {**r["gold"], **({"reason": answer["reason"]} if "reason" in answer else {})}
    assert any(r["variant"] == "execution" for r in train)
