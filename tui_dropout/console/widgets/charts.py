"""The charts of the registry (tui_dropout/charts.py: loss, accuracy, gap, lr, epoch time) drawn with textual-plotext,
for one run or several overlaid; a seed group is drawn as its mean with mean±std as fainter dotted lines. Each
series has its own colour and marker (legend.py), the legend is a header line above the plot, never over the
data, and the means are drawn last so no spread or second line hides them."""
from __future__ import annotations

import math

from rich.color import Color
from rich.text import Text
from textual_plotext import PlotextPlot

from ...charts import Chart, ChartChoice, chart, linear_axis, log_ticks, log_values, tick_label
from ...series import MAX_POINTS, RunSeries, downsample, ema
from ..group_series import BandSeries
from .legend import DOTTED, GREY, MARKERS, PALETTE, Entry, faint, header_lines

TICK_GAP = 3  # columns between x tick labels


def chart_choice(app) -> ChartChoice:
    """The console session's chart choice (which chart each pane shows, log y), shared by every screen."""
    choice = getattr(app, "chart_choice", None)
    if choice is None:
        choice = app.chart_choice = ChartChoice()
    return choice


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
    """`metric` is a key of the chart registry (tui_dropout/charts.py: "loss", "accuracy", "gap", "lr", ...);
    draw() replaces the figure and refreshes once. When no series has a value for the chart, it shows one line
    ("no learning rate recorded") instead of an empty frame."""

    def __init__(self, metric: str, **kwargs):
        super().__init__(**kwargs)
        self.metric = metric
        self.points = 0  # points drawn last time, for tests and the status line
        self.x_range: tuple[float, float] | None = None  # set on the epoch axis: render() puts whole-number ticks
        self.ticks: list[int] = []  # the x ticks of the last render, for tests
        self.empty = ""  # the line shown instead of a chart when there is nothing to draw
        self.log_scale = False  # whether the last draw used a log y scale
        self.y_ticks: list[float] = []  # the linear y ticks of the last draw, for tests
        self.title = ""  # drawn by render() above the plot, with the legend
        self.legend: list[Entry] = []  # one entry per line drawn that needs naming, in the series' order
        self.header_text: list[Text] = []  # the header lines of the last render, for tests
        self._drawn: tuple | None = None  # the last draw's arguments, drawn again when a resize changes the ticks
        self._drawn_ticks = 0

    @property
    def chart(self) -> Chart:
        return chart(self.metric)

    def point_limit(self) -> int:
        """Braille markers put 2 dots in a cell's width: more than 2 points a column cannot show, only cost
        (a plotext build grows with the points: benchmarks/console_watch.py)."""
        return min(MAX_POINTS, max(100, 2 * self.size.width))

    def draw(self, named: list[tuple[str, RunSeries | BandSeries]], axis: str = "epoch", smoothing: float = 0.0,
             xlim: tuple[float, float] | None = None, ylim: tuple[float, float] | None = None,
             title: str | None = None, palette_start: int = 0, log: bool = False, prefix: str = "") -> None:
        """One line per run for each of the chart's lines (a second line, such as train accuracy, dotted and
        fainter); a BandSeries (a seed group) as its first line's mean and, dotted and fainter, mean±std. With any
        group only the first line of each run is drawn (more would double the lines). `ylim` defaults to the
        chart's own range; `log` applies where the chart allows it; `prefix` (a run's name) makes a short title:
        the name and the chart's. Series i gets colour and marker i + `palette_start`, in every pane alike."""
        self._drawn = (named, axis, smoothing, xlim, ylim, title, palette_start, log, prefix)
        self._drawn_ticks = self.tick_count()
        spec = self.chart
        plt = self.plt
        plt.clear_figure()  # also drops limits left from an earlier draw; render() sets size and theme again
        many = len(named) > 1
        grouped = any(isinstance(series, BandSeries) for _, series in named)
        self.log_scale = log = log and spec.log_ok
        self.points = 0
        self.x_range = None
        self.legend = []
        if not any(spec.has_data(s.mean if isinstance(s, BandSeries) else s) for _, s in named):
            self.empty = f"no {spec.metric} recorded"
            self.refresh()
            return
        self.empty = ""
        background = self._background()
        lines = []  # (layer, xs, ys, colour, marker, legend entry): spreads, then second lines, then means
        for i, (name, series) in enumerate(named):
            k = i + palette_start
            color, marker = PALETTE[k % len(PALETTE)], MARKERS[k % len(MARKERS)]
            if isinstance(series, BandSeries):
                if not spec.lines_for(series.mean):
                    continue  # a per-layer chart of a group whose runs recorded no layer
                first = spec.lines_for(series.mean)[0]
                mean = Entry(marker, color, name) if many else Entry(marker, color, f"mean of {series.n}", "mean")
                lines.append((2, first.xs(series.mean, axis), first.ys(series.mean), color, marker, mean))
                spread = Entry("dotted", faint(GREY, background), "±1 std", "±std")
                for side in (series.low, series.high):
                    lines.append((0, first.xs(side, axis), first.ys(side), faint(color, background), DOTTED, spread))
                continue
            shown = [line for line in spec.lines_for(series) if not (grouped and line.secondary)]
            for j, line in enumerate(shown):
                if spec.family:  # one line per layer: each its own marker, and alone each its own colour too;
                    # several runs: the colour says the run and the marker the layer, the same in every run
                    tone = color if many else PALETTE[(k + j) % len(PALETTE)]
                    mark = MARKERS[(j if many else k + j) % len(MARKERS)]
                    lines.append((2, line.xs(series, axis), line.ys(series), tone, mark,
                                  Entry(mark, tone, f"{name} {line.label}", tail=line.label) if many
                                  else Entry(mark, tone, line.label)))
                    continue
                if line.secondary:  # several runs: each run's colour, fainter; alone: grey. Dotted either way
                    tone = faint(color, background) if many else GREY
                    second = Entry("dotted", GREY, line.label + (" (dotted)" if many else ""), line.label)
                    lines.append((1, line.xs(series, axis), line.ys(series), tone, DOTTED, second))
                else:
                    label = name if many else line.label if len(shown) > 1 else ""
                    lines.append((2, line.xs(series, axis), line.ys(series), color, marker,
                                  Entry(marker, color, label) if label else None))
        xs_seen: list[float] = []
        ys_seen: list[float] = []
        drawn = []
        for n in sorted(range(len(lines)), key=lambda n: lines[n][0]):  # the means last: on top
            _, xs, ys, line_color, line_marker, _ = lines[n]
            ys = ema(ys, smoothing)
            xs, ys = downsample(xs, log_values(ys) if log else ys, self.point_limit())
            if any(math.isfinite(v) for v in ys):  # a series with nothing to draw gets no legend entry
                plt.plot(xs, ys, color=line_color, marker=line_marker)
                self.points += len(xs)
                xs_seen += (xs[0], xs[-1])
                ys_seen += [v for v in ys if math.isfinite(v)]
                drawn.append(n)
        entries = [lines[n][5] for n in sorted(drawn) if lines[n][5] is not None]  # in the runs' order
        self.legend = list(dict.fromkeys([e for e in entries if e.marker != "dotted"] +
                                         [e for e in entries if e.marker == "dotted"]))  # the fainter ones last
        name = (spec.group_title or spec.title) if grouped else spec.title
        unit = "minutes" if axis == "time" else "epoch"
        # the axis name goes in the title: a separate x label would cost a row that small terminals lack
        if title is None and prefix:  # a pane of its own run (side by side): short, the screen says the rest
            title = f"{prefix} {name}" + (", log" if log else "")
        self.title = title or (f"{name} by {unit}" + (", log" if log else "") +
                               (f" (EMA {smoothing})" if smoothing else ""))
        if xlim:
            plt.xlim(*xlim)
        full = self._full_range()
        if full and spec.bounds and not log:
            ylim = spec.bounds
        if log:  # log10 values on a linear axis, ticks labelled in real units
            if ylim and ylim[0] > 0:
                ylim = (math.log10(ylim[0]), math.log10(ylim[1]))
            else:  # no range, or one reaching 0: the values' own
                ylim = (min(ys_seen), max(ys_seen)) if ys_seen else None
            ticks = log_ticks(*ylim) if ylim else []
            if ticks:
                plt.yticks([t for t, _ in ticks], [label for _, label in ticks])
        elif ylim or ys_seen:  # the data's range (within the chart's bounds), evenly spaced ticks
            lo, hi = ylim or (min(ys_seen), max(ys_seen))
            ylim, ticks = linear_axis(lo, hi, self.tick_count(), spec.bounds)
            step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
            self.y_ticks = ticks
            plt.yticks(ticks, [tick_label(t, step) for t in ticks])
        if ylim and ylim[1] > ylim[0]:
            plt.ylim(*ylim)
        if axis == "epoch" and (xlim or xs_seen):
            self.x_range = xlim or (min(xs_seen), max(xs_seen))
        self.refresh()

    def _background(self) -> tuple[int, int, int]:
        """The pane's background colour, which a fainter line leans towards."""
        try:
            return Color.parse(self.app.theme_variables.get("surface", "#1e1e1e")).get_truecolor()[:3]
        except Exception:  # not mounted, or a theme without it: a dark background
            return (30, 30, 30)

    def on_resize(self) -> None:
        """A chart drawn before its pane had its size (the first draw comes before layout) picked its y ticks for
        another height: drawn again for this one."""
        if self._drawn is not None and self.tick_count() != self._drawn_ticks:
            self.draw(*self._drawn)

    def tick_count(self) -> int:
        """y ticks that fit the pane's plot rows, a row or more between them; at least 3 (with 2 a 1-2-5 step
        would stretch the range to twice the data's)."""
        return max(3, min(6, (self.size.height - 2) // 2))

    def _full_range(self) -> bool:
        try:
            return chart_choice(self.app).full
        except Exception:  # not mounted (a chart drawn outside an app): the data's range
            return False

    def header(self) -> list[Text]:
        """The title and the legend, above the plot: one line when the pane is short, else up to three."""
        most = 1 if self.size.height < 10 else 2 if self.size.height < 16 else 3
        # a cell short of the pane: side-by-side panes' headers never run into each other
        return header_lines(self.title, self.legend, self.size.width - 1, most)

    def render(self):
        if self.empty:
            return Text(self.empty)
        width, height = self.size.width, self.size.height
        self.header_text = head = self.header()
        rows = max(1, height - len(head))
        if self.x_range is not None:
            self.ticks = epoch_ticks(*self.x_range, max(1, width - 8))
            self.plt.xticks(self.ticks)
        # PlotextPlot.render, with the header's rows left out of the plot's
        self.plt.plotsize(width, rows)
        self.plt._set_size(width, rows)
        self.plt.theme(self._get_plotext_theme_name(self.app.theme))
        return Text("\n").join([*head, Text.from_ansi(self.plt.build())])


def value_range(named: list[tuple[str, RunSeries | BandSeries]], spec: Chart,
                log: bool = False, full: bool = False) -> tuple[float, float] | None:
    """One y range for the chart over every series (a group's spread included), so side-by-side panes compare by
    eye: the chart's whole range when `z` asks for it; None when there is no value (or, on a log axis, none above 0)."""
    if spec.bounds and full:
        return spec.bounds
    values = []
    for _, series in named:
        for s in (series.low, series.high) if isinstance(series, BandSeries) else (series,):
            values += [v for line in spec.lines_for(s) for v in line.ys(s) if math.isfinite(v) and (v > 0 or not log)]
    if not values:
        return None
    lo, hi = min(values), max(values)
    return (lo, hi) if hi > lo else (lo, lo + 1) if not log else (lo / 2, lo * 2)
