"""The bundled catalog and datasets are exactly what the seeded generator produces."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from core.generate import DEFAULT_SEED, build_all
from core.generate.catalog_gen import CATEGORIES, generate_catalog
from core.generate.dataset_gen import generate_datasets

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
JSON_TYPES = {"string", "integer", "number", "boolean", "array"}


@pytest.fixture(scope="module")
def catalog() -> list[dict]:
    return [
        json.loads(line)
        for line in (ASSETS / "catalog" / "tools.jsonl").read_text(encoding="utf-8").splitlines()
    ]


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    manifest = build_all(tmp_path, seed=DEFAULT_SEED)
    committed = json.loads((ASSETS / "datasets" / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest == committed
    assert (tmp_path / "datasets" / "MANIFEST.json").read_bytes() == (
        ASSETS / "datasets" / "MANIFEST.json"
    ).read_bytes()
    for rel in manifest["files"]:
        fresh = (tmp_path / "datasets" / rel).resolve()
        bundled = (ASSETS / "datasets" / rel).resolve()
        assert fresh.read_bytes() == bundled.read_bytes(), rel


def test_generation_is_deterministic_in_memory() -> None:
    a = generate_catalog(DEFAULT_SEED)
    assert a == generate_catalog(DEFAULT_SEED)
    da = generate_datasets(a, DEFAULT_SEED)
    db = generate_datasets(a, DEFAULT_SEED)
    assert da == db


def test_other_seed_changes_output() -> None:
    a, b = generate_catalog(1), generate_catalog(2)
    assert [t["tool_id"] for t in a] == [t["tool_id"] for t in b]
    assert [t["description"] for t in a] != [t["description"] for t in b]


def test_jsonl_format(catalog: list[dict]) -> None:
    raw = (ASSETS / "catalog" / "tools.jsonl").read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    first = raw.split(b"\n")[0].decode()
    assert list(json.loads(first)) == ["tool_id", "name", "category", "description", "parameters", "returns"]
    assert first == json.dumps(catalog[0], ensure_ascii=False)


def test_catalog_size_and_categories(catalog: list[dict]) -> None:
    assert len(catalog) >= 1200
    cats = Counter(t["category"] for t in catalog)
    assert set(cats) == set(CATEGORIES)
    assert len(cats) == 12
    assert min(cats.values()) >= 60


def test_tool_ids_unique_snake_case(catalog: list[dict]) -> None:
    ids = [t["tool_id"] for t in catalog]
    assert len(ids) == len(set(ids))
    assert all(SNAKE.match(i) for i in ids)


def test_tools_are_described_and_typed(catalog: list[dict]) -> None:
    types_seen: Counter[str] = Counter()
    for t in catalog:
        assert len(t["description"].split()) >= 6, t["tool_id"]
        assert not re.search(r"\[[A-Za-z_]+\]|\{[a-z_@]+\}", t["description"] + t["name"] + t["returns"]), t[
            "tool_id"
        ]
        assert not re.match(r"^Tool \d+", t["name"])
        params = t["parameters"]
        assert params["type"] == "object"
        assert "required" in params and isinstance(params["required"], list)
        assert set(params["required"]) <= set(params["properties"])
        for name, spec in params["properties"].items():
            assert SNAKE.match(name), (t["tool_id"], name)
            assert spec["type"] in JSON_TYPES, (t["tool_id"], name)
            assert spec.get("description"), (t["tool_id"], name)
            assert "[" not in spec["description"] or "]" not in spec["description"], (t["tool_id"], name)
            types_seen["enum" if "enum" in spec else spec["type"]] += 1
            if spec["type"] == "array":
                assert "items" in spec
    assert set(types_seen) == {"string", "integer", "number", "boolean", "enum", "array"}


def test_descriptions_mostly_distinct(catalog: list[dict]) -> None:
    descs = Counter(t["description"] for t in catalog)
    assert len(descs) >= 0.95 * len(catalog)


def test_near_duplicate_families_exist(catalog: list[dict]) -> None:
    by_prefix: dict[tuple[str, str], list[str]] = defaultdict(list)
    for t in catalog:
        by_prefix[(t["category"], t["tool_id"].split("_")[0])].append(t["tool_id"])
    for cat in CATEGORIES:
        fams = [ids for (c, _), ids in by_prefix.items() if c == cat and len(ids) >= 3]
        assert len(fams) >= 3, cat
    ids = {t["tool_id"] for t in catalog}
    for family in (
        {"weather_get_current", "weather_get_forecast", "weather_get_history", "air_quality_get_current"},
        {"email_send", "email_draft", "email_schedule"},
        {"stock_get_quote", "stock_get_price_history", "stock_get_news"},
        {"note_delete", "note_archive", "note_restore"},
    ):
        assert family <= ids


def test_manifest_lists_every_file() -> None:
    manifest = json.loads((ASSETS / "datasets" / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == DEFAULT_SEED
    on_disk = {p.relative_to(ASSETS / "datasets").as_posix() for p in (ASSETS / "datasets").glob("*/*.jsonl")}
    assert on_disk == {k for k in manifest["files"] if not k.startswith("..")}
    for rel, info in manifest["files"].items():
        lines = (ASSETS / "datasets" / rel).read_text(encoding="utf-8").splitlines()
        assert len(lines) == info["count"], rel


def test_split_sizes() -> None:
    def count(rel: str) -> int:
        return len((ASSETS / "datasets" / rel).read_text(encoding="utf-8").splitlines())

    assert count("test/tool_selection.jsonl") == 75
    assert count("test/task_planning.jsonl") == 50
    assert count("test/timing_judgment.jsonl") == 30
    assert count("test_extended/tool_selection.jsonl") >= 500
    assert count("test_extended/tool_retrieval.jsonl") >= 500
    assert count("test_extended/task_planning.jsonl") >= 200
    assert count("test_extended/timing_judgment.jsonl") >= 300
    for task in ("tool_selection", "tool_retrieval", "task_planning", "timing_judgment"):
        assert count(f"validation/{task}.jsonl") >= 100
    rows = [
        json.loads(line)
        for line in (ASSETS / "datasets" / "train" / "dialogs.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(rows) >= 4000
    per_task = Counter(r["task"] for r in rows)
    assert len(per_task) == 4 and min(per_task.values()) >= 1000
