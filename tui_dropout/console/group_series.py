"""A seed group drawn as one: at each epoch the mean of each of its runs' metrics (loss, accuracy, gap, lr, ...),
and the mean ± one standard deviation either side (groups.spread: over the runs that reached that epoch). No Textual."""
from __future__ import annotations

from dataclasses import dataclass

from ..groups import spread
from ..series import RunSeries


@dataclass
class BandSeries:
    """The mean line and the lines one std below and above it; `n` runs in the group."""

    mean: RunSeries
    low: RunSeries
    high: RunSeries
    n: int


def _at(series: list[RunSeries], epochs_of, columns) -> tuple[list[int], list[list[float]]]:
    """The epochs any run has (sorted) and, per epoch, each column's values from the runs that have it."""
    index = [{e: i for i, e in enumerate(epochs_of(s))} for s in series]
    epochs = sorted({e for ix in index for e in ix})
    values = [[column(s) for column in columns] for s in series]
    rows = []
    for epoch in epochs:
        rows.append([[v[c][ix[epoch]] for v, ix in zip(values, index) if epoch in ix] for c in range(len(columns))])
    return epochs, rows


def band(series: list[RunSeries]) -> BandSeries:
    """Mean and mean±std of the runs' series, epoch by epoch, for every value list a RunSeries has (so every chart
    of the registry can draw a group); the time axis takes the mean elapsed time."""
    mean, low, high = RunSeries(), RunSeries(), RunSeries()
    for base, epochs_name, elapsed_name in (("epoch", "epochs", "elapsed"), ("acc", "acc_epochs", "acc_elapsed")):
        names = list(dict.fromkeys(name for s in series for name in s.names(base)))  # per-layer lists included
        for out in (mean, low, high):
            for name in names:
                out.ensure(name)
        columns = [lambda s, n=elapsed_name: getattr(s, n)] + [lambda s, n=n: s.get(n) for n in names]
        epochs, rows = _at(series, lambda s: getattr(s, epochs_name), columns)
        for epoch, (elapsed, *values) in zip(epochs, rows):
            t = spread(elapsed).mean or 0.0
            spreads = [spread(v) for v in values]
            for out, sign in ((mean, 0), (low, -1), (high, 1)):
                getattr(out, epochs_name).append(epoch)
                getattr(out, elapsed_name).append(t)
                for name, value in zip(names, spreads):
                    out.get(name).append(_shifted(value, sign))
    return BandSeries(mean, low, high, len(series))


def _shifted(value, sign: int) -> float:
    if value.mean is None:
        return float("nan")  # no run has a finite value here: a gap
    return value.mean + sign * (value.std or 0.0)
