"""Paper report from stored runs: Table 1, ablation tables, figures and a runs.json manifest.

Everything here reads the run store only; outputs are deterministic (sorted, fixed float
formats, no timestamps) so re-running on the same runs gives byte-identical tables.
"""

from core.report.build import ReportResult, build_report
from core.report.select import Selection, select_runs

__all__ = ["ReportResult", "Selection", "build_report", "select_runs"]
