"""The hyperparameter table: one row per run, the config fields that vary among the runs as columns, then the
figures (final and best accuracy, final loss, the generalisation gap). Shared by `dropout-tui hparams` and the
console's table screen; CSV for a spreadsheet. No torch, no UI."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from .query import FIGURES
from .store import RunInfo

# Config keys that are bookkeeping, not hyperparameters.
NOT_HPARAMS = {"label", "study", "description", "extra", "data_dir"}
# The figures shown after the fields: (column, header); values from query.FIGURES (accuracy in percent).
FIGURE_COLUMNS = (("test", "test%"), ("train", "train%"), ("best", "best%"), ("gap", "gap"), ("loss", "loss"))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def varying_fields(infos: list[RunInfo]) -> list[str]:
    """Config fields whose value is not the same in every run, in config order (first seen)."""
    seen: dict[str, set[str]] = {}
    for info in infos:
        for key in info.config:
            if key not in NOT_HPARAMS:
                seen.setdefault(key, set())
    for key, values in seen.items():
        for info in infos:
            values.add(_key(info.config.get(key)))
    return [key for key, values in seen.items() if len(values) > 1]


def columns(infos: list[RunInfo]) -> list[tuple[str, str]]:
    """(key, header) of every column: the run, its fields that vary, then the figures."""
    return [("run", "run"), ("name", "name"), ("state", "state"), ("tags", "tags"),
            *[(f"config.{k}", k) for k in varying_fields(infos)], *FIGURE_COLUMNS]


def value(info: RunInfo, key: str) -> Any:
    """The raw value of one cell (None when the run lacks it)."""
    if key == "run":
        return info.run_id
    if key == "name":
        return info.label
    if key == "state":
        return info.state
    if key == "tags":
        return " ".join(info.tags)
    if key.startswith("config."):
        return info.config.get(key[len("config."):])
    return FIGURES[key][1](info)


def cell_text(raw: Any, key: str) -> str:
    if raw is None:
        return "-"
    if key in ("test", "train", "best"):
        return f"{raw:.2f}"
    if key == "gap":
        return f"{raw:+.2f}"
    if key == "loss":
        return f"{raw:.4f}"
    if isinstance(raw, float):
        return f"{raw:g}"
    return str(raw)


def table(infos: list[RunInfo]) -> tuple[list[str], list[list[str]]]:
    """Headers and text rows, in the order of `infos`."""
    cols = columns(infos)
    return [h for _, h in cols], [[cell_text(value(info, k), k) for k, _ in cols] for info in infos]


def csv_text(infos: list[RunInfo]) -> str:
    """The table as CSV: raw numbers (accuracy in percent), empty cells where a run lacks a value."""
    cols = columns(infos)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([h for _, h in cols])
    for info in infos:
        writer.writerow(["" if (v := value(info, k)) is None else round(v, 4) if isinstance(v, float) else v
                         for k, _ in cols])
    return out.getvalue()
