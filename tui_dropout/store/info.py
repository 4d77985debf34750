"""RunInfo: what lists, details and tables show of one run, read from its files with every type checked."""
from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import FIELD_TYPES as CONFIG_TYPES
from ..states import State
from .liveness import ACTIVE, STATES

RUN_IDS = "run ids"  # a kind for typed(): a list of run ids (text)

# The figures a run reports, with their types; the trainer keeps them in status.json (live) and summary.json (end).
FIGURES: dict[str, Any] = {
    "epoch": int, "best_train_acc": float, "best_train_epoch": int, "best_test_acc": float,
    "best_test_epoch": int, "final_train_acc": float, "final_test_acc": float, "final_loss": float,
    "elapsed": float,
}

# Every other field the trainer, the launchers and `cancel` write, with its type. A field of the wrong type means
# the file was damaged or hand-edited: the run is shown as corrupt, never with a wrong figure or a crash.
# Unknown fields are left alone (a newer or older version may write more).
STATUS_FIELDS: dict[str, Any] = {
    "state": str, "pid": int, "pid_start": int, "host": str, "claim": str, "group": RUN_IDS, "epochs": int,
    "created": float, "queued": float, "started": float, "session_started": float, "ended": float,
    "heartbeat": float, "updated": float, "lr": float, "last_loss": float, "error": str, "device": str,
    # where it trains: the local queue, Slurm
    "backend": str, "job_id": str, "slot": str, "gpu": int, "queue_seq": int, "queue_pid": int, "queue_pid_start": int,
    "queue_resume": bool, "dispatched": float, "requeued": float, **FIGURES,
}
SUMMARY_FIELDS: dict[str, Any] = {
    "state": str, "epochs_done": int, "epochs": int, "train_seconds": float, "wall_seconds": float, "error": str,
    **FIGURES,
}

# Exact value types that need no closer look (bool is a subclass of int, hence type() and not isinstance).
FAST_TYPES: dict[Any, tuple[type, ...]] = {str: (str,), int: (int,), float: (float, int), bool: (bool,),
                                           dict: (dict,)}

LAZY_TABLES = ("config", "status")  # made when first read on an info from the index (RunInfo.__getattr__)

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 40
_short.maxlevel = 2


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
    queue_position: int | None = None  # 1-based place in the local queue while it waits for a slot
    name: str = ""  # what the user calls it (notes.json), and its tags and note
    tags: list[str] = field(default_factory=list)
    note: str = ""
    status: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)  # empty when the info came from the listing index

    def __getattr__(self, name: str) -> Any:
        """`config` and `status` of an info served from the listing index, made from its columns when first read:
        a listing of 50,000 runs reads few of them (see `config_value`)."""
        source = self.__dict__.get("_tables") if name in LAZY_TABLES else None
        if source is None:
            raise AttributeError(name)
        tables, i = source
        value = self.__dict__[name] = tables[name].row(i)
        return value

    def config_value(self, key: str) -> Any:
        """One config value (None when absent), without making the whole config of an info from the index."""
        if "config" in self.__dict__ or "_tables" not in self.__dict__:
            config = self.config
            return config.get(key) if isinstance(config, dict) else None
        tables, i = self.__dict__["_tables"]
        return tables["config"].value(i, key)

    @property
    def damaged(self) -> bool:
        return self.state == State.CORRUPT

    @property
    def study_label(self) -> str:
        """The readable label (`D p_fc=0.3 seed=2`) a study gave the run, else its preset."""
        label = self.config_value("label")
        return label if isinstance(label, str) and label else self.preset

    @property
    def label(self) -> str:
        """The name the user gave the run, else its study label, else its preset."""
        return self.name or self.study_label

    @property
    def study(self) -> str:
        study = self.config_value("study")
        return study if isinstance(study, str) else ""

    @property
    def state_text(self) -> str:
        """The state as lists show it: `queued #3` while waiting in the local queue, `queued (requeued)` while a
        Slurm job stopped by its time limit or a preemption waits to start again."""
        if self.state == State.QUEUED and self.queue_position:
            return f"{self.state} #{self.queue_position}"
        if self.state == State.QUEUED and self.status.get("backend") == "slurm" and (
                self.status.get("requeued") or self.status.get("state") == State.RUNNING):
            return "queued (requeued)"
        return self.state


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fits(value: Any, kind: Any) -> bool:
    """Whether `value` has type `kind` as the run files mean it (a float may be written as an int; a bool is no
    number)."""
    if kind is float:
        return is_number(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is RUN_IDS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, kind)


_WHAT = {str: "text", int: "a whole number", float: "a number", bool: "true or false", dict: "a table",
         list: "a list", RUN_IDS: "a list of run ids"}


def typed(data: dict[str, Any], key: str, kind: Any, where: str, problems: list[str]) -> Any:
    """data[key] when it has the right type (None when absent or null); a wrong type is noted in `problems`.

    A number that is not finite (a bare NaN or Infinity from an older version) reads as null: not damage."""
    value = data.get(key)
    if value is None:
        return None
    if not fits(value, kind):
        problems.append(f"{where}: {key} is {_short.repr(value)}, not {_WHAT.get(kind) or kind.__name__}")
        return None
    if kind is float:
        try:
            value = float(value)
        except OverflowError:  # an integer beyond any float: read_json refuses these, but be sure
            problems.append(f"{where}: {key} is a number too large to use")
            return None
        return value if math.isfinite(value) else None
    return value


def check_fields(data: dict[str, Any], kinds: dict[str, Any], where: str, problems: list[str]) -> None:
    """Note every known field of `data` whose value has the wrong type (a fast pass over the fields present;
    the slow path words the problem)."""
    for key, value in data.items():
        kind = kinds.get(key)
        if kind is None or value is None:
            continue
        fast = FAST_TYPES.get(kind)
        if fast is not None and type(value) in fast and (kind is not float or math.isfinite(value)):
            continue
        typed(data, key, kind, where, problems)
    state = data.get("state")
    if "state" in kinds and isinstance(state, str) and state not in STATES:
        problems.append(f"{where}: state is {_short.repr(state)}, not one of {', '.join(STATES)}")


def fill_figures(info: RunInfo, status: dict[str, Any], summary: dict[str, Any], problems: list[str]) -> None:
    """Figures come from the live status; an ended run falls back to its summary for any the status lacks.

    A summary left by an earlier stop never overrides a run that is active again. Every known field of
    info.config, `status` and `summary` is type-checked too; each problem is noted once."""
    check_fields(info.config, CONFIG_TYPES, "config.json", problems)
    check_fields(status, STATUS_FIELDS, "status.json", problems)
    check_fields(summary, SUMMARY_FIELDS, "summary.json", problems)
    ignored: list[str] = []  # already noted above
    use_summary = info.state not in ACTIVE and summary.get("state") == status.get("state", summary.get("state"))
    for key, kind in FIGURES.items():
        value = typed(status, key, kind, "status.json", ignored)
        if value is None and use_summary:
            value = typed(summary, "epochs_done" if key == "epoch" else key, kind, "summary.json", ignored)
            if value is None and key == "elapsed":
                value = typed(summary, "wall_seconds", float, "summary.json", ignored)
        if value is not None:
            setattr(info, key, value)
    problems[:] = list(dict.fromkeys(problems))
