"""inside.json: what a run's hidden layers did at its latest evaluation (activations, zeros, weight norms, their
histograms and the first layer's filters), read without torch and checked as user input is.

A damaged file (not JSON, a wrong type or range anywhere, too large, a link) reads as absent, with a problem that
names the file: it never costs the run, its figures or a reader."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..metrics import LAYER_NAME, MAX_LAYERS
from .files import DamagedFile, read_json

INSIDE = "inside.json"
MAX_INSIDE_BYTES = 16 << 20  # a LeNet-5's file is ~20 kB, an MLP's with 64 filters of 28x28 ~0.5 MB
MAX_BINS = 1000
MAX_FILTERS = 64
MAX_FILTER_VALUES = 1 << 16  # c*h*w of one filter: 3x32x32 is 3,072; a 256x256 grey input 65,536
MAX_COUNT = 2**53  # counts are exact integers in every JSON reader
MAX_EPOCH = 2**31 - 1


@dataclass(frozen=True)
class Histogram:
    edges: tuple[float, ...]  # n + 1 rising bin edges
    counts: tuple[int, ...]  # n counts


@dataclass(frozen=True)
class Layer:
    name: str  # conv1, fc1, h2, block3, layer4 (letters, digits, _)
    units: int  # activations per image
    mean: float  # NaN when not recorded (a diverged network)
    zero_fraction: float  # 0-1, or NaN
    weight_norm: float  # or NaN
    hist: Histogram  # every activation of the layer on the batch
    unit_mean_hist: Histogram  # each unit's mean activation over the batch


@dataclass(frozen=True)
class Filters:
    layer: str
    shape: tuple[int, int, int, int]  # k filters of c x h x w
    values: tuple[tuple[float, ...], ...]  # k rows of c*h*w weights (NaN where null)


@dataclass(frozen=True)
class Inside:
    epoch: int  # the evaluated epoch it describes
    images: int  # test images looked at
    layers: tuple[Layer, ...]
    filters: Filters | None


def _bad(what: str) -> DamagedFile:
    return DamagedFile(f"{INSIDE}: {what}")


def _int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"{what} is not a whole number from {low} to {high}")
    return value


def _number(value: Any, what: str) -> float:
    """A number, or null (NaN: written for a value that was not finite)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(f"{what} is not a number")
    try:
        return float(value)
    except OverflowError:
        raise _bad(f"{what} is too large") from None


def _table(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{what} is not a table")
    return value


def _list(value: Any, what: str, most: int) -> list:
    if not isinstance(value, list):
        raise _bad(f"{what} is not a list")
    if len(value) > most:
        raise _bad(f"{what} has more than {most} entries")
    return value


def _histogram(value: Any, what: str) -> Histogram:
    table = _table(value, what)
    counts = _list(table.get("counts"), f"{what} counts", MAX_BINS)
    edges = _list(table.get("edges"), f"{what} edges", MAX_BINS + 1)
    if not counts or len(edges) != len(counts) + 1:
        raise _bad(f"{what} needs one more edge than counts")
    edges_f = tuple(_number(e, f"{what} edges") for e in edges)
    if not all(math.isfinite(e) for e in edges_f) or any(b < a for a, b in zip(edges_f, edges_f[1:])):
        raise _bad(f"{what} edges do not rise")
    return Histogram(edges_f, tuple(_int(c, f"{what} counts", 0, MAX_COUNT) for c in counts))


def _layer(value: Any, i: int) -> Layer:
    table = _table(value, f"layer {i + 1}")
    name = table.get("name")
    if not isinstance(name, str) or not LAYER_NAME.match(name):
        raise _bad(f"layer {i + 1} has no valid name")
    zeros = _number(table.get("zero_fraction"), f"{name} zero_fraction")
    if not (math.isnan(zeros) or 0 <= zeros <= 1):
        raise _bad(f"{name} zero_fraction is not within 0-1")
    return Layer(name, _int(table.get("units"), f"{name} units", 1, 2**40), _number(table.get("mean"), f"{name} mean"),
                 zeros, _number(table.get("weight_norm"), f"{name} weight_norm"),
                 _histogram(table.get("hist"), f"{name} hist"),
                 _histogram(table.get("unit_mean_hist"), f"{name} unit_mean_hist"))


def _filters(value: Any) -> Filters | None:
    if value is None:
        return None
    table = _table(value, "filters")
    layer = table.get("layer")
    if not isinstance(layer, str) or not LAYER_NAME.match(layer):
        raise _bad("filters has no valid layer name")
    shape = _list(table.get("shape"), "filters shape", 4)
    if len(shape) != 4:
        raise _bad("filters shape is not [k, c, h, w]")
    k, c, h, w = (_int(n, "filters shape", 1, MAX_FILTER_VALUES) for n in shape)
    if k > MAX_FILTERS or c * h * w > MAX_FILTER_VALUES:
        raise _bad("filters are too many or too large")
    rows = _list(table.get("values"), "filters values", MAX_FILTERS)
    if len(rows) != k:
        raise _bad(f"filters values has {len(rows)} rows, not {k}")
    out = []
    for row in rows:
        row = _list(row, "a filter", MAX_FILTER_VALUES)
        if len(row) != c * h * w:
            raise _bad(f"a filter has {len(row)} weights, not {c * h * w}")
        out.append(tuple(_number(v, "a filter weight") for v in row))
    return Filters(layer, (k, c, h, w), tuple(out))


def parse_inside(data: dict[str, Any]) -> Inside:
    """An Inside from inside.json's object; DamagedFile naming the file and the first thing wrong."""
    layers = tuple(_layer(v, i) for i, v in enumerate(_list(data.get("layers"), "layers", MAX_LAYERS)))
    if len({layer.name for layer in layers}) != len(layers):
        raise _bad("two layers have the same name")
    return Inside(_int(data.get("epoch"), "epoch", 1, MAX_EPOCH), _int(data.get("images"), "images", 1, 2**40),
                  layers, _filters(data.get("filters")))


def load_inside(run_dir: Path) -> tuple[Inside | None, str]:
    """(what inside.json says, "") or, when it is damaged, (None, one line naming the file and what is wrong);
    (None, "") when the run has none (an older run, or no evaluation yet)."""
    try:
        data = read_json(Path(run_dir) / INSIDE, limit=MAX_INSIDE_BYTES)
        return (parse_inside(data) if data is not None else None), ""
    except DamagedFile as exc:
        text = str(exc)
        return None, text if INSIDE in text else f"{INSIDE}: {text}"
    except (OSError, RecursionError, ValueError) as exc:  # a folder that is a link, or anything else unreadable
        return None, f"{INSIDE} cannot be read: {exc}"


def read_inside(run_dir: Path) -> Inside | None:
    """What inside.json says, or None when the run has none or it is damaged (load_inside says why)."""
    return load_inside(run_dir)[0]


def inside_epoch(run_dir: Path) -> int | None:
    """The epoch inside.json describes, when it is whole."""
    inside = read_inside(run_dir)
    return inside.epoch if inside else None
