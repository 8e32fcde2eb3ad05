"""Planner names -> classes, and construction with a selector and (for LLM planners) a backend."""

from __future__ import annotations

from typing import Any

from core.catalog import Catalog
from core.errors import UsageError
from core.planning.base import BasePlanner, PlannerConfig
from core.planning.flat import FlatPlanner
from core.planning.greedy import GreedyPlanner
from core.planning.grounded import GroundedPlanner
from core.planning.hierarchical import HierarchicalPlanner, PerSubgoalHierarchicalPlanner

# "hierarchical" = sub-goals + ONE batched level-2 call (default); "hierarchical_per_subgoal" = one level-2 call
# per sub-goal (ablation)
PLANNERS: dict[str, type[BasePlanner]] = {"hierarchical": HierarchicalPlanner, "flat": FlatPlanner,
                                          "greedy": GreedyPlanner, "grounded": GroundedPlanner,
                                          "hierarchical_per_subgoal": PerSubgoalHierarchicalPlanner}
DEFAULT_SELECTOR = "keyword"
DEFAULT_PLANNER = "grounded"  # measured on the hand-written dev goals: docs/PLANNING.md "Goals people write"


QUERY_MAP_SELECTORS = ("embedding", "two_stage")  # the built-ins that embed the query
# the query map a planning selector gets when none is asked for: the bundled learned map (session 12: hand-written
# test goals, grounded tool choice node F1 +0.055 [+0.018, +0.095]; docs/SELECTION.md "A learned query map")
DEFAULT_QUERY_MAP = "auto"


def default_query_map(name: str | None, query_map: str | None = None) -> str | None:
    """The query map a selector named `name` plans with: `query_map` when given, else DEFAULT_QUERY_MAP for
    a selector that embeds the query, else None (the selector has no query embedding to move)."""
    if query_map is not None:
        return query_map
    return DEFAULT_QUERY_MAP if (name or DEFAULT_SELECTOR) in QUERY_MAP_SELECTORS else None


def make_selector(catalog: Catalog, name: str | None = None, *, query_map: str | None = None) -> Any:
    """A fitted selector from the selection registry (`core.selection.registry.get_selector`) as the planners
    use it. No silent fallback: a selector that cannot be built (e.g. a missing embedding model) is an error
    naming it. `query_map` ("auto", "none" or a map file; `core.selection.query_map`) is for a selector that
    embeds the query (None: `default_query_map`); asking it of another is an error."""
    from core.selection.registry import get_selector

    name = name or DEFAULT_SELECTOR
    if query_map is not None and name not in QUERY_MAP_SELECTORS:
        raise UsageError(f"selector {name!r} does not embed the query, so a query map does not apply",
                         hint=f"use one of {list(QUERY_MAP_SELECTORS)}")
    query_map = default_query_map(name, query_map)
    if query_map is None:
        return get_selector(name, catalog)
    return get_selector(name, catalog, query_map=str(query_map))


def make_planner(name: str, catalog: Catalog, *, selector: Any = None, backend: Any = None,
                 config: PlannerConfig | None = None) -> BasePlanner:
    if name not in PLANNERS:
        raise UsageError(f"unknown planner {name!r}; expected one of {sorted(PLANNERS)}")
    cls = PLANNERS[name]
    if cls.uses_llm and backend is None:
        from core.llm.factory import make_backend

        backend = make_backend(purpose="plan")
    return cls(catalog, selector or make_selector(catalog), backend, config)
