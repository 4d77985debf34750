"""The chart registry: every chart the console can draw, declared once. No UI, no torch.

A chart is one `Chart` entry in CHARTS: its key, title, y unit, the lines it draws from a run's series (a
RunSeries value list by name, or a function of the series) and whether a log scale suits it. Every metric of the
metric registry (tui_dropout/metrics.py) with `chart=True` has its default chart, made from its row (`default_chart`);
a per-layer family's chart draws one line per layer the run recorded (`Chart.family`). The main view, the compare
screen and the replay screen draw whatever charts are chosen from here, and a seed group (a BandSeries) draws the
first line of each chart as its mean and spread."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Union

from . import metrics
from .series import RunSeries, base_of

Values = Union[str, Callable[[RunSeries], list[float]]]


@dataclass(frozen=True)
class Line:
    """One line of a chart: `values` names a RunSeries list (`loss`, `test_acc`, ...) or computes one from the
    series; `base` says which x values it goes with ("epoch": one per epoch row, "acc": one per accuracy row)."""

    values: Values
    label: str = ""  # the legend entry for a lone run when the chart has several lines
    base: str = ""  # "" : taken from `values` when it names a list
    secondary: bool = False  # drawn dotted (grey for a lone run), left out for seed groups

    def ys(self, series: RunSeries) -> list[float]:
        return list(series.get(self.values)) if isinstance(self.values, str) else self.values(series)

    def xs(self, series: RunSeries, axis: str) -> list[float]:
        base = self.base or (base_of(self.values) if isinstance(self.values, str) else "epoch")
        return series.acc_x(axis) if base == "acc" else series.x(axis)


@dataclass(frozen=True)
class Chart:
    key: str  # what a choice is saved as
    title: str  # the chart's name in its title ("loss by epoch")
    unit: str  # the y axis's unit ("" for a plain number); the picker adds it when the title lacks it
    metric: str  # what "no <metric> recorded" names when no run has a value
    lines: tuple[Line, ...]
    log_ok: bool = False  # `y` may put it on a log scale
    bounds: tuple[float, float] | None = None  # where values can lie (percentages: 0-100): the y axis follows the
    # data within them, and `z` shows all of them
    group_title: str = ""  # the title with seed groups (only the first line is drawn), if it differs
    family: str = ""  # a per-layer family of the metric registry: one line per layer the series holds, after `lines`

    def lines_for(self, series: RunSeries) -> tuple[Line, ...]:
        """The lines this chart draws for `series`: its own, then one per layer of its family (named by the layer)."""
        if not self.family:
            return self.lines
        return self.lines + tuple(Line(f"{self.family}.{layer}", layer) for layer in series.layers.get(self.family, ()))

    def has_data(self, series: RunSeries) -> bool:
        """Whether the series has a finite value on any of this chart's lines."""
        return any(math.isfinite(v) for line in self.lines_for(series) for v in line.ys(series))


def default_chart(m: metrics.Metric) -> Chart:
    """A metric's own chart, from its row: its title and unit, one line (one per layer for a family), 0-100 for a
    percentage, a log scale where the row allows it."""
    title = (m.chart_title or m.title) + (f" {m.unit}" if m.unit else "")
    lines = () if m.family else (Line(m.name),)
    return Chart(m.name, title, m.unit, m.title, lines, log_ok=m.log_ok, bounds=(0, 100) if m.percent else None,
                 family=m.name if m.family else "")


def registry_charts() -> dict[str, Chart]:
    """Loss, the two accuracies together, then every metric's default chart in the metric registry's order."""
    accuracy = Chart("accuracy", "accuracy %", "%", "accuracy",
                     (Line("test_acc", "test"), Line("train_acc", "train", secondary=True)), bounds=(0, 100),
                     group_title="test accuracy %")
    made = [default_chart(m) for m in metrics.METRICS if m.chart]
    return {c.key: c for c in (*made[:1], accuracy, *made[1:])}


CHARTS: dict[str, Chart] = registry_charts()
DEFAULT_PANES = ("loss", "accuracy")


def chart(key: str) -> Chart:
    """The registry entry for `key`; an unknown key (an older saved choice) falls back to loss."""
    return CHARTS.get(key) or CHARTS["loss"]


@dataclass
class ChartChoice:
    """Which chart each of the two chart panes shows and whether log-capable charts use a log y scale: one for a
    console session, shared by the main view, compare and replay."""

    panes: list[str] = field(default_factory=lambda: list(DEFAULT_PANES))
    log: bool = False
    full: bool = False  # `z`: bounded charts (accuracy) show their whole range (0-100) instead of the data's

    def charts(self) -> list[Chart]:
        return [chart(key) for key in self.panes]

    def log_for(self, c: Chart) -> bool:
        return self.log and c.log_ok

    def stamp(self) -> tuple:
        """Changes whenever what the panes show changes (screens redraw when it does)."""
        return (*self.panes, self.log, self.full)


def log_values(values: list[float]) -> list[float]:
    """log10 of each value, for a log axis drawn on a linear one (plotext's own log scale re-applies itself on every
    render); a value that is not positive becomes a gap."""
    return [math.log10(v) if v > 0 else math.nan for v in values]


def log_ticks(lo: float, hi: float, most: int = 6) -> list[tuple[float, str]]:
    """Ticks for a log axis over log10 values lo..hi: (position, label in real units), at the powers of ten, or at
    1-2-5 steps when the range spans less than two decades; at most `most` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    lo, hi = min(lo, hi), max(lo, hi)
    first, last = math.floor(lo), math.ceil(hi)
    for steps in ((1, 2, 5), (1,)):
        ticks = [e + math.log10(m) for e in range(first, last + 1) for m in steps]
        ticks = [t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]
        if len(ticks) <= most and (len(ticks) >= 2 or steps == (1,)):
            break
    if len(ticks) > most:  # many decades: every k-th one
        k = math.ceil(len(ticks) / most)
        ticks = ticks[::k]
    if len(ticks) < 2:  # within one 1-2-5 step: the ends
        ticks = [lo, hi] if hi > lo else [lo]
    return [(t, format(10 ** t, ".3g")) for t in ticks]


def nice_step(span: float, most: int) -> float:
    """The smallest 1-2-5 step (times a power of ten) that covers `span` in at most `most` - 1 steps."""
    if not (span > 0 and math.isfinite(span)):
        return 1.0
    step = 10 ** math.floor(math.log10(span / max(most - 1, 1)))
    for m in (1, 2, 2.5, 5, 10, 20):
        if span / (step * m) <= most - 1:
            return step * m
    return step * 50


def linear_axis(lo: float, hi: float, most: int = 5,
                bounds: tuple[float, float] | None = None) -> tuple[tuple[float, float], list[float]]:
    """A y range and evenly spaced ticks for values lo..hi: the range widened to whole steps (within `bounds`),
    the ticks every step (1, 2, 2.5 or 5 times a power of ten), at most `most` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return (0.0, 1.0), [0.0, 1.0]
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, most)
    low, high = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    if bounds:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    ticks = []
    t = math.ceil(low / step - 1e-9) * step
    while t <= high + step * 1e-6:
        ticks.append(round(t, 10))
        t += step
    return (low, high), ticks


def tick_label(value: float, step: float) -> str:
    """A tick as short as its step allows: 20, 2.5, 0.04."""
    digits = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step * 10 ** digits % 1 > 1e-6:  # 2.5 and the like need one more
        digits += 1
    return f"{value:.{digits}f}"
