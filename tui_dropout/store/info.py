"""RunInfo: what lists, details and tables show of one run, read from its files with every type checked."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .liveness import ACTIVE

# The figures a run reports, with their types; the trainer keeps them in status.json (live) and summary.json (end).
FIGURES: dict[str, type] = {
    "epoch": int, "best_train_acc": float, "best_train_epoch": int, "best_test_acc": float,
    "best_test_epoch": int, "final_train_acc": float, "final_test_acc": float, "final_loss": float,
    "elapsed": float,
}


@dataclass
class RunInfo:
    """One run as lists show it. `problem` is set when a file is damaged; `state` is then "corrupt"."""

    run_id: str
    path: Path
    state: str
    preset: str = "?"
    epoch: int = 0
    epochs: int = 0
    best_test_acc: float | None = None
    best_test_epoch: int | None = None
    best_train_acc: float | None = None
    best_train_epoch: int | None = None
    final_train_acc: float | None = None
    final_test_acc: float | None = None
    final_loss: float | None = None
    elapsed: float | None = None  # wall seconds of training so far, across resumes
    created: float = 0.0
    error: str | None = None
    problem: str | None = None
    status: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def damaged(self) -> bool:
        return self.state == "corrupt"


def typed(data: dict[str, Any], key: str, kind: type, where: str, problems: list[str]) -> Any:
    """data[key] when it has the right type (None when absent or null); a wrong type is noted in `problems`."""
    value = data.get(key)
    if value is None:
        return None
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
          if kind is float else isinstance(value, kind) and not isinstance(value, bool) if kind is int
          else isinstance(value, kind))
    if not ok:
        problems.append(f"{where}: {key} is {value!r}, not {'text' if kind is str else 'a number'}")
        return None
    return float(value) if kind is float else value


def fill_figures(info: RunInfo, status: dict[str, Any], summary: dict[str, Any], problems: list[str]) -> None:
    """Figures come from the live status; an ended run falls back to its summary for any the status lacks.

    A summary left by an earlier stop never overrides a run that is active again."""
    use_summary = info.state not in ACTIVE and summary.get("state") == status.get("state", summary.get("state"))
    for key, kind in FIGURES.items():
        value = typed(status, key, kind, "status.json", problems)
        if value is None and use_summary:
            value = typed(summary, "epochs_done" if key == "epoch" else key, kind, "summary.json", problems)
            if value is None and key == "elapsed":
                value = typed(summary, "wall_seconds", float, "summary.json", problems)
        if value is not None:
            setattr(info, key, value)
