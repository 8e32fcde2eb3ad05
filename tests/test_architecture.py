"""Architecture rules the code review asked for: no import circles, and backends built only by the factory."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKEND_CLASSES = {"LlamaCppBackend", "OpenAICompatibleBackend", "EngineBackend"}


def test_no_import_circles_between_our_modules() -> None:
    """Every import counts, function-level ones included (grimp reads them all)."""
    import grimp
    import networkx as nx

    graph = grimp.build_graph("core", "training", "sage_tui")
    g = nx.DiGraph()
    for m in graph.modules:
        for dep in graph.find_modules_directly_imported_by(m):
            g.add_edge(m, dep)
    cycles = list(nx.simple_cycles(g))
    assert cycles == [], f"import circles: {cycles[:5]}"


def _constructions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name in BACKEND_CLASSES:
                out.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    return out


def test_backends_are_built_only_by_the_factory() -> None:
    """Outside core/llm (which defines them, the factory and the doctor's engine check) and tests, no code
    instantiates a backend class: it asks core.llm.factory.make_backend."""
    allowed = {ROOT / "core" / "doctor.py"}  # the doctor drives a private engine child on purpose
    found = []
    for folder in ("core", "sage_tui", "training", "bench"):
        for p in sorted((ROOT / folder).rglob("*.py")):
            if (ROOT / "core" / "llm") in p.parents or p in allowed:
                continue
            found += _constructions(p)
    assert found == [], "build backends with core.llm.factory.make_backend: " + "; ".join(found)
