"""Chart series from metric rows: x-axis choice, EMA smoothing and downsampling. No UI, no torch."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_POINTS = 1000  # a plotext build costs ~16 ms at 1k points per series; keep redraws cheap
SMOOTHING_LEVELS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)


def step_smoothing(current: float, delta: int) -> float:
    """The next smoothing level up (delta 1) or down (-1) from `current`."""
    index = min(range(len(SMOOTHING_LEVELS)), key=lambda i: abs(SMOOTHING_LEVELS[i] - current))
    return SMOOTHING_LEVELS[min(len(SMOOTHING_LEVELS) - 1, max(0, index + delta))]


@dataclass
class RunSeries:
    """The metric rows of one run, accumulated from its tail."""

    epochs: list[int] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)  # wall seconds since the run began, at each epoch's end
    loss: list[float] = field(default_factory=list)
    acc_epochs: list[int] = field(default_factory=list)
    acc_elapsed: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)

    def clear(self) -> None:
        for value in vars(self).values():
            value.clear()

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            epoch = int(row.get("epoch", 0))
            if self.epochs and epoch <= self.epochs[-1]:
                continue  # a row already seen (resume rewrites the file)
            t = float(row.get("elapsed", sum(self.elapsed[-1:]) + float(row.get("seconds", 0))))
            self.epochs.append(epoch)
            self.elapsed.append(t)
            self.loss.append(float(row.get("loss", float("nan"))))
            if row.get("test_acc") is not None:
                self.acc_epochs.append(epoch)
                self.acc_elapsed.append(t)
                self.train_acc.append(float(row.get("train_acc") or 0.0) * 100)
                self.test_acc.append(float(row["test_acc"]) * 100)

    def upto(self, epoch: int) -> "RunSeries":
        """The series as it stood at the end of `epoch` (replay)."""
        n = _count_le(self.epochs, epoch)
        m = _count_le(self.acc_epochs, epoch)
        return RunSeries(self.epochs[:n], self.elapsed[:n], self.loss[:n], self.acc_epochs[:m],
                         self.acc_elapsed[:m], self.train_acc[:m], self.test_acc[:m])

    def x(self, axis: str) -> list[float]:
        return [t / 60 for t in self.elapsed] if axis == "time" else list(self.epochs)

    def acc_x(self, axis: str) -> list[float]:
        return [t / 60 for t in self.acc_elapsed] if axis == "time" else list(self.acc_epochs)


def _count_le(values: list[int], limit: int) -> int:
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] <= limit:
            lo = mid + 1
        else:
            hi = mid
    return lo


def ema(values: list[float], alpha: float) -> list[float]:
    """Exponential moving average with weight `alpha` on the past (0: raw values), bias-corrected."""
    if alpha <= 0 or not values:
        return list(values)
    out, acc, weight = [], 0.0, 0.0
    for v in values:
        acc = alpha * acc + (1 - alpha) * v
        weight = alpha * weight + (1 - alpha)
        out.append(acc / weight)
    return out


def downsample(xs: list[float], ys: list[float], limit: int = MAX_POINTS) -> tuple[list[float], list[float]]:
    """At most `limit` points, evenly strided, always keeping the last point."""
    n = len(xs)
    if n <= limit:
        return list(xs), list(ys)
    step = n / limit
    idx = sorted({int(i * step) for i in range(limit)} | {n - 1})
    return [xs[i] for i in idx], [ys[i] for i in idx]
