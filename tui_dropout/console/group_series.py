"""A seed group drawn as one: at each epoch the mean of its runs' loss and accuracy, and the mean ± one standard
deviation either side (groups.spread: over the runs that reached that epoch). No Textual."""
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
    rows = []
    for epoch in epochs:
        rows.append([[column(s)[ix[epoch]] for s, ix in zip(series, index) if epoch in ix] for column in columns])
    return epochs, rows


def band(series: list[RunSeries]) -> BandSeries:
    """Mean and mean±std of the runs' series, epoch by epoch; the time axis takes the mean elapsed time."""
    mean, low, high = RunSeries(), RunSeries(), RunSeries()
    epochs, rows = _at(series, lambda s: s.epochs, (lambda s: s.elapsed, lambda s: s.loss))
    for epoch, (elapsed, loss) in zip(epochs, rows):
        t = spread(elapsed).mean or 0.0
        value = spread(loss)
        for out, sign in ((mean, 0), (low, -1), (high, 1)):
            out.epochs.append(epoch)
            out.elapsed.append(t)
            out.loss.append(_shifted(value, sign))
    epochs, rows = _at(series, lambda s: s.acc_epochs,
                       (lambda s: s.acc_elapsed, lambda s: s.train_acc, lambda s: s.test_acc))
    for epoch, (elapsed, train, test) in zip(epochs, rows):
        t = spread(elapsed).mean or 0.0
        train_value, test_value = spread(train), spread(test)
        for out, sign in ((mean, 0), (low, -1), (high, 1)):
            out.acc_epochs.append(epoch)
            out.acc_elapsed.append(t)
            out.train_acc.append(_shifted(train_value, sign))
            out.test_acc.append(_shifted(test_value, sign))
    return BandSeries(mean, low, high, len(series))


def _shifted(value, sign: int) -> float:
    if value.mean is None:
        return float("nan")  # no run has a finite value here: a gap
    return value.mean + sign * (value.std or 0.0)
