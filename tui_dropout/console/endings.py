"""When a run ends: the console tells (a notification, and the terminal bell unless turned off), since studies
run for hours. Only a run this console saw queued or running counts: opening the console tells nothing."""
from __future__ import annotations

from ..export import pct
from ..states import State
from ..store import RunInfo

ACTIVE = (State.QUEUED, State.RUNNING)
ENDED = {State.FINISHED: "information", State.CANCELLED: "information", State.FAILED: "error",
         State.LOST: "warning"}
BELL_FOR = (State.FINISHED, State.FAILED, State.LOST)  # a cancel is the user's own doing: no bell
LISTED = 3  # runs named in one notification; more are counted


class Endings:
    """Each refresh, the runs that went from queued or running to an end since the last one."""

    def __init__(self) -> None:
        self.seen: dict[str, str] | None = None

    def news(self, infos: list[RunInfo]) -> list[RunInfo]:
        states = {info.run_id: str(info.state) for info in infos if info.state in ACTIVE}  # only these can end
        before, self.seen = self.seen, states
        if before is None:
            return []
        return [info for info in infos if str(info.state) in ENDED and before.get(info.run_id) in ACTIVE]


def _line(info: RunInfo) -> str:
    if str(info.state) == State.FINISHED:
        return f"{info.label}: test {pct(info.final_test_acc)} (best {pct(info.best_test_acc)})"
    if str(info.state) == State.FAILED and info.error:
        return f"{info.label}: {' '.join(str(info.error).split())[:120]}"
    return f"{info.label} at epoch {info.epoch}/{info.epochs}"


def messages(ended: list[RunInfo]) -> list[tuple[str, str, str, bool]]:
    """(title, text, severity, bell) per state that runs reached: one notification for a fused group's end."""
    out = []
    for state, severity in ENDED.items():
        runs = [info for info in ended if str(info.state) == state]
        if not runs:
            continue
        lines = [_line(info) for info in runs[:LISTED]]
        if len(runs) > LISTED:
            lines.append(f"and {len(runs) - LISTED} more")
        title = f"{len(runs)} runs {state}" if len(runs) > 1 else f"run {state}"
        out.append((title, "\n".join(lines), severity, state in BELL_FOR))
    return out
