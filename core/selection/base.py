"""The selector protocol shared by every selector, the planner, the evaluators and the TUI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from core.catalog import Catalog


@dataclass
class StageScore:
    """One stage's view of a tool: its raw score and 1-based rank in that stage."""

    stage: str  # "keyword" | "embedding" | "fused" | plugin-defined
    score: float
    rank: int


@dataclass
class Selection:
    """One ranked tool with the evidence for its rank ("why this tool")."""

    tool_id: str
    score: float  # final score (higher is better)
    rank: int  # 1-based final rank
    stages: list[StageScore] = field(default_factory=list)
    matched_terms: list[str] = field(default_factory=list)  # query terms found in the tool text (keyword stage)
    explanation: str = ""
    clause: str = ""  # set by a planner: the clause of the goal this tool was picked for
    rewrite: str = ""  # set by a planner: the model's rewrite of that clause, when it is what found the tool

    def to_dict(self) -> dict[str, Any]:
        out = {
            "tool_id": self.tool_id,
            "score": self.score,
            "rank": self.rank,
            "stages": [s.__dict__ for s in self.stages],
            "matched_terms": self.matched_terms,
            "explanation": self.explanation,
        }
        return out | {k: v for k, v in (("clause", self.clause), ("rewrite", self.rewrite)) if v}


@runtime_checkable
class Selector(Protocol):
    """Fitted on a catalog; ranks tools for a query, optionally restricted to candidate ids."""

    name: str

    def fit(self, catalog: Catalog) -> Selector: ...

    def select(self, query: str, top_k: int = 5, candidates: Sequence[str] | None = None) -> list[Selection]: ...

    def config(self) -> dict[str, Any]:
        """JSON-serialisable parameters that identify this selector's behaviour (stored with runs)."""
        ...
