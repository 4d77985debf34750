"""A run's line in `dropout-tui runs`, after its number and id: state, epoch, final and best test accuracy, and its
name, tags and note (or what is wrong with it). Made safe for a terminal here, once: the listing index keeps it
(`index.py`), so a plain listing of thousands of runs formats only the runs that are new or live."""
from __future__ import annotations

import math
import re
from typing import Callable

from ..safetext import BIDI, SEPARATORS, safe
from ..states import State
from .info import RunInfo

SEPARATOR = "\x1f"  # between a line's cells in the index; `safe` text never holds it (it would read \x1f)
CELLS = 5
# What `safe` never leaves in text, but the separator: a kept line holding any of it was not made here.
UNSAFE_IN_LINE = re.compile("[\x00-\x1e\x7f-\x9f" + BIDI + SEPARATORS + "]")


def pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value * 100:.2f}%"


def cells(info: RunInfo) -> list[str]:
    """[state, epoch/epochs, final test %, best test %, name | tags | note], each safe for a terminal."""
    study = info.study_label
    name = f"{info.name} · {study}" if info.name and info.name != study else study
    tags = " ".join("#" + t for t in info.tags) if info.tags else ""
    text = " | ".join(filter(None, (name, tags, info.problem or info.error or info.note)))
    return [safe(info.state_text), f"{info.epoch}/{info.epochs}", pct(info.final_test_acc), pct(info.best_test_acc),
            " ".join(safe(text).split())]


def kept(info: RunInfo) -> str | None:
    """The line as the index keeps it; None for a run whose line changes without its files (a live or waiting run:
    its state is worked out from its trainer, its place in the queue moves)."""
    recorded = info.status.get("state") if isinstance(info.status, dict) else None
    if info.state in (State.QUEUED, State.RUNNING) or recorded in (State.QUEUED, State.RUNNING):
        return None
    return SEPARATOR.join(cells(info))


def reader(lines: list) -> Callable[[object], list[str] | None]:
    """What reads one of these kept lines into its cells (None when it is not one): `unkept`, or, when one search
    over them all finds nothing `safe` escapes, the same without that search a line."""
    if UNSAFE_IN_LINE.search(SEPARATOR.join([line for line in lines if type(line) is str])):
        return unkept

    def cells_of(line: object) -> list[str] | None:
        if type(line) is not str:
            return None
        out = line.split(SEPARATOR)
        return out if len(out) == CELLS else None

    return cells_of


def unkept(line: object) -> list[str] | None:
    """A kept line's cells; None when it is not one (a damaged or hand-made index: not text, not five cells, or
    holding what `safe` would have escaped, a line break or an escape sequence)."""
    if type(line) is not str or UNSAFE_IN_LINE.search(line):
        return None
    out = line.split(SEPARATOR)
    return out if len(out) == CELLS else None
