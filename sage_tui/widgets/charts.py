"""Plots drawn with textual-plotext: live/overlaid loss curves and a per-method metric bar chart."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot


def downsample(points: list[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    """At most `limit` evenly spaced points, always keeping the first and the last."""
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


class LossPlot(PlotextPlot):
    """One or more loss curves; `set_series` replaces the data and redraws once (coalesced by callers)."""

    def __init__(self, title: str = "loss", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._title = title
        self._series: dict[str, tuple[list[float], list[float]]] = {}

    MAX_POINTS = 300  # more than the braille resolution of any terminal plot; keeps redraws cheap

    def set_series(self, series: dict[str, Sequence[tuple[float, float]]]) -> None:
        self._series = {}
        for name, pts in series.items():
            if not pts:
                continue
            pts = downsample(list(pts), self.MAX_POINTS)
            self._series[name] = ([p[0] for p in pts], [p[1] for p in pts])
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self._title)
        plt.xlabel("step")
        if not self._series:
            plt.title(f"{self._title} (no points yet)")
        for name, (xs, ys) in self._series.items():
            plt.plot(xs, ys, label=name if len(self._series) > 1 else None, marker="braille")
        self.refresh()

    def on_mount(self) -> None:
        self.replot()


class MetricBars(PlotextPlot):
    """A bar chart of one metric per label (e.g. mean acc@1 per method)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._labels: list[str] = []
        self._values: list[float] = []
        self._metric = ""

    def set_bars(self, metric: str, bars: dict[str, float]) -> None:
        self._metric = metric
        self._labels = list(bars)
        self._values = [bars[k] for k in self._labels]
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if self._labels:
            plt.bar(self._labels, self._values)
            plt.title(f"{self._metric} by method")
        else:
            plt.title("no runs with this metric")
        self.refresh()

    def on_mount(self) -> None:
        self.replot()
