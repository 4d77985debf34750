"""The hyperparameter table: one row per run, the config fields that vary among the runs as columns, then the
figures (final and best accuracy, final loss, the generalisation gap). Shared by `dropout-tui hparams` and the
console's table screen; CSV for a spreadsheet. No torch, no UI."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from . import evaluation
from .query import FIGURES
from .safetext import safe
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


# A finished evaluation's headline figures (evaluation.columns), shown when any run has one.
EVALUATION_COLUMNS = (("det_acc", "off%"), ("mc_acc", "MC%"), ("det_ece", "offECE%"), ("mc_ece", "MCECE%"))
EVALUATION_KEYS = {key for key, _ in EVALUATION_COLUMNS}
FIGURE_KEYS = {key for key, _ in FIGURE_COLUMNS} | EVALUATION_KEYS
PERCENT = {"test", "train", "best", "det_acc", "mc_acc", "det_ece", "mc_ece"}


def evaluations(infos: list[RunInfo]) -> dict[str, dict]:
    """Each run's finished evaluation (its headline figures), by run id."""
    return {info.run_id: cols for info in infos
            if (cols := evaluation.columns(evaluation.read(info.path))).get("det_acc") is not None}


def columns(infos: list[RunInfo], evaluated: dict[str, dict] | None = None,
            wide: bool = False, figures_first: bool = False) -> list[tuple[str, str]]:
    """(key, header) of every column: the name, the fields that vary, the figures (and the evaluation's, when a
    run has one), then state, tags and run id (what a narrow screen can do without). `wide` (the CSV) adds the
    study and the study label."""
    evaluated = evaluations(infos) if evaluated is None else evaluated
    extra = [("study", "study"), ("label", "label")] if wide else []
    fields = [(f"config.{k}", k) for k in varying_fields(infos)]
    figures = [*FIGURE_COLUMNS, *(EVALUATION_COLUMNS if evaluated else ())]
    middle = [*figures, *fields] if figures_first else [*fields, *figures]  # the console: figures seen first
    return [("name", "name"), *middle, ("state", "state"), ("tags", "tags"), ("run", "run"), *extra]


def value(info: RunInfo, key: str, evaluated: dict[str, dict] | None = None) -> Any:
    """The raw value of one cell (None when the run lacks it)."""
    if key in EVALUATION_KEYS:
        cols = (evaluated or {}).get(info.run_id) or {}
        value_ = cols.get(key)
        return None if value_ is None else value_ * 100.0
    if key == "study":
        return info.study
    if key == "label":
        return info.study_label
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
    if key in PERCENT:
        return f"{raw:.2f}"
    if key == "gap":
        return f"{raw:+.2f}"
    if key == "loss":
        return f"{raw:.4f}"
    if isinstance(raw, float):
        return f"{raw:g}"
    return safe(raw)  # config text and labels from a run folder: shown, never acted on by a terminal


def table(infos: list[RunInfo]) -> tuple[list[str], list[list[str]]]:
    """Headers and text rows, in the order of `infos`."""
    evaluated = evaluations(infos)
    cols = columns(infos, evaluated)
    return [h for _, h in cols], [[cell_text(value(info, k, evaluated), k) for k, _ in cols] for info in infos]


def csv_text(infos: list[RunInfo]) -> str:
    """The table as CSV, with the study and its label: config values as the run has them, figures to 6 significant
    digits (accuracy in percent), empty cells where a run lacks a value."""
    evaluated = evaluations(infos)
    cols = columns(infos, evaluated, wide=True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([h for _, h in cols])
    for info in infos:
        row = []
        for key, _ in cols:
            v = value(info, key, evaluated)
            row.append("" if v is None else float(f"{v:.6g}") if isinstance(v, float) and key in FIGURE_KEYS
                       else v)
        writer.writerow(row)
    return out.getvalue()
