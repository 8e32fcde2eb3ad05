"""Workstation screens (imported lazily: heavy widgets such as plots load only when a screen needs them)."""

from __future__ import annotations


def screen_classes() -> list[type]:
    """Every screen class, for the help screen, the command palette and the binding checks."""
    from sage_tui.screens.catalog import CatalogScreen
    from sage_tui.screens.charts import ChartsScreen
    from sage_tui.screens.compare import CompareScreen
    from sage_tui.screens.dashboard import DashboardScreen
    from sage_tui.screens.eval_launch import EvalLaunchScreen
    from sage_tui.screens.help import HelpScreen
    from sage_tui.screens.plan import PlanScreen
    from sage_tui.screens.run_detail import RunDetailScreen
    from sage_tui.screens.train import TrainScreen

    return [PlanScreen, TrainScreen, DashboardScreen, RunDetailScreen, CompareScreen, ChartsScreen, EvalLaunchScreen,
            CatalogScreen, HelpScreen]
