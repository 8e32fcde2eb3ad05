"""The dependency graph of a plan on networkx: validation, order, levels, critical path, repair."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from core.errors import PlanError
from core.planning.types import PlanStep, Repair


@dataclass
class DagIssue:
    kind: str  # duplicate_id | missing_dependency | self_dependency | cycle
    detail: str
    step_id: int | None = None


def build_graph(steps: Sequence[PlanStep]) -> nx.DiGraph:
    """Nodes are step ids; an edge d -> s means s depends on d (unknown deps are skipped)."""
    g = nx.DiGraph()
    for s in steps:
        g.add_node(s.id, tool_id=s.tool_id)
    for s in steps:
        for d in s.depends_on:
            if d in g and d != s.id:
                g.add_edge(d, s.id)
    return g


def validate_dag(steps: Sequence[PlanStep]) -> list[DagIssue]:
    """Duplicate ids, missing and self dependencies, and every cycle (named as a path)."""
    issues: list[DagIssue] = []
    seen: set[int] = set()
    for s in steps:
        if s.id in seen:
            issues.append(DagIssue("duplicate_id", f"step id {s.id} is used more than once", s.id))
        seen.add(s.id)
    for s in steps:
        for d in s.depends_on:
            if d == s.id:
                issues.append(DagIssue("self_dependency", f"step {s.id} depends on itself", s.id))
            elif d not in seen:
                issues.append(DagIssue("missing_dependency", f"step {s.id} depends on unknown step {d}", s.id))
    for cyc in nx.simple_cycles(build_graph(steps)):
        path = " -> ".join(str(n) for n in [*cyc, cyc[0]])
        issues.append(DagIssue("cycle", f"dependency cycle {path}", cyc[0]))
    return issues


def _acyclic(steps: Sequence[PlanStep]) -> nx.DiGraph:
    g = build_graph(steps)
    try:
        cyc = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return g
    path = " -> ".join(str(u) for u, _ in cyc) + f" -> {cyc[0][0]}"
    raise PlanError(f"plan has a dependency cycle {path}", hint="repair_dependencies() breaks cycles")


def topological_order(steps: Sequence[PlanStep]) -> list[int]:
    """Step ids in an executable order (ties broken by id); PlanError naming the cycle."""
    return list(nx.lexicographical_topological_sort(_acyclic(steps)))


def parallel_levels(steps: Sequence[PlanStep]) -> list[list[int]]:
    """Groups of step ids that can run at the same time, in execution order."""
    return [sorted(level) for level in nx.topological_generations(_acyclic(steps))]


def critical_path(steps: Sequence[PlanStep], cost: dict[int, float] | None = None) -> list[int]:
    """Longest chain of dependent steps (node costs default to 1)."""
    g = _acyclic(steps)
    if g.number_of_nodes() == 0:
        return []
    w = cost or {}
    h = nx.DiGraph()
    h.add_nodes_from(g.nodes)
    for u, v in g.edges:  # put the node cost of the target on the edge, plus a virtual source
        h.add_edge(u, v, weight=w.get(v, 1.0))
    for n in g.nodes:
        h.add_edge("__src__", n, weight=w.get(n, 1.0))
    return [n for n in nx.dag_longest_path(h, weight="weight") if n != "__src__"]


def repair_dependencies(steps: Sequence[PlanStep]) -> tuple[list[PlanStep], list[Repair]]:
    """Fix ids and dependencies: renumber duplicates, drop self/unknown deps, break cycles. Reports each change."""
    repairs: list[Repair] = []
    out: list[PlanStep] = []
    used: set[int] = set()
    next_id = max((s.id for s in steps), default=0) + 1
    for s in steps:
        st = PlanStep(s.id, s.tool_id, dict(s.arguments), list(s.depends_on), s.subgoal_id, s.description)
        if st.id in used:
            repairs.append(Repair("duplicate_id", f"duplicate step id {st.id} renumbered to {next_id}", next_id))
            st.id = next_id
            next_id += 1
        used.add(st.id)
        out.append(st)
    for st in out:
        deps: list[int] = []
        for d in st.depends_on:
            if d == st.id:
                repairs.append(Repair("dependency", f"dropped self-dependency of step {st.id}", st.id))
            elif d not in used:
                repairs.append(Repair("dependency", f"dropped unknown dependency {d} of step {st.id}", st.id))
            elif d in deps:
                repairs.append(Repair("dependency", f"dropped repeated dependency {d} of step {st.id}", st.id))
            else:
                deps.append(d)
        st.depends_on = deps
    position = {st.id: i for i, st in enumerate(out)}
    by_id = {st.id: st for st in out}
    while True:
        try:
            cyc = nx.find_cycle(build_graph(out))
        except nx.NetworkXNoCycle:
            break
        # remove the edge whose dependency comes latest in plan order (a "back edge")
        u, v = max(cyc, key=lambda e: (position[e[0]] - position[e[1]], position[e[0]]))[:2]
        by_id[v].depends_on.remove(u)
        path = " -> ".join(str(a) for a, _ in cyc) + f" -> {cyc[0][0]}"
        repairs.append(Repair("cycle", f"broke cycle {path} by dropping dependency {u} of step {v}", v))
    return out, repairs
