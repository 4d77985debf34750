"""The metric registry: every value a run records in metrics.jsonl, one `Metric` row each. No UI, no torch.

A row says the metric's key, what it is in words, its unit, when the trainer records it (every epoch, or the
evaluated epochs), how it is shown (a fraction shown in percent) and where it goes: the row checks of the tail
(store/tail.py), the chart series (series.py), its default chart (charts.py), the CSV, Markdown and TensorBoard
exports (export.py) and the help all read this table. A row marked `family` is a pattern: one value per hidden layer
under the keys `<name>.<layer>` (`sparsity.conv1`), as many layers as the network has.
docs/extending.md ("A metric or chart") says how to add one."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

EPOCH = "epoch"  # recorded in every row
EVAL = "eval"  # recorded on the evaluated epochs only (where train and test accuracy are measured)
LAYER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}\Z")  # conv1, fc1, h2, layer4: short, no dots, nothing to escape
MAX_LAYERS = 64  # layers a reader takes per family; any past it (a hand-made file) are left out


@dataclass(frozen=True)
class Metric:
    name: str  # its key in metrics.jsonl; a family's keys are "<name>.<layer>"
    title: str  # what it is, in words: a chart with no value says "no <title> recorded"
    unit: str = ""  # "%" (a fraction shown x100), "s", "pp"; "" for a plain number
    when: str = EPOCH  # EPOCH: every row has it; EVAL: the evaluated epochs
    percent: bool = False  # recorded as a fraction 0-1; series, charts and Markdown show it in percent
    family: bool = False  # one value per hidden layer, keys "<name>.<layer>"
    derive: Callable[[dict[str, Any]], Any] | None = None  # computed from a row, never recorded (the gap)
    column: bool = True  # a column of the CSV and Markdown exports (derived ones are not)
    fmt: str = ".4f"  # how the Markdown table writes it (a percent metric: 12.34%)
    float32: bool = False  # measured in float32: the CSV writes the shortest text that reads back as that float32
    tensorboard: str | None = ""  # its TensorBoard tag ("": the name; None: not a scalar there)
    series: bool = True  # a chart series (False: elapsed, the time axis itself)
    chart: bool = True  # has a chart of its own in charts.CHARTS
    chart_title: str = ""  # that chart's name when not the title ("gap train-test")
    log_ok: bool = False  # its chart may use a log y scale
    about: str = ""  # one line for the help and docs

    @property
    def recorded(self) -> bool:
        return self.derive is None

    @property
    def tag(self) -> str | None:
        return None if self.tensorboard is None else self.tensorboard or self.name

    def key(self, layer: str) -> str:
        """A family's key for one layer."""
        return f"{self.name}.{layer}"


def _gap(row: dict[str, Any]) -> float | None:
    """Train minus test accuracy in percentage points; None unless both were measured."""
    train, test = row.get("train_acc"), row.get("test_acc")
    if isinstance(train, (int, float)) and isinstance(test, (int, float)) and math.isfinite(train - test):
        return (train - test) * 100
    return None


# In the order of the CSV and Markdown columns (after "epoch"); charts follow it after loss and accuracy.
METRICS: tuple[Metric, ...] = (
    Metric("loss", "loss", float32=True, log_ok=True, about="the epoch's mean training loss (cross-entropy, nats)"),
    Metric("lr", "learning rate", fmt=".2e", log_ok=True, about="the learning rate of the epoch"),
    Metric("seconds", "epoch time", "s", fmt=".2f", tensorboard="epoch_seconds",
           about="the epoch's own training seconds"),
    Metric("train_acc", "train accuracy", "%", EVAL, percent=True, float32=True,
           about="accuracy on the whole training set, dropout off"),
    Metric("test_acc", "test accuracy", "%", EVAL, percent=True, float32=True,
           about="accuracy on the test set, dropout off"),
    Metric("gap", "accuracy gap", "pp", EVAL, derive=_gap, column=False, chart_title="gap train-test",
           about="train minus test accuracy, percentage points"),
    Metric("elapsed", "elapsed time", "s", fmt=".1f", tensorboard=None, series=False, chart=False,
           about="wall seconds since the run first started, across resumes"),
    Metric("act_mean", "mean activation", "", EVAL, family=True, float32=True,
           about="each hidden layer's mean activation on a fixed batch of test images, dropout off"),
    Metric("sparsity", "sparsity", "%", EVAL, percent=True, family=True, float32=True,
           about="each hidden layer's fraction of exact zeros on that batch"),
    Metric("wnorm", "weight norm", "", EVAL, family=True, float32=True,
           about="the L2 norm of each hidden layer's weights"),
)


_views: dict[str, Any] = {}  # views of METRICS, made again whenever METRICS is another tuple (a test patches it)


def _view(name: str, make: Callable[[], Any]) -> Any:
    held = _views.get(name)
    if held is None or held[0] is not METRICS:
        held = _views[name] = (METRICS, make())
    return held[1]


def by_name() -> dict[str, Metric]:
    """The table by key."""
    return _view("by_name", lambda: {m.name: m for m in METRICS})


def metric(name: str) -> Metric:
    return by_name()[name]


def recorded() -> list[Metric]:
    """Plain metrics the trainer writes under their own key (families and derived ones left out)."""
    return _view("recorded", lambda: [m for m in METRICS if m.recorded and not m.family])


def families() -> list[Metric]:
    return _view("families", lambda: [m for m in METRICS if m.family])


def split_key(key: str) -> tuple[Metric, str] | None:
    """(family, layer) for a family key such as "sparsity.conv1"; None for any other key."""
    name, dot, layer = key.partition(".")
    if not dot or not LAYER_NAME.match(layer):
        return None
    for m in families():
        if m.name == name:
            return m, layer
    return None


def family_keys(row: dict[str, Any]) -> Iterable[tuple[str, Metric, str]]:
    """(key, family, layer) for each family key of a row."""
    for key in row:
        if "." in key:
            found = split_key(key)
            if found:
                yield key, found[0], found[1]


def row_columns(keys: Iterable[str]) -> list[str]:
    """The export columns for rows holding `keys`: "epoch", every recorded plain metric, then each family's layers
    in the order first seen (at most MAX_LAYERS a family)."""
    layers: dict[str, list[str]] = {m.name: [] for m in families()}
    for key in keys:
        found = split_key(key)
        if found:
            seen = layers[found[0].name]
            if found[1] not in seen and len(seen) < MAX_LAYERS:
                seen.append(found[1])
    return ["epoch", *(m.name for m in METRICS if m.column and m.recorded and not m.family),
            *(f"{name}.{layer}" for name, names in layers.items() for layer in names)]


def metric_of_column(column: str) -> Metric | None:
    """The row behind an export column (a family's for "sparsity.conv1"); None for "epoch"."""
    found = split_key(column)
    return found[0] if found else by_name().get(column)


def help_lines() -> list[str]:
    """One line per metric, for the help: its key, unit and what it is."""
    lines = []
    for m in METRICS:
        key = f"{m.name}.<layer>" if m.family else m.name
        when = "evaluated epochs" if m.when == EVAL else "every epoch"
        lines.append(f"{key} ({m.unit or 'number'}, {when}{', derived' if not m.recorded else ''}): {m.about}")
    return lines
