"""Chart series from metric rows: x-axis choice, EMA smoothing and downsampling (bounded as rows come in). No UI,
no torch."""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from typing import Any, Iterable

from . import metrics
from .store.tail import clean_row

MAX_POINTS = 1000  # a plotext build costs ~16 ms at 1k points per series; keep redraws cheap
KEEP_ROWS = MAX_POINTS  # a RunSeries holds at most this many rows of each kind: past it, it thins itself (compact)
SMOOTHING_LEVELS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
# plotext fails (OverflowError, ValueError) on values near the float limits: beyond 1e300 a value is drawn as a gap,
# below 1e-300 as 0. No loss, accuracy or time is anywhere near either.
PLOT_MAX = 1e300
PLOT_MIN = 1e-300


def step_smoothing(current: float, delta: int) -> float:
    """The next smoothing level up (delta 1) or down (-1) from `current` (which need not be a level itself)."""
    if delta > 0:
        return min((level for level in SMOOTHING_LEVELS if level > current + 1e-9), default=SMOOTHING_LEVELS[-1])
    if delta < 0:
        return max((level for level in SMOOTHING_LEVELS if level < current - 1e-9), default=SMOOTHING_LEVELS[0])
    return min(SMOOTHING_LEVELS, key=lambda level: abs(level - current))


def plottable(value: Any) -> float:
    """`value` as a float a chart can draw: NaN (a gap) when it is not a finite number of sensible size."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    try:
        value = float(value)
    except OverflowError:
        return math.nan
    if not math.isfinite(value) or abs(value) > PLOT_MAX:
        return math.nan
    return 0.0 if abs(value) < PLOT_MIN else value


def base_of(name: str) -> str:
    """The x base of a series value list: "acc" (one per evaluated epoch) or "epoch" (one per row), from the
    metric registry; a family's layer list ("sparsity.conv1") goes with its family."""
    found = metrics.split_key(name)
    m = found[0] if found else metrics.by_name().get(name)
    return "acc" if m is not None and m.when == metrics.EVAL else "epoch"


def plain_names(base: str) -> tuple[str, ...]:
    """The registry's plain (not per-layer) chart series on one x base, in its order."""
    return metrics._view(f"series {base}", lambda: tuple(
        m.name for m in metrics.METRICS if m.series and not m.family and base_of(m.name) == base))


class _Names:
    """RunSeries.EPOCH_VALUES / ACC_VALUES: read from the registry when asked, on the class or an instance."""

    def __init__(self, base: str):
        self.base = base

    def __get__(self, obj: Any, owner: Any) -> tuple[str, ...]:
        return plain_names(self.base)


def _value(m: metrics.Metric, row: dict[str, Any], key: str | None = None) -> float:
    """A metric's value in a row as the charts draw it: a fraction in percent, a gap as NaN."""
    value = plottable(m.derive(row) if m.derive else row.get(key or m.name))
    return plottable(value * 100) if m.percent else value


class RunSeries:
    """The metric rows of one run, accumulated from its tail; every list is as long as its x list.

    One value list per chart series of the metric registry (tui_dropout/metrics.py), read as attributes
    (`series.loss`, `series.test_acc`: accuracies in percent) or by name (`get`), and one per layer of each family
    the rows hold (`series.get("sparsity.conv1")`; `layers` names them). A list is on one of two x bases: a row per
    epoch, or a row per evaluated epoch (`acc_epochs`).

    `epochs` rise strictly: a row for an epoch already held (a resume restarted there) replaces that epoch and
    everything after it. Times (`elapsed`) are always finite, so the time axis has no holes; values may be NaN.

    Memory stays bounded whatever the run's length: past KEEP_ROWS rows (of epoch rows, or of accuracy rows) the
    series is thinned to buckets of `width` epochs (a power of two, growing as needed), each keeping its first and
    last row and, for every value list, the rows of its smallest and largest value and its first gap. So the
    first and last epochs and the extremes of every chart survive, and a live run stays incremental."""

    # The registry's plain value lists on each x base: a row per epoch, or a row per epoch that measured accuracy.
    EPOCH_VALUES = _Names("epoch")
    ACC_VALUES = _Names("acc")

    def __init__(self, width: int = 1, acc_width: int = 1):
        self.epochs: list[int] = []
        self.elapsed: list[float] = []  # wall seconds since the run began, at each epoch's end
        self.acc_epochs: list[int] = []
        self.acc_elapsed: list[float] = []
        self.values: dict[str, list[float]] = {}  # every value list by name, plain metrics first
        self.bases: dict[str, str] = {}  # each value list's x base
        self.layers: dict[str, list[str]] = {}  # each family's layers, in the order first seen
        self._names: dict[str, list[str]] = {}  # names(base), kept until a list comes or goes
        self.width = width  # epochs per bucket of the epoch rows, once thinned (1: every row is held)
        self.acc_width = acc_width  # the same for the accuracy rows
        for base in ("epoch", "acc"):
            for name in plain_names(base):
                self.values[name], self.bases[name] = [], base

    def __getattr__(self, name: str) -> list[float]:
        values = self.__dict__.get("values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        values = self.__dict__.get("values")
        if values is not None and name in values:
            values[name] = value
        else:
            object.__setattr__(self, name, value)

    def names(self, base: str) -> list[str]:
        """The value lists on x base `base` ("epoch" or "acc"), plain metrics first, then each family's layers."""
        names = self._names.get(base)
        if names is None:
            names = self._names[base] = [name for name, b in self.bases.items() if b == base]
        return names

    def get(self, name: str) -> list[float]:
        """The value list `name`; a list of gaps as long as its x list when this run has none (a layer it lacks)."""
        if name in self.values:
            return self.values[name]
        return [math.nan] * len(self.acc_epochs if base_of(name) == "acc" else self.epochs)

    def ensure(self, name: str) -> list[float]:
        """The value list `name`, made (empty) when the series has none yet: a seed group's mean takes every layer
        any of its runs has."""
        if name not in self.values:
            found = metrics.split_key(name)
            if found:
                self.layers.setdefault(found[0].name, []).append(found[1])
            self.values[name], self.bases[name] = [], base_of(name)
            self._names.clear()
        return self.values[name]

    def clear(self) -> None:
        for values in (*self._epoch_lists(), *self._acc_lists()):
            values.clear()
        for name in [n for n in self.values if "." in n]:
            del self.values[name], self.bases[name]
        self.layers.clear()
        self._names.clear()
        self.width = self.acc_width = 1

    def _epoch_lists(self) -> list[list]:
        return [self.epochs, self.elapsed, *(self.values[name] for name in self.names("epoch"))]

    def _acc_lists(self) -> list[list]:
        return [self.acc_epochs, self.acc_elapsed, *(self.values[name] for name in self.names("acc"))]

    def _drop_from(self, epoch: int) -> None:
        """Forget every row for `epoch` and later."""
        n = bisect_left(self.epochs, epoch)
        m = bisect_left(self.acc_epochs, epoch)
        for values in self._epoch_lists():
            del values[n:]
        for values in self._acc_lists():
            del values[m:]

    def _layer_values(self, row: dict[str, Any]) -> tuple[dict[str, float], bool]:
        """The row's per-layer values by list name, and whether any on the evaluated epochs' base was measured (a
        finite number); a layer seen first gets a list of gaps for the rows before."""
        out: dict[str, float] = {}
        measured = False
        for key, family, layer in metrics.family_keys(row):
            if key not in self.values:
                seen = self.layers.setdefault(family.name, [])
                if len(seen) >= metrics.MAX_LAYERS:
                    continue
                seen.append(layer)
                base = base_of(key)
                self.values[key] = [math.nan] * len(self.acc_epochs if base == "acc" else self.epochs)
                self.bases[key] = base
                self._names.clear()
            out[key] = _value(family, row, key)
            measured = measured or self.bases[key] == "acc" and math.isfinite(plottable(row[key]))
        return out, measured

    def add(self, rows: Iterable[dict[str, Any]], checked: bool = False) -> None:
        """Append metric rows (any iterable: a stream of a huge file is thinned as it goes); rows that are not
        metric rows (wrong types) are skipped. `checked`: the rows come from clean_row already (a MetricsTail's),
        so they are not checked twice."""
        by_name = metrics.by_name()
        acc_names = plain_names("acc")
        measured = [name for name in acc_names if by_name[name].recorded]  # a derived one (the gap) measures nothing
        for raw in rows:
            row = raw if checked else clean_row(raw)
            if row is None:
                continue
            epoch = row["epoch"]
            if self.epochs and epoch <= self.epochs[-1]:
                self._drop_from(epoch)  # the run went back (a resume from an earlier checkpoint)
            last = self.elapsed[-1] if self.elapsed else 0.0
            t = plottable(row.get("elapsed"))
            if math.isnan(t):  # older rows carry only each epoch's own seconds
                seconds = plottable(row.get("seconds"))
                t = last + (seconds if math.isfinite(seconds) and seconds > 0 else 0.0)
                t = t if t <= PLOT_MAX else last
            layers, layer_measured = self._layer_values(row)
            self.epochs.append(epoch)
            self.elapsed.append(t)
            for name in self.names("epoch"):
                self.values[name].append(layers.get(name, math.nan) if "." in name else _value(by_name[name], row))
            if layer_measured or any(math.isfinite(plottable(row.get(name))) for name in measured):
                acc = {name: _value(by_name[name], row) for name in acc_names}
                self.acc_epochs.append(epoch)
                self.acc_elapsed.append(t)
                for name in self.names("acc"):
                    self.values[name].append(layers.get(name, math.nan) if "." in name else acc[name])
                if len(self.acc_epochs) > KEEP_ROWS:
                    self.acc_width = thin(self._acc_lists(), self.acc_width)
            if len(self.epochs) > KEEP_ROWS:
                self.width = thin(self._epoch_lists(), self.width)

    def copy(self, epoch: int | None = None) -> "RunSeries":
        """A copy whose lists are its own; up to the end of `epoch` when given."""
        n = len(self.epochs) if epoch is None else bisect_right(self.epochs, epoch)
        m = len(self.acc_epochs) if epoch is None else bisect_right(self.acc_epochs, epoch)
        out = RunSeries(width=self.width, acc_width=self.acc_width)
        out.epochs, out.elapsed = self.epochs[:n], self.elapsed[:n]
        out.acc_epochs, out.acc_elapsed = self.acc_epochs[:m], self.acc_elapsed[:m]
        out.values = {name: values[:m if self.bases[name] == "acc" else n] for name, values in self.values.items()}
        out.bases = dict(self.bases)
        out.layers = {name: list(layers) for name, layers in self.layers.items()}
        return out

    def upto(self, epoch: int) -> "RunSeries":
        """The series as it stood at the end of `epoch` (replay)."""
        out = self.copy(epoch)
        out.width = out.acc_width = 1
        return out

    def x(self, axis: str) -> list[float]:
        """The loss series' x values: epochs, or minutes since the run began (axis "time")."""
        return [t / 60 for t in self.elapsed] if axis == "time" else list(self.epochs)

    def acc_x(self, axis: str) -> list[float]:
        return [t / 60 for t in self.acc_elapsed] if axis == "time" else list(self.acc_epochs)

    def x_for(self, values: str, axis: str) -> list[float]:
        """The x values of the named value list (`loss`, `gap`, `sparsity.conv1`, ...): epoch rows or accuracy
        rows."""
        return self.acc_x(axis) if base_of(values) == "acc" else self.x(axis)


def thin(lists: list[list], width: int, keep: int = KEEP_ROWS // 2) -> int:
    """Thin aligned lists in place (`lists[0]` the rising epochs, `lists[1]` their times, the rest values) to at most
    `keep` rows; returns the bucket width used (`width` or a multiple of it by a power of two).

    Buckets are aligned on the epoch (bucket b holds epochs b*width+1 .. (b+1)*width), so a bucket of a wider pass
    is whole buckets of a narrower one: what a narrower pass kept includes everything a wider one would pick, and
    thinning again as a live run grows never loses an extreme."""
    while True:
        picks = bucket_picks(lists[0], lists[2:], width)
        if len(picks) <= keep or width >= 1 << 62:
            break
        width *= 2
    for values in lists:
        values[:] = [values[i] for i in picks]
    return width


def bucket_picks(epochs: list[int], value_lists: list[list[float]], width: int) -> list[int]:
    """The indexes a thinning keeps: per bucket of `width` epochs its first and last row and, per value list, the
    rows of its smallest and largest finite value and of its first gap (NaN), in order."""
    picks: set[int] = set()
    n, i = len(epochs), 0
    while i < n:
        bucket = (epochs[i] - 1) // width
        j = i + 1
        while j < n and (epochs[j] - 1) // width == bucket:
            j += 1
        picks.update((i, j - 1))
        for values in value_lists:
            lo = hi = gap = -1
            for k in range(i, j):
                v = values[k]
                if v != v:  # NaN: a gap the chart must still show
                    gap = k if gap < 0 else gap
                elif lo < 0:
                    lo = hi = k
                elif v < values[lo]:
                    lo = k
                elif v > values[hi]:
                    hi = k
            picks.update(k for k in (lo, hi, gap) if k >= 0)
        i = j
    return sorted(picks)


def ema(values: list[float], alpha: float) -> list[float]:
    """Exponential moving average with weight `alpha` on the past (0: raw values), bias-corrected.

    A NaN (a gap) stays a gap and does not poison the points after it."""
    if not 0 < alpha < 1 or not values:
        return list(values)
    out, acc, weight = [], 0.0, 0.0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        acc = alpha * acc + (1 - alpha) * v
        weight = alpha * weight + (1 - alpha)
        out.append(acc / weight)
    return out


def downsample(xs: list[float], ys: list[float], limit: int = MAX_POINTS) -> tuple[list[float], list[float]]:
    """At most `limit` points, evenly strided, always keeping the first and the last point."""
    n = min(len(xs), len(ys))
    if n <= limit:
        return list(xs[:n]), list(ys[:n])
    if limit <= 0:
        return [], []
    if limit == 1:
        return [xs[n - 1]], [ys[n - 1]]
    step = (n - 1) / (limit - 1)  # > 1, so the rounded indexes are distinct
    idx = [round(i * step) for i in range(limit)]
    return [xs[i] for i in idx], [ys[i] for i in idx]
