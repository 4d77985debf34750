"""Loss and accuracy charts (textual-plotext), for one run or several overlaid with a legend."""
from __future__ import annotations

from textual_plotext import PlotextPlot

from ...series import MAX_POINTS, RunSeries, downsample, ema

PALETTE = ("cyan", "orange", "green", "magenta", "red", "blue", "yellow", "white")


class MetricChart(PlotextPlot):
    """`metric` is "loss" or "accuracy"; draw() replaces the figure and refreshes once."""

    def __init__(self, metric: str, **kwargs):
        super().__init__(**kwargs)
        self.metric = metric
        self.points = 0  # points drawn last time, for tests and the status line

    def point_limit(self) -> int:
        """Braille markers put 2 dots in a cell's width: more than 4 points a column cannot show, only cost."""
        return min(MAX_POINTS, max(200, 4 * self.size.width))

    def draw(self, named: list[tuple[str, RunSeries]], axis: str = "epoch", smoothing: float = 0.0,
             xlim: tuple[float, float] | None = None, ylim: tuple[float, float] | None = None,
             title: str | None = None, palette_start: int = 0) -> None:
        plt = self.plt
        plt.clear_figure()  # also drops limits left from an earlier draw; render() sets size and theme again
        many = len(named) > 1
        self.points = 0
        for i, (name, series) in enumerate(named):
            color = PALETTE[(i + palette_start) % len(PALETTE)]
            if self.metric == "loss":
                lines = [(series.x(axis), series.loss, name if many else "loss", color, "braille")]
            else:
                ax = series.acc_x(axis)
                lines = [(ax, series.test_acc, f"{name} test" if many else "test", color, "braille"),
                         (ax, series.train_acc, f"{name} train" if many else "train",
                          color if many else "gray", "dot")]
            for xs, ys, label, line_color, marker in lines:
                xs, ys = downsample(xs, ema(ys, smoothing), self.point_limit())
                if xs:
                    plt.plot(xs, ys, label=label, color=line_color, marker=marker)
                    self.points += len(xs)
        name = "loss" if self.metric == "loss" else "accuracy %"
        plt.title(title or (name + (f" (EMA {smoothing})" if smoothing else "")))
        plt.xlabel("minutes" if axis == "time" else "epoch")
        if xlim:
            plt.xlim(*xlim)
        if ylim:
            plt.ylim(*ylim)
        self.refresh()
