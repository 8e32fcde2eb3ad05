"""Deterministic generation of the tool catalog from the vocabularies in ``core.generate.vocab``.

The *specs* (tool ids, parameters, intents, families) do not depend on the seed; the seed only
chooses between equivalent description phrasings. ``tool_specs()`` exposes the internal data
(including the verb-phrase intents and entity kinds) that the dataset generator needs.
"""

from __future__ import annotations

import importlib
import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

CATEGORIES: tuple[str, ...] = (
    "environment",
    "finance",
    "communication",
    "travel",
    "productivity",
    "commerce",
    "health",
    "media",
    "knowledge",
    "developer",
    "smart_home",
    "data",
)

_TOKEN = re.compile(r"\[([A-Za-z0-9_]+)\]")
_SLOT = re.compile(r"\{([a-z0-9_@]+)\}")
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def _fill(template: str, subject: dict[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in subject:
            raise KeyError(f"token [{key}] not provided by subject {subject.get('key')!r} in {template!r}")
        return str(subject[key])

    return _TOKEN.sub(sub, template)


def _schema(params: list[dict[str, Any]]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for prm in params:
        spec: dict[str, Any] = {"type": prm["type"], "description": prm["description"]}
        if prm.get("enum"):
            spec["enum"] = list(prm["enum"])
        if prm.get("items"):
            spec["items"] = {"type": prm["items"]}
        if prm.get("minimum") is not None:
            spec["minimum"] = prm["minimum"]
        if prm.get("maximum") is not None:
            spec["maximum"] = prm["maximum"]
        if prm.get("default") is not None:
            spec["default"] = prm["default"]
        props[prm["name"]] = spec
    return {"type": "object", "properties": props, "required": [q["name"] for q in params if q["required"]]}


@lru_cache(maxsize=1)
def _specs_cached() -> tuple[dict[str, Any], ...]:
    specs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for category in CATEGORIES:
        mod = importlib.import_module(f"core.generate.vocab.{category}")
        assert mod.CATEGORY == category, mod
        for fam_idx, fam in enumerate(mod.FAMILIES):
            for subj in fam["subjects"]:
                for asp in fam["aspects"]:
                    if fam.get("crud") and asp["key"] not in subj["actions"]:
                        continue
                    if asp["key"] in subj.get("skip", ()):
                        continue
                    if "only" in subj and asp["key"] not in subj["only"]:
                        continue
                    raw = asp["params"](subj) if callable(asp["params"]) else asp["params"]
                    params = raw if asp.get("own_params") else [*subj.get("params", []), *raw]
                    names = [q["name"] for q in params]
                    if len(set(names)) != len(names):
                        raise ValueError(f"duplicate parameter in {subj['key']}/{asp['key']}: {names}")
                    tid = _fill(asp["id"], subj)
                    if not _SNAKE.match(tid):
                        raise ValueError(f"tool id {tid!r} is not snake_case")
                    if tid in seen:
                        raise ValueError(f"duplicate tool id {tid!r}")
                    seen.add(tid)
                    ref = subj.get("ref", {}).get("name")
                    vps = []
                    for v in asp["vp"]:
                        text = _fill(v, subj)
                        if ref:
                            text = text.replace("{@}", "{" + ref + "}")
                        slots = set(_SLOT.findall(text))
                        unknown = slots - set(names)
                        missing = {q["name"] for q in params if q["required"]} - slots
                        if unknown or missing:
                            raise ValueError(f"{tid}: intent {text!r} unknown={unknown} missing={missing}")
                        vps.append(text)
                    descs = [_fill(d, subj) for d in asp["desc"]]
                    multi = len(fam["subjects"]) > 1
                    specs.append(
                        {
                            "tool_id": tid,
                            "name": _fill(asp["name"], subj),
                            "category": category,
                            "descs": descs,
                            "params": params,
                            "returns": _fill(asp["returns"], subj),
                            "vps": vps,
                            "role": asp.get("role", "action"),
                            "noun": subj.get("noun", ""),
                            "subject_group": f"{category}:{fam_idx}:{subj['key']}"
                            if multi
                            else f"{category}:prefix:{tid.split('_')[0]}",
                            "aspect_group": f"{category}:{fam_idx}:{asp['key']}" if multi else None,
                        }
                    )
    return tuple(specs)


def tool_specs() -> list[dict[str, Any]]:
    """Internal, seed-independent tool specs in catalog order (do not mutate)."""
    return list(_specs_cached())


def spec_index() -> dict[str, dict[str, Any]]:
    return {s["tool_id"]: s for s in _specs_cached()}


def generate_catalog(seed: int = 7) -> list[dict[str, Any]]:
    """The public catalog: one dict per tool with tool_id, name, category, description, parameters, returns."""
    rng = random.Random(f"catalog:{seed}")
    out: list[dict[str, Any]] = []
    for s in _specs_cached():
        desc = rng.choice(s["descs"])
        out.append(
            {
                "tool_id": s["tool_id"],
                "name": s["name"],
                "category": s["category"],
                "description": desc,
                "parameters": _schema(s["params"]),
                "returns": s["returns"],
            }
        )
    return out


def dumps_jsonl(rows: list[dict[str, Any]]) -> str:
    import json

    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in rows)


def write_catalog(path: str | Path, seed: int = 7) -> list[dict[str, Any]]:
    rows = generate_catalog(seed)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(dumps_jsonl(rows))
    return rows
