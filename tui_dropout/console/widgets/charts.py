"""Loss and accuracy charts (textual-plotext), for one run or several overlaid with a legend; a seed group is drawn
as its mean with mean±std as fainter lines, one legend entry per group."""
from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from ...series import MAX_POINTS, RunSeries, downsample, ema
from ..group_series import BandSeries

PALETTE = ("cyan", "orange", "green", "magenta", "red", "blue", "yellow", "white")
# The same hues, darker: a group's mean±std lines, fainter than its mean on the dark themes.
FAINT = {"cyan": (0, 105, 115), "orange": (125, 75, 0), "green": (0, 105, 0), "magenta": (115, 0, 115),
         "red": (120, 0, 0), "blue": (0, 40, 150), "yellow": (115, 115, 0), "white": (110, 110, 110)}
TICK_GAP = 3  # columns between x tick labels


def epoch_ticks(lo: float, hi: float, width: int) -> list[int]:
    """Whole-number ticks from lo to hi, a 1-2-5 step apart, as many as fit `width` columns."""
    lo, hi = math.ceil(lo), math.floor(hi)
    if hi < lo:
        return [lo]
    most = max(2, width // (len(str(hi)) + TICK_GAP))
    step = 1
    while (hi - lo) / step > most - 1:
        step = next(s * 10 ** e for e in range(12) for s in (1, 2, 5) if s * 10 ** e > step)
    first = math.ceil(lo / step) * step
    ticks = list(range(first, hi + 1, step))
    if not ticks or first - lo > step / 2:
        ticks.insert(0, lo)  # the first epoch is labelled when there is room for it
    return ticks


class MetricChart(PlotextPlot):
    """`metric` is "loss" or "accuracy"; draw() replaces the figure and refreshes once."""

    def __init__(self, metric: str, **kwargs):
        super().__init__(**kwargs)
        self.metric = metric
        self.points = 0  # points drawn last time, for tests and the status line
        self.x_range: tuple[float, float] | None = None  # set on the epoch axis: render() puts whole-number ticks
        self.ticks: list[int] = []  # the x ticks of the last render, for tests

    def point_limit(self) -> int:
        """Braille markers put 2 dots in a cell's width: more than 2 points a column cannot show, only cost
        (a plotext build grows with the points: benchmarks/console_watch.py)."""
        return min(MAX_POINTS, max(100, 2 * self.size.width))

    def draw(self, named: list[tuple[str, RunSeries | BandSeries]], axis: str = "epoch", smoothing: float = 0.0,
             xlim: tuple[float, float] | None = None, ylim: tuple[float, float] | None = None,
             title: str | None = None, palette_start: int = 0) -> None:
        """One line per run; a BandSeries (a seed group) as its mean and, fainter, mean±std. With any group the
        accuracy chart shows test accuracy only (train lines would double the lines)."""
        plt = self.plt
        plt.clear_figure()  # also drops limits left from an earlier draw; render() sets size and theme again
        many = len(named) > 1
        grouped = any(isinstance(series, BandSeries) for _, series in named)
        self.points = 0
        xs_seen: list[float] = []
        for i, (name, series) in enumerate(named):
            color = PALETTE[(i + palette_start) % len(PALETTE)]
            label = name if many else None  # one line alone: the title names it
            if isinstance(series, BandSeries):
                faint = FAINT.get(color, color)
                parts = [(series.mean, label, color), (series.low, None, faint), (series.high, None, faint)]
                if self.metric == "loss":
                    lines = [(s.x(axis), s.loss, text, c, "braille") for s, text, c in parts]
                else:
                    lines = [(s.acc_x(axis), s.test_acc, text, c, "braille") for s, text, c in parts]
            elif self.metric == "loss":
                lines = [(series.x(axis), series.loss, label, color, "braille")]  # the title says loss
            elif grouped:
                lines = [(series.acc_x(axis), series.test_acc, label, color, "braille")]
            else:
                ax = series.acc_x(axis)
                # several runs: one legend entry each (test, solid); its train line is the dotted one in its colour
                lines = [(ax, series.test_acc, name if many else "test", color, "braille"),
                         (ax, series.train_acc, None if many else "train", color if many else "gray", "dot")]
            for xs, ys, label, line_color, marker in lines:
                xs, ys = downsample(xs, ema(ys, smoothing), self.point_limit())
                if xs:
                    plt.plot(xs, ys, label=label, color=line_color, marker=marker)
                    self.points += len(xs)
                    xs_seen += (xs[0], xs[-1])
        if grouped:  # the screen's title says how a group is drawn
            name = "loss" if self.metric == "loss" else "test accuracy %"
        else:
            name = "loss" if self.metric == "loss" else "accuracy % (train dotted)" if many else "accuracy %"
        unit = "minutes" if axis == "time" else "epoch"
        # the axis name goes in the title: a separate x label would cost a row that small terminals lack
        plt.title(title or (f"{name} by {unit}" + (f" (EMA {smoothing})" if smoothing else "")))
        if xlim:
            plt.xlim(*xlim)
        if ylim:
            plt.ylim(*ylim)
        self.x_range = None
        if axis == "epoch" and (xlim or xs_seen):
            self.x_range = xlim or (min(xs_seen), max(xs_seen))
        self.refresh()

    def render(self):
        if self.x_range is not None:
            self.ticks = epoch_ticks(*self.x_range, max(1, self.size.width - 8))
            self.plt.xticks(self.ticks)
        return super().render()
