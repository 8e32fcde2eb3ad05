"""Deterministic generation of the agent datasets (training dialogs and evaluation splits).

Instructions are composed from tool intents (verb phrases in the vocabularies), phrasing
templates (``core.generate.templates``) and entity values (``core.generate.entities``).
Training uses only TRAIN templates and TRAIN entity pools; test, test_extended and validation
use only TEST templates and TEST pools, so no evaluation instruction can occur in training.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from core.generate import entities as E
from core.generate import templates as T
from core.generate.catalog_gen import CATEGORIES, dumps_jsonl, spec_index

SLOT = re.compile(r"\{([a-z0-9_]+)\}")
TASKS = ("tool_selection", "tool_retrieval", "task_planning", "timing_judgment")

# split name -> (file prefix used in ids, sizes per task)
EVAL_SPLITS: dict[str, tuple[str, dict[str, int]]] = {
    "test": ("test", {"tool_selection": 75, "task_planning": 50, "timing_judgment": 30}),
    "test_extended": (
        "ext",
        {"tool_selection": 500, "tool_retrieval": 500, "task_planning": 200, "timing_judgment": 300},
    ),
    "validation": (
        "val",
        {"tool_selection": 200, "tool_retrieval": 200, "task_planning": 100, "timing_judgment": 200},
    ),
}
TRAIN_SIZES = {"tool_selection": 1100, "tool_retrieval": 1100, "task_planning": 1100, "timing_judgment": 1100}
TASK_PREFIX = {"tool_selection": "ts", "tool_retrieval": "tr", "task_planning": "tp", "timing_judgment": "tj"}

SYSTEM = {
    "tool_selection": 'Pick the tool(s) that fulfil the request from the listed tools. Reply with JSON {"tools": [...]}.',
    "tool_retrieval": 'Find the tool(s) in the catalog that fulfil the request. Reply with JSON {"tools": [...]}.',
    "task_planning": 'Plan the request as tool steps (use "{{step_N}}" for earlier results). Reply with JSON {"steps": [...]}.',
    "timing_judgment": 'Decide if answering the last message needs a tool call. Reply with JSON {"should_call_tool": bool, "tool": id or null, "reason": "..."}.',
}


def normalize(text: str) -> str:
    """Lowercase, strip punctuation, collapse whitespace (the leakage-check normal form)."""
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(text.split())


def _compact(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        vals = [_fmt(v) for v in value]
        return vals[0] if len(vals) == 1 else ", ".join(vals[:-1]) + " and " + vals[-1]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _fill(template: str, values: dict[str, Any]) -> str:
    return SLOT.sub(lambda m: _fmt(values[m.group(1)]), template)


def _wrap(template: str, **parts: str) -> str:
    """Fill a wrapper: lowercase keys get the phrase, uppercase keys the capitalised phrase."""
    out = template
    for key, text in parts.items():
        out = out.replace("{" + key.upper() + "}", _cap(text)).replace("{" + key + "}", text)
    return out


class Generator:
    """Holds the catalog index and produces samples for one split with its own RNG."""

    def __init__(self, catalog: list[dict[str, Any]], seed: int) -> None:
        self.seed = seed
        specs = spec_index()
        self.catalog = catalog
        self.ids = [t["tool_id"] for t in catalog]
        self.id_set = set(self.ids)
        self.specs = {tid: specs[tid] for tid in self.ids if tid in specs}
        self.tool_by_id = {t["tool_id"]: t for t in catalog}
        self.by_cat: dict[str, list[str]] = {c: [] for c in CATEGORIES}
        for tid in self.specs:
            self.by_cat.setdefault(self.specs[tid]["category"], []).append(tid)
        groups: dict[str, list[str]] = {}
        for tid, s in self.specs.items():
            for key in (s["subject_group"], s["aspect_group"], f"{s['category']}:prefix:{tid.split('_')[0]}"):
                if key:
                    groups.setdefault(key, []).append(tid)
        self.siblings: dict[str, list[str]] = {}
        for tid, s in self.specs.items():
            sib: list[str] = []
            for key in (s["subject_group"], s["aspect_group"], f"{s['category']}:prefix:{tid.split('_')[0]}"):
                for other in groups.get(key, []) if key else []:
                    if other != tid and other not in sib:
                        sib.append(other)
            self.siblings[tid] = sib
        self.params = {tid: {q["name"]: q for q in s["params"]} for tid, s in self.specs.items()}
        self.lookups = [
            t for t, s in self.specs.items() if s["role"] == "lookup" and self._entity_slots_any(t)
        ]
        self.actions = [t for t, s in self.specs.items() if s["role"] in ("action", "create")]
        self.searches = [t for t, s in self.specs.items() if s["role"] == "search"]
        self.sinks = [s for s in T.SINKS if s["tool"] in self.specs]
        self.crud_chain = [
            t[: -len("_search")]
            for t in self.specs
            if t.endswith("_search") and t[: -len("_search")] + "_get" in self.specs
        ]
        self.book_chain = [
            t[: -len("_search")]
            for t in self.specs
            if t.endswith("_search") and t[: -len("_search")] + "_book" in self.specs
        ]

    # ------------------------------------------------------------ intents
    def _entity_slots_any(self, tid: str) -> bool:
        return any(self._entity_slots(tid, vp) for vp in self.specs[tid]["vps"])

    def _entity_slots(self, tid: str, vp: str) -> list[str]:
        return [
            s
            for s in SLOT.findall(vp)
            if E.is_entity_kind(self.params[tid][s]["kind"]) and not self.params[tid][s].get("enum")
        ]

    def vps(self, tid: str, split: str) -> list[str]:
        """Train uses intents 0, 2, 4...; evaluation uses 1, 3, 5... (all of them when there is only one)."""
        v = self.specs[tid]["vps"]
        if len(v) < 2:
            return list(v)
        return v[0::2] if split == "train" else v[1::2]

    def value(self, prm: dict[str, Any], rng: random.Random, split: str) -> Any:
        if prm.get("enum"):
            return rng.choice(prm["enum"])
        kind = prm.get("kind")
        if prm["type"] == "boolean":
            return rng.choice([True, False])
        if kind and E.is_entity_kind(kind):
            return E.sample(kind, rng, split)
        if prm["type"] in ("integer", "number"):
            return E.number(kind, prm["type"], rng, prm.get("minimum"), prm.get("maximum"))
        raise ValueError(f"no value source for parameter {prm['name']!r} (kind {kind!r})")

    def render(
        self,
        tid: str,
        rng: random.Random,
        split: str,
        fixed: dict[str, Any] | None = None,
        vp: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """An intent of the tool with slot values; returns (phrase, arguments)."""
        vp = vp or rng.choice(self.vps(tid, split))
        args: dict[str, Any] = {}
        for slot in SLOT.findall(vp):
            if slot in args:
                continue
            if fixed and slot in fixed:
                args[slot] = fixed[slot]
                continue
            prm = self.params[tid][slot]
            for _ in range(20):
                val = self.value(prm, rng, split)
                if val not in args.values():
                    break
            args[slot] = val
        if "start_date" in args and "end_date" in args and args["start_date"] > args["end_date"]:
            args["start_date"], args["end_date"] = args["end_date"], args["start_date"]
        return _fill(vp, args), args

    # ------------------------------------------------------------ candidates
    def candidates(self, gold: list[str], rng: random.Random, total: int, max_sib: int) -> list[str]:
        cands = list(gold)
        pool: list[str] = []
        for g in gold:
            sib = [s for s in self.siblings[g] if s not in cands]
            rng.shuffle(sib)
            pool += sib[:max_sib]
        for s in pool:
            if len(cands) >= total:
                break
            if s not in cands:
                cands.append(s)
        cat = self.specs[gold[0]]["category"]
        same = [t for t in self.by_cat[cat] if t not in cands]
        rng.shuffle(same)
        n_same = max(0, min(len(same), (total - len(cands)) // 2 + 1))
        cands += same[:n_same]
        while len(cands) < total:
            t = rng.choice(self.ids)
            if t not in cands:
                cands.append(t)
        cands = cands[:total]
        rng.shuffle(cands)
        return cands

    def tool_order(self, rng: random.Random) -> list[str]:
        order = list(self.specs)
        rng.shuffle(order)
        return order

    # ------------------------------------------------------------ selection / retrieval
    def selection_like(self, rng: random.Random, split: str, tid: str, multi: bool) -> dict[str, Any]:
        wrappers = T.SELECTION_TRAIN if split == "train" else T.SELECTION_TEST
        multis = T.MULTI_TRAIN if split == "train" else T.MULTI_TEST
        if not multi:
            phrase, args = self.render(tid, rng, split)
            tpl_id, tpl = rng.choice(wrappers)
            return {
                "instruction": _wrap(tpl, vp=phrase),
                "gold": [tid],
                "args": [args],
                "template_id": tpl_id,
            }
        # second tool from another family, often another category
        for _ in range(50):
            other = rng.choice(self.ids)
            if other != tid and other not in self.siblings[tid] and other in self.specs:
                break
        pa, aa = self.render(tid, rng, split)
        pb, ab = self.render(other, rng, split)
        tpl_id, tpl = rng.choice(multis)
        return {
            "instruction": _wrap(tpl, a=pa, b=pb),
            "gold": [tid, other],
            "args": [aa, ab],
            "template_id": tpl_id,
        }

    # ------------------------------------------------------------ planning
    def _sink(self, rng: random.Random, split: str, deps: list[int]) -> tuple[str, str, dict[str, Any]]:
        sink = rng.choice(self.sinks)
        phrase_t = rng.choice(sink["train"] if split == "train" else sink["test"])
        vals = {name: E.sample(kind, rng, split) for name, kind in sink["args"].items()}
        phrase = _fill(phrase_t, vals)
        args: dict[str, Any] = {}
        for name in self.params[sink["tool"]]:
            if name in vals:
                args[name] = vals[name]
        args[sink["text_arg"]] = " ".join("{{step_" + str(d) + "}}" for d in deps)
        return sink["tool"], phrase, args

    def _lookup(self, rng: random.Random, split: str, exclude: set[str]) -> str:
        for _ in range(100):
            t = rng.choice(self.lookups)
            if t not in exclude:
                return t
        return rng.choice(self.lookups)

    def _vp_with_entity(self, tid: str, rng: random.Random, split: str) -> str:
        opts = [v for v in self.vps(tid, split) if self._entity_slots(tid, v)]
        return rng.choice(opts or self.vps(tid, split))

    def planning(self, rng: random.Random, split: str, pattern: str) -> dict[str, Any]:
        steps: list[dict[str, Any]] = []
        parts: dict[str, str] = {}

        def add(tid: str, args: dict[str, Any], deps: list[int]) -> int:
            steps.append({"id": len(steps) + 1, "tool_id": tid, "arguments": args, "depends_on": deps})
            return len(steps)

        if pattern in ("par2_sink", "par3_sink", "big", "big6"):
            n = {"par2_sink": 2, "par3_sink": 3, "big": 3, "big6": 4}[pattern]
            ids: list[int] = []
            same = rng.random() < 0.5
            first = self._lookup(rng, split, set())
            vp = self._vp_with_entity(first, rng, split)
            used: list[str] = []
            for i in range(n):
                tid = first if (same or i == 0) else self._lookup(rng, split, set(used))
                for _ in range(20):
                    phrase, args = self.render(tid, rng, split, vp=vp if tid == first else None)
                    if phrase not in parts.values():
                        break
                used.append(tid)
                ids.append(add(tid, args, []))
                parts["abcd"[i]] = phrase
            s_tid, s_phrase, s_args = self._sink(rng, split, ids)
            add(s_tid, s_args, ids)
            parts["s"] = s_phrase
            if pattern in ("big", "big6"):
                act = rng.choice(self.actions)
                phrase, args = self.render(act, rng, split)
                add(act, args, [])
                parts["x"] = phrase
        elif pattern == "chain2":
            tid = self._lookup(rng, split, set())
            phrase, args = self.render(tid, rng, split)
            add(tid, args, [])
            parts["a"] = phrase
            s_tid, s_phrase, s_args = self._sink(rng, split, [1])
            add(s_tid, s_args, [1])
            parts["s"] = s_phrase
        elif pattern == "chain3":
            if rng.random() < 0.5 and self.crud_chain:
                base = rng.choice(self.crud_chain)
                phrase, args = self.render(base + "_search", rng, split)
                add(base + "_search", args, [])
                parts["a"] = phrase
                get_id = base + "_get"
                ref = next(iter(self.params[get_id]))
                noun = self.specs[get_id]["noun"]
                parts["b"] = rng.choice(T.CHAIN_GET["train" if split == "train" else "test"]).replace(
                    "{noun}", noun
                )
                add(get_id, {ref: "{{step_1}}"}, [1])
            else:
                base = rng.choice(self.book_chain)
                phrase, args = self.render(base + "_search", rng, split)
                add(base + "_search", args, [])
                parts["a"] = phrase
                traveler = E.sample("person", rng, split)
                parts["b"] = _fill(rng.choice(CHAIN_BOOK_T(split)), {"traveler_name": traveler})
                book_args = {k: v for k, v in args.items() if k in self.params[base + "_book"]}
                book_args["traveler_name"] = traveler
                add(base + "_book", book_args, [1])
            s_tid, s_phrase, s_args = self._sink(rng, split, [2])
            add(s_tid, s_args, [2])
            parts["s"] = s_phrase
        elif pattern == "fanout":
            tid = self._lookup(rng, split, set())
            phrase, args = self.render(tid, rng, split)
            add(tid, args, [])
            parts["a"] = phrase
            s1 = self._sink(rng, split, [1])
            for _ in range(20):
                s2 = self._sink(rng, split, [1])
                if s2[0] != s1[0]:
                    break
            add(s1[0], s1[2], [1])
            add(s2[0], s2[2], [1])
            parts["s"], parts["t"] = s1[1], s2[1]
        elif pattern == "two_chains":
            t1 = self._lookup(rng, split, set())
            t2 = self._lookup(rng, split, {t1})
            p1, a1 = self.render(t1, rng, split)
            add(t1, a1, [])
            s1 = self._sink(rng, split, [1])
            add(s1[0], s1[2], [1])
            p2, a2 = self.render(t2, rng, split)
            add(t2, a2, [])
            s2 = self._sink(rng, split, [3])
            add(s2[0], s2[2], [3])
            parts.update(a=p1, s=s1[1], b=p2, t=s2[1])
        else:
            raise ValueError(pattern)
        tpl_id, tpl = rng.choice((T.PLAN_TRAIN if split == "train" else T.PLAN_TEST)[pattern])
        instruction = _wrap(tpl, **parts)
        return {"instruction": instruction, "steps": steps, "template_id": tpl_id, "pattern": pattern}

    # ------------------------------------------------------------ timing
    def _tool_call_context(
        self, rng: random.Random, split: str, tid: str, args: dict[str, Any], phrase: str
    ) -> list[dict[str, Any]]:
        wrap_id, wrap = rng.choice(T.SELECTION_TRAIN if split == "train" else T.SELECTION_TEST)
        result = self.fake_result(tid, args, rng)
        return [
            {"role": "user", "content": _wrap(wrap, vp=phrase)},
            {"role": "assistant", "content": None, "tool_calls": [self.tool_call(1, tid, args)]},
            {"role": "tool", "tool_call_id": "call_1", "content": _compact(result)},
            {"role": "assistant", "content": self.result_summary(tid, args, result)},
        ]

    def fake_result(self, tid: str, args: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        role = self.specs[tid]["role"]
        if role in ("lookup", "search"):
            return {
                "status": "ok",
                "query": args,
                "value": round(rng.uniform(1, 99), 1),
                "summary": self.specs[tid]["returns"].rstrip("."),
            }
        return {"status": "done", "tool": tid}

    def result_summary(self, tid: str, args: dict[str, Any], result: dict[str, Any]) -> str:
        about = ", ".join(_fmt(v) for v in args.values()) or "your request"
        if "value" in result:
            return f"{result['summary']} for {about}: {result['value']}."
        return f"Done - {self.specs[tid]['name'].lower()} for {about}."

    @staticmethod
    def tool_call(n: int, tid: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"id": f"call_{n}", "type": "function", "function": {"name": tid, "arguments": _compact(args)}}

    def timing(self, rng: random.Random, split: str, kind: str) -> dict[str, Any]:
        tr = split == "train"
        context: list[dict[str, Any]] = []
        tool: str | None = None
        related: str | None = None
        call_args: dict[str, Any] = {}
        if kind in ("realtime", "action"):
            pool = self.lookups + self.searches if kind == "realtime" else self.actions
            tool = rng.choice(pool)
            phrase, call_args = self.render(tool, rng, split)
            tpl_id, tpl = rng.choice(T.TIMING_WRAP_TRAIN if tr else T.TIMING_WRAP_TEST)
            message = _wrap(tpl, vp=phrase)
            if rng.random() < 0.2:
                context = [
                    {"role": "user", "content": rng.choice(T.GREETINGS_TRAIN if tr else T.GREETINGS_TEST)},
                    {"role": "assistant", "content": "Sure - what do you need?"},
                ]
        elif kind == "casual_realtime":
            tpl_id, tool, tpl = rng.choice(
                [c for c in (T.CASUAL_TRAIN if tr else T.CASUAL_TEST) if c[1] in self.specs]
            )
            vals = {s: self.value(self.params[tool][s], rng, split) for s in SLOT.findall(tpl)}
            message = _fill(tpl, vals)
            call_args = vals
        elif kind in ("result_in_context", "followup_new_request"):
            tool = rng.choice(
                [t for t in self.lookups if len(self._entity_slots(t, self.vps(t, split)[0])) >= 1]
            )
            vp = self._vp_with_entity(tool, rng, split)
            phrase, args = self.render(tool, rng, split, vp=vp)
            context = self._tool_call_context(rng, split, tool, args, phrase)
            slot = self._entity_slots(tool, vp)[0]
            if kind == "result_in_context":
                tpl_id, tpl = rng.choice(T.RESULT_FOLLOWUP_TRAIN if tr else T.RESULT_FOLLOWUP_TEST)
                message = tpl.replace("{x}", _fmt(args[slot]))
                related, tool = tool, None
            else:
                tpl_id, tpl = rng.choice(T.NEW_REQUEST_TRAIN if tr else T.NEW_REQUEST_TEST)
                for _ in range(20):
                    new = self.value(self.params[tool][slot], rng, split)
                    if new != args[slot]:
                        break
                message = tpl.replace("{x}", _fmt(new))
                call_args = {**args, slot: new}
        elif kind == "general_knowledge":
            cat = rng.choice(list(T.CONCEPTS))
            concepts = T.split_list(T.CONCEPTS[cat], split)
            if rng.random() < 0.8:
                tpl_id, tpl = rng.choice(T.GENERAL_Q_TRAIN if tr else T.GENERAL_Q_TEST)
                c, c2 = rng.sample(concepts, 2)
                message = tpl.replace("{c}", c).replace("{c2}", c2)
            else:
                tpl_id, tpl = rng.choice(T.FACT_Q_TRAIN if tr else T.FACT_Q_TEST)
                message = tpl.replace("{country}", E.sample("country", rng, split))
                cat = "knowledge"
            related = rng.choice(self.by_cat[cat])
        elif kind == "generation":
            tpl_id, tpl = rng.choice(T.GENERATION_TRAIN if tr else T.GENERATION_TEST)
            message = (
                tpl.replace("{topic}", E.sample("topic", rng, split))
                .replace("{sentence}", E.sample("sentence", rng, split))
                .replace("{person}", E.sample("person", rng, split))
            )
            related = rng.choice(self.by_cat["knowledge"] + self.by_cat["communication"])
        elif kind == "chit_chat":
            msgs = T.CHITCHAT_TRAIN if tr else T.CHITCHAT_TEST
            i = rng.randrange(len(msgs))
            tpl_id, message = f"tj-{'tr' if tr else 'te'}-chat{i + 1:02d}", msgs[i]
            related = rng.choice(self.lookups)
            if rng.random() < 0.8:  # small talk right after a finished tool exchange
                phrase, args = self.render(related, rng, split)
                context = self._tool_call_context(rng, split, related, args, phrase)
        else:
            raise ValueError(kind)
        anchor = tool or related or rng.choice(self.ids)
        cands = self.candidates(
            [anchor], rng, total=rng.randint(3, 5) if tr else rng.randint(4, 8), max_sib=3
        )
        return {
            "message": message,
            "context": context,
            "should": tool is not None,
            "tool": tool,
            "template_id": tpl_id,
            "kind": kind,
            "candidates": cands,
            "args": call_args,
        }


def CHAIN_BOOK_T(split: str) -> list[str]:
    return T.CHAIN_BOOK["train" if split == "train" else "test"]


# ---------------------------------------------------------------- composing files
POS_KINDS = [("realtime", 0.35), ("casual_realtime", 0.15), ("action", 0.3), ("followup_new_request", 0.2)]
NEG_KINDS = [
    ("general_knowledge", 0.45),
    ("result_in_context", 0.3),
    ("generation", 0.1),
    ("chit_chat", 0.15),
]
PLAN_PATTERNS_EVAL = [
    ("chain2", 0.1),
    ("par2_sink", 0.25),
    ("par3_sink", 0.15),
    ("chain3", 0.15),
    ("fanout", 0.1),
    ("two_chains", 0.1),
    ("big", 0.1),
    ("big6", 0.05),
]
PLAN_PATTERNS_TRAIN = [
    ("chain2", 0.2),
    ("par2_sink", 0.35),
    ("chain3", 0.2),
    ("fanout", 0.15),
    ("par3_sink", 0.1),
]


def _quota(n: int, weights: list[tuple[str, float]]) -> list[str]:
    counts = [int(n * w) for _, w in weights]
    i = 0
    while sum(counts) < n:
        counts[i % len(counts)] += 1
        i += 1
    return [k for (k, _), c in zip(weights, counts, strict=True) for _ in range(c)]


def _interleave(a: list[str], b: list[str]) -> list[str]:
    out: list[str] = []
    for i in range(max(len(a), len(b))):
        out += a[i : i + 1] + b[i : i + 1]
    return out


def _timing_reason(kind: str, tool: str | None) -> str:
    return {
        "realtime": "needs live or personal data from a tool",
        "casual_realtime": "needs live data despite the casual wording",
        "action": "asks for an action only a tool can perform",
        "followup_new_request": "new entity, so the tool must be called again",
        "general_knowledge": "general knowledge, answer directly",
        "result_in_context": "the tool result is already in the conversation",
        "generation": "writing task, no tool needed",
        "chit_chat": "small talk, no tool needed",
    }[kind]


class _Unique:
    """Rejects repeated (normalised) instructions; raises instead of looping forever."""

    def __init__(self, forbidden: set[str] | None = None) -> None:
        self.seen: set[str] = set()
        self.forbidden = forbidden or set()
        self.misses = 0

    def take(self, key: str) -> bool:
        k = normalize(key)
        if k in self.seen or k in self.forbidden:
            self.misses += 1
            if self.misses > 20000:
                raise RuntimeError(f"cannot find enough unique samples (last: {key[:80]!r})")
            return False
        self.seen.add(k)
        return True


def _eval_split(gen: Generator, split: str, rng_seed: str, uniq: _Unique) -> dict[str, list[dict[str, Any]]]:
    prefix, sizes = EVAL_SPLITS[split]
    out: dict[str, list[dict[str, Any]]] = {}
    for task, n in sizes.items():
        rng = random.Random(f"{rng_seed}:{split}:{task}")
        rows: list[dict[str, Any]] = []
        if task in ("tool_selection", "tool_retrieval"):
            order = gen.tool_order(rng)
            i = 0
            while len(rows) < n:
                tid = order[i % len(order)]
                i += 1
                multi = rng.random() < 0.2
                s = gen.selection_like(rng, "test", tid, multi)
                if not uniq.take(s["instruction"]):
                    continue
                row: dict[str, Any] = {
                    "id": f"{TASK_PREFIX[task]}-{prefix}-{len(rows) + 1:04d}",
                    "task": task,
                    "instruction": s["instruction"],
                }
                if task == "tool_selection":
                    cands = gen.candidates(s["gold"], rng, total=rng.randint(8, 20), max_sib=8)
                    n_sib = sum(1 for c in cands if any(c in gen.siblings[g] for g in s["gold"]))
                    row["candidate_tools"] = cands
                    difficulty = "hard" if multi or n_sib >= 4 else "medium" if n_sib >= 1 else "easy"
                else:
                    row["candidate_tools"] = None
                    difficulty = "hard" if multi else "medium"
                row["gold"] = {"tools": s["gold"]}
                row.update(
                    category=gen.specs[s["gold"][0]]["category"],
                    template_id=s["template_id"],
                    difficulty=difficulty,
                )
                rows.append(row)
        elif task == "task_planning":
            patterns = _quota(n, PLAN_PATTERNS_EVAL)
            rng.shuffle(patterns)
            while len(rows) < n:
                pat = patterns[len(rows)]
                s = gen.planning(rng, "test", pat)
                if not uniq.take(s["instruction"]):
                    continue
                gold_ids = list(dict.fromkeys(st["tool_id"] for st in s["steps"]))
                cands = gen.candidates(
                    gold_ids, rng, total=min(20, len(gold_ids) + rng.randint(4, 8)), max_sib=2
                )
                rows.append(
                    {
                        "id": f"{TASK_PREFIX[task]}-{prefix}-{len(rows) + 1:04d}",
                        "task": task,
                        "instruction": s["instruction"],
                        "candidate_tools": cands,
                        "gold": {"steps": s["steps"]},
                        "template_id": s["template_id"],
                        "pattern": pat,
                        "difficulty": "hard" if len(s["steps"]) >= 4 else "medium",
                    }
                )
        else:
            kinds = _interleave(_quota(n - n // 2, POS_KINDS), _quota(n // 2, NEG_KINDS))
            while len(rows) < n:
                kind = kinds[len(rows)]
                s = gen.timing(rng, "test", kind)
                if not uniq.take(_compact(s["context"]) + "|" + s["message"]):
                    continue
                rows.append(
                    {
                        "id": f"{TASK_PREFIX[task]}-{prefix}-{len(rows) + 1:04d}",
                        "task": task,
                        "message": s["message"],
                        "context": s["context"],
                        "candidate_tools": s["candidates"],
                        "gold": {"should_call_tool": s["should"], "tool": s["tool"]},
                        "kind": kind,
                        "template_id": s["template_id"],
                    }
                )
        out[f"{split}/{task}.jsonl"] = rows
    return out


def _train(gen: Generator, seed: int) -> tuple[list[dict[str, Any]], set[str]]:
    rng = random.Random(f"{seed}:train")
    uniq = _Unique()
    plan: list[str] = []
    for task, n in TRAIN_SIZES.items():
        plan += [task] * n
    rng.shuffle(plan)
    order = gen.tool_order(rng)
    counters = {t: 0 for t in TASKS}
    pos_q = _quota(TRAIN_SIZES["timing_judgment"] // 2, POS_KINDS)
    neg_q = _quota(TRAIN_SIZES["timing_judgment"] - TRAIN_SIZES["timing_judgment"] // 2, NEG_KINDS)
    timing_kinds = _interleave(pos_q, neg_q)
    plan_q = _quota(TRAIN_SIZES["task_planning"], PLAN_PATTERNS_TRAIN)
    rng.shuffle(plan_q)
    rows: list[dict[str, Any]] = []
    instructions: set[str] = set()
    for task in plan:
        while True:
            i = counters[task]
            if task in ("tool_selection", "tool_retrieval"):
                tid = order[(i * 7 + (0 if task == "tool_selection" else 3)) % len(order)]
                multi = rng.random() < 0.2
                s = gen.selection_like(rng, "train", tid, multi)
                if not uniq.take(s["instruction"]):
                    continue
                answer = {"tools": s["gold"]}
                if task == "tool_selection":
                    tools = gen.candidates(s["gold"], rng, total=rng.randint(5, 8), max_sib=4)
                    system = SYSTEM[task] + " Tools: " + ", ".join(tools)
                else:
                    tools = []
                    system = SYSTEM[task]
                msgs: list[dict[str, Any]] = [
                    {"role": "system", "content": system},
                    {"role": "user", "content": s["instruction"]},
                ]
                variant = "decision"
                if task == "tool_selection" and rng.random() < 0.15:
                    calls = [
                        gen.tool_call(k + 1, t, a)
                        for k, (t, a) in enumerate(zip(s["gold"], s["args"], strict=True))
                    ]
                    msgs.append({"role": "assistant", "content": _compact(answer), "tool_calls": calls})
                    summaries = []
                    for k, (t, a) in enumerate(zip(s["gold"], s["args"], strict=True)):
                        res = gen.fake_result(t, a, rng)
                        msgs.append(
                            {"role": "tool", "tool_call_id": f"call_{k + 1}", "content": _compact(res)}
                        )
                        summaries.append(gen.result_summary(t, a, res))
                    msgs.append({"role": "assistant", "content": " ".join(summaries)})
                    variant = "execution"
                else:
                    msgs.append({"role": "assistant", "content": _compact(answer)})
                gold: dict[str, Any] = {"tools": s["gold"]}
                instructions.add(normalize(s["instruction"]))
            elif task == "task_planning":
                s = gen.planning(rng, "train", plan_q[i])
                if not uniq.take(s["instruction"]):
                    continue
                gold_ids = list(dict.fromkeys(st["tool_id"] for st in s["steps"]))
                tools = gen.candidates(
                    gold_ids, rng, total=min(8, len(gold_ids) + rng.randint(1, 3)), max_sib=1
                )
                gold = {"steps": s["steps"]}
                msgs = [
                    {"role": "system", "content": SYSTEM[task] + " Tools: " + ", ".join(tools)},
                    {"role": "user", "content": s["instruction"]},
                    {"role": "assistant", "content": _compact(gold)},
                ]
                variant = "decision"
                instructions.add(normalize(s["instruction"]))
            else:
                kind = timing_kinds[i]
                s = gen.timing(rng, "train", kind)
                if not uniq.take(_compact(s["context"]) + "|" + s["message"]):
                    continue
                tools = s["candidates"]
                gold = {"should_call_tool": s["should"], "tool": s["tool"]}
                answer = {**gold, "reason": _timing_reason(kind, s["tool"])}
                msgs = [
                    {"role": "system", "content": SYSTEM[task] + " Tools: " + ", ".join(tools)},
                    *s["context"],
                    {"role": "user", "content": s["message"]},
                ]
                variant = "decision"
                if s["should"] and kind in ("realtime", "casual_realtime", "action") and rng.random() < 0.2:
                    # execute the call: decision JSON plus a real tool call and the final answer
                    args = s["args"]
                    msgs.append(
                        {
                            "role": "assistant",
                            "content": _compact(answer),
                            "tool_calls": [gen.tool_call(1, s["tool"], args)],
                        }
                    )
                    res = gen.fake_result(s["tool"], args, rng)
                    msgs.append({"role": "tool", "tool_call_id": "call_1", "content": _compact(res)})
                    msgs.append({"role": "assistant", "content": gen.result_summary(s["tool"], args, res)})
                    variant = "execution"
                else:
                    msgs.append({"role": "assistant", "content": _compact(answer)})
                instructions.add(normalize(s["message"]))
            counters[task] += 1
            rows.append(
                {
                    "id": f"train-{len(rows) + 1:05d}",
                    "task": task,
                    "messages": msgs,
                    "tools": tools,
                    "gold": gold,
                    "variant": variant,
                }
            )
            break
    return rows, instructions


def generate_datasets(catalog: list[dict[str, Any]], seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """All dataset files keyed by path relative to the datasets folder (e.g. 'train/dialogs.jsonl')."""
    gen = Generator(catalog, seed)
    train, train_instr = _train(gen, seed)
    out: dict[str, list[dict[str, Any]]] = {"train/dialogs.jsonl": train}
    uniq = _Unique(forbidden=train_instr)
    for split in EVAL_SPLITS:
        out.update(_eval_split(gen, split, f"{seed}", uniq))
    return out


def write_datasets(
    out_dir: str | Path, catalog: list[dict[str, Any]], seed: int = 7
) -> dict[str, list[dict[str, Any]]]:
    files = generate_datasets(catalog, seed)
    root = Path(out_dir)
    for rel, rows in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(dumps_jsonl(rows))
    return files
