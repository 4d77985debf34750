"""Chart series from metric rows: x-axis choice, EMA smoothing and downsampling (bounded as rows come in). No UI,
no torch."""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any, Iterable

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


@dataclass
class RunSeries:
    """The metric rows of one run, accumulated from its tail; every list is as long as its x list.

    `epochs` rise strictly: a row for an epoch already held (a resume restarted there) replaces that epoch and
    everything after it. Times (`elapsed`) are always finite, so the time axis has no holes; values may be NaN.

    Memory stays bounded whatever the run's length: past KEEP_ROWS rows (of epoch rows, or of accuracy rows) the
    series is thinned to buckets of `width` epochs (a power of two, growing as needed), each keeping its first and
    last row and, for every value list, the rows of its smallest and largest value and its first gap. So the
    first and last epochs and the extremes of every chart survive, and a live run stays incremental."""

    epochs: list[int] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)  # wall seconds since the run began, at each epoch's end
    loss: list[float] = field(default_factory=list)
    acc_epochs: list[int] = field(default_factory=list)
    acc_elapsed: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)  # percent
    test_acc: list[float] = field(default_factory=list)  # percent
    lr: list[float] = field(default_factory=list)  # the learning rate of each epoch (beside `epochs`)
    seconds: list[float] = field(default_factory=list)  # each epoch's own training seconds (beside `epochs`)
    gap: list[float] = field(default_factory=list)  # train minus test accuracy, percentage points (beside `acc_epochs`)

    width: int = 1  # epochs per bucket of the epoch rows, once thinned (1: every row is held)
    acc_width: int = 1  # the same for the accuracy rows

    # The value lists on each x base: a row per epoch, or a row per epoch that measured accuracy.
    EPOCH_VALUES = ("loss", "lr", "seconds")
    ACC_VALUES = ("train_acc", "test_acc", "gap")

    def clear(self) -> None:
        for values in (*self._epoch_lists(), *self._acc_lists()):
            values.clear()
        self.width = self.acc_width = 1

    def _epoch_lists(self) -> list[list]:
        return [self.epochs, self.elapsed, *(getattr(self, name) for name in self.EPOCH_VALUES)]

    def _acc_lists(self) -> list[list]:
        return [self.acc_epochs, self.acc_elapsed, *(getattr(self, name) for name in self.ACC_VALUES)]

    def _drop_from(self, epoch: int) -> None:
        """Forget every row for `epoch` and later."""
        n = bisect_left(self.epochs, epoch)
        m = bisect_left(self.acc_epochs, epoch)
        for values in self._epoch_lists():
            del values[n:]
        for values in self._acc_lists():
            del values[m:]

    def add(self, rows: Iterable[dict[str, Any]], checked: bool = False) -> None:
        """Append metric rows (any iterable: a stream of a huge file is thinned as it goes); rows that are not
        metric rows (wrong types) are skipped. `checked`: the rows come from clean_row already (a MetricsTail's),
        so they are not checked twice."""
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
            self.epochs.append(epoch)
            self.elapsed.append(t)
            self.loss.append(plottable(row.get("loss")))
            self.lr.append(plottable(row.get("lr")))
            self.seconds.append(plottable(row.get("seconds")))
            train, test = plottable(row.get("train_acc")), plottable(row.get("test_acc"))
            if math.isfinite(train) or math.isfinite(test):
                self.acc_epochs.append(epoch)
                self.acc_elapsed.append(t)
                self.train_acc.append(plottable(train * 100))
                self.test_acc.append(plottable(test * 100))
                self.gap.append(plottable((train - test) * 100))  # NaN unless both were measured
                if len(self.acc_epochs) > KEEP_ROWS:
                    self.acc_width = thin(self._acc_lists(), self.acc_width)
            if len(self.epochs) > KEEP_ROWS:
                self.width = thin(self._epoch_lists(), self.width)

    def upto(self, epoch: int) -> "RunSeries":
        """The series as it stood at the end of `epoch` (replay)."""
        n = bisect_right(self.epochs, epoch)
        m = bisect_right(self.acc_epochs, epoch)
        out = RunSeries()
        for name in ("epochs", "elapsed", *self.EPOCH_VALUES):
            setattr(out, name, getattr(self, name)[:n])
        for name in ("acc_epochs", "acc_elapsed", *self.ACC_VALUES):
            setattr(out, name, getattr(self, name)[:m])
        return out

    def x(self, axis: str) -> list[float]:
        """The loss series' x values: epochs, or minutes since the run began (axis "time")."""
        return [t / 60 for t in self.elapsed] if axis == "time" else list(self.epochs)

    def acc_x(self, axis: str) -> list[float]:
        return [t / 60 for t in self.acc_elapsed] if axis == "time" else list(self.acc_epochs)

    def x_for(self, values: str, axis: str) -> list[float]:
        """The x values of the named value list (`loss`, `gap`, ...): epoch rows or accuracy rows."""
        return self.acc_x(axis) if values in self.ACC_VALUES else self.x(axis)


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
