"""`--json` output of the CLI: one schema (docs/json.md) with stable keys; figures are numbers, accuracies and
ECE fractions as metrics.jsonl holds them, times in seconds. json.dumps escapes every control and non-ASCII
character, so run-folder text is safe to print as it is. No torch, no UI."""
from __future__ import annotations

import json
import math
from typing import Any

from . import evaluation
from .groups import FIGURES, SeedGroup
from .store import RunInfo

SCHEMA = "dropout-tui/1"
UNITS = {"accuracy": "fraction (0-1)", "ece": "fraction (0-1)", "loss": "nats", "time": "seconds"}
RUN_FIGURES = ("final_train_acc", "final_test_acc", "best_train_acc", "best_train_epoch", "best_test_acc",
               "best_test_epoch", "final_loss")


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON: null, as for a figure not recorded."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def document(command: str, **payload: Any) -> str:
    body = _finite({"schema": SCHEMA, "command": command, "units": UNITS, **payload})
    return json.dumps(body, indent=1, default=str, allow_nan=False)


def run_record(info: RunInfo, number: int | None = None, evaluated: dict | None | bool = False) -> dict[str, Any]:
    """One run: its identity, state, progress, figures, what the user wrote of it and its config. `evaluated`:
    the run's evaluation.json as read (False: read it here)."""
    data = evaluation.read(info.path) if evaluated is False else evaluated
    cols = evaluation.columns(data)
    return {
        "id": info.run_id, "number": number, "state": str(info.state), "state_text": info.state_text,
        "label": info.label, "study": info.study, "preset": info.preset, "name": info.name, "tags": list(info.tags),
        "note": info.note, "epoch": info.epoch, "epochs": info.epochs, "elapsed": info.elapsed,
        "created": info.created, "error": info.error, "problem": info.problem,
        "figures": {key: getattr(info, key) for key in RUN_FIGURES},
        "evaluation": None if cols["det_acc"] is None else {**cols, "mc_passes": (data or {}).get("mc_passes")},
        "config": {k: v for k, v in info.config.items() if k not in ("extra", "description")},
    }


def group_record(group: SeedGroup) -> dict[str, Any]:
    """A seed group: its figures over finished runs only, and which runs it left out."""
    out: dict[str, Any] = {"name": group.name, "runs": group.n, "finished": len(group.finished),
                           "run_ids": [i.run_id for i in group.runs],
                           "left_out": [{"id": i.run_id, "state": str(i.state), "epoch": i.epoch} for i in group.unfinished]}
    out["figures"] = {}
    for name in FIGURES:
        s = group.figure(name, finished_only=True)
        out["figures"][name] = {"mean": s.mean, "std": s.std, "n": s.n}
    return out
