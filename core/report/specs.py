"""Which metrics the report shows, how they are labelled, formatted and compared."""

from __future__ import annotations

from dataclasses import dataclass

METHODS = ("A", "B1", "B2", "B3", "C", "D", "R")
METHOD_LABELS = {
    "A": "A: SFT baseline",
    "B1": "B1: coreset (loss)",
    "B2": "B2: coreset (diversity)",
    "B3": "B3: coreset (hybrid)",
    "C": "C: continual replay",
    "D": "D: coreset + continual",
    "R": "R: random coreset (control)",
}


@dataclass(frozen=True)
class MetricSpec:
    name: str  # public metric name in the store
    label: str  # column header
    group: str  # column group header
    higher_is_better: bool = True
    decimals: int = 3


def _rate(name: str, label: str, group: str, *, higher: bool = True) -> MetricSpec:
    return MetricSpec(name, label, group, higher, 3)


TABLE1_METRICS: tuple[MetricSpec, ...] = (
    _rate("acc@1", "Acc@1", "Tool selection"),
    _rate("acc@5", "Acc@5", "Tool selection"),
    _rate("mrr", "MRR", "Tool selection"),
    _rate("step_validity", "Step val.", "Planning"),
    _rate("dependency_correctness", "Dep. corr.", "Planning"),
    _rate("executability", "Exec.", "Planning"),
    _rate("plan_token_acc", "Tok. acc.", "Planning"),
    MetricSpec("plan_nll", "NLL", "Planning", False, 3),
    _rate("node_f1", "Node F1", "Planning"),
    _rate("edge_f1", "Edge F1", "Planning"),
    _rate("exact_match", "Exact", "Planning"),
    _rate("accuracy", "Acc.", "Timing"),
    _rate("f1", "F1", "Timing"),
    _rate("fpr", "FPR", "Timing", higher=False),
    MetricSpec("train_seconds", "Time (s)", "Cost", False, 1),
    MetricSpec("samples_used", "Samples", "Cost", False, 0),
    MetricSpec("steps", "Steps", "Cost", False, 0),  # optimizer steps: replay adds steps without adding samples
    MetricSpec("peak_memory_mb", "Mem. (MB)", "Cost", False, 0),
)

# Table 1 metrics that come from an evaluation of the trained model, by the task that measures them
TASK_OF_METRIC = {
    "acc@1": "tool_selection",
    "acc@5": "tool_selection",
    "mrr": "tool_selection",
    "step_validity": "task_planning",
    "dependency_correctness": "task_planning",
    "executability": "task_planning",
    "node_f1": "task_planning",
    "edge_f1": "task_planning",
    "exact_match": "task_planning",
    "accuracy": "timing_judgment",
    "f1": "timing_judgment",
    "fpr": "timing_judgment",
}

LATENCY = MetricSpec("latency_p50_ms", "p50 ms", "Latency", False, 1)

# the metric an ablation paragraph of results.md leads with (else the section's first column)
ABLATION_PRIMARY = {"task_planning": "node_f1", "tool_selection": "acc@1", "tool_retrieval": "recall@5",
                    "timing_judgment": "accuracy"}
# ablation: per evaluated task, the component it varies and the metrics to show
ABLATION_TASKS: dict[str, tuple[str, tuple[MetricSpec, ...]]] = {
    "tool_selection": (
        "Selector",
        (_rate("acc@1", "Acc@1", ""), _rate("acc@5", "Acc@5", ""), _rate("mrr", "MRR", ""), _rate("ndcg@5", "nDCG@5", ""), LATENCY),
    ),
    "tool_retrieval": (
        "Selector",
        (
            _rate("recall@5", "Recall@5", ""),
            _rate("precision@5", "Prec@5", ""),
            _rate("ndcg@5", "nDCG@5", ""),
            _rate("all_gold@5", "All gold@5", ""),
            LATENCY,
        ),
    ),
    "task_planning": (
        "Planner",
        (
            _rate("step_validity", "Step val.", ""),
            _rate("dependency_correctness", "Dep. corr.", ""),
            _rate("executability", "Exec.", ""),
            _rate("node_f1", "Node F1", ""),
            _rate("edge_f1", "Edge F1", ""),
            _rate("exact_match", "Exact", ""),
            LATENCY,
        ),
    ),
    "timing_judgment": (
        "Timing",
        (
            _rate("accuracy", "Acc.", ""),
            _rate("precision", "Prec.", ""),
            _rate("recall", "Recall", ""),
            _rate("f1", "F1", ""),
            _rate("fpr", "FPR", "", higher=False),
            LATENCY,
        ),
    ),
}
