"""How the console names runs and their states on screen: one place, so the list, details and compare agree."""
from __future__ import annotations

import math

from rich.text import Text

from ..safetext import safe
from ..states import State
from ..store import RunInfo

STATE_STYLES = {State.RUNNING: "bold green", State.QUEUED: "cyan", State.FINISHED: "blue", State.FAILED: "bold red",
                State.CANCELLED: "yellow", State.LOST: "bold magenta", State.CORRUPT: "bold red"}


def state_text(info: RunInfo) -> Text:
    """The run's state as every view shows it: a damaged folder reads "corrupt" everywhere, a run waiting in the
    local queue "queued #3"."""
    return Text(info.state_text, style=STATE_STYLES.get(info.state, ""))


def acc(value: float | None) -> str:
    """An accuracy (0..1) in percent with one decimal and no sign, or "-"."""
    return "-" if value is None or not math.isfinite(value) else f"{value * 100:.1f}"


def acc_at(value: float | None, epoch: int | None) -> str:
    """A best accuracy with the epoch it was reached at: 61.5@38."""
    return acc(value) + (f"@{epoch}" if value is not None and epoch is not None else "")


def epochs_text(epoch: int, epochs: int) -> str:
    """12/40; totals of a thousand and more are written 1k so the list column stays narrow."""
    total = f"{epochs // 1000}k" if epochs >= 1000 and epochs % 1000 == 0 else str(epochs)
    return f"{epoch}/{total}"


def short_ids(run_ids: list[str]) -> dict[str, str]:
    """The shortest tail of each id that tells the runs apart: the random part (3f9c), else time and tail, else all.

    20261126-093012-D-3f9c -> 3f9c; two runs both ending 3f9c -> 093012-D-3f9c."""
    out = {}
    for run_id in run_ids:
        parts = run_id.split("-")
        for k in range(1, len(parts) + 1):
            name = "-".join(parts[-k:])
            if name == run_id or sum(other == name or other.endswith("-" + name) for other in run_ids) == 1:
                out[run_id] = name
                break
    return out


def started_text(run_id: str) -> str:
    """20261126-093012-D-3f9c -> 11-26 09:30 3f9c (when it started and its random tail)."""
    parts = run_id.split("-")
    if len(parts) >= 4 and len(parts[0]) == 8 and len(parts[1]) == 6:
        day, t = parts[0], parts[1]
        return f"{day[4:6]}-{day[6:]} {t[:2]}:{t[2:4]} {parts[-1]}"
    return run_id[-16:]


def cut(text: str, width: int) -> str:
    """`text` in at most `width` cells: cut short with an ellipsis (the details pane shows it whole)."""
    text = safe(text)
    return text if len(text) <= width else text[:max(0, width - 1)] + "…"


def fit_label(label: str, width: int) -> str:
    """A run's label (or name) in `width` cells. Too long, it loses the words before its grid fields first (a name,
    the preset: `…p_fc=0.7 seed=2`; the grid point and seed tell a study's rows apart, the details pane shows it
    whole), then its fields' names (`…0.01 0.3 seed=3`, `…0.01 0.3 s3`), then its end (`…` marks every cut)."""
    label = safe(label)
    if len(label) <= width:
        return label
    words = label.split()
    first = next((i for i, w in enumerate(words) if "=" in w), None)
    if first is not None and first > 0 or first == 0 and len(words) > 1:
        fields = words[first:]
        for text in (" ".join(fields),
                     " ".join(w.split("=", 1)[1] if "=" in w and not w.startswith("seed=") else w for w in fields)):
            for candidate in (text, text.replace("seed=", "s")):
                if len(candidate) + 1 <= width:
                    return "…" + candidate
    return cut(label, width)


def run_names(infos: list[RunInfo]) -> dict[str, str]:
    """What charts and tables call each run: its label (`D p_fc=0.3 seed=2`, a lone run's preset); runs that share
    a label are told apart by the shortest tail of their ids (`A·3f9c`)."""
    tails = short_ids([i.run_id for i in infos])
    counts: dict[str, int] = {}
    for info in infos:
        counts[info.label] = counts.get(info.label, 0) + 1
    return {i.run_id: safe(i.label if counts[i.label] == 1 else f"{i.label}·{tails[i.run_id]}") for i in infos}
