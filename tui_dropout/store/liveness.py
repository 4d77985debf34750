"""Is a run's trainer alive? A pid plus its process start time on this host, else the heartbeat's age."""
from __future__ import annotations

import os
import socket
import time
from typing import Any

from . import slurm
from .slurm import LIVE_JOB_STATES, WAITING_JOB_STATES
from ..states import ACTIVE, STATES, State

HEARTBEAT_SECONDS = 5.0  # how often a live trainer rewrites status.json
STALE_SECONDS = 120.0  # heartbeat age after which a run on another host counts as lost


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot): with the pid, it names one process for good."""
    try:
        with open(f"/proc/{int(pid)}/stat") as f:
            text = f.read()
    except (OSError, ValueError, OverflowError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent has not reaped it yet
        return None
    return int(fields[19])


def process_alive(pid: Any, start_time: Any) -> bool:
    """True when `pid` runs and, if `start_time` is given, is the very process that wrote it."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    now_start = process_start_time(pid)
    if now_start is None:
        return False
    return start_time is None or now_start == start_time


HOLDER_MODULE = "tui_dropout.launch.holder"  # what a queue holder's command line runs (`python -m ...`)


def process_args(pid: int) -> list[str] | None:
    """The command line of `pid` (/proc/<pid>/cmdline), or None when it cannot be read."""
    try:
        with open(f"/proc/{int(pid)}/cmdline", "rb") as f:
            return f.read(65536).decode("utf-8", "replace").split("\0")
    except (OSError, ValueError, OverflowError):
        return None


def holder_alive(pid: Any, start_time: Any, root: Any = None) -> bool:
    """True when `pid` is provably a live queue holder (of runs folder `root`, when given): the same process
    start time and a holder's command line. A pid and a start time alone can be copied from any process (pid 1)."""
    if not isinstance(start_time, int) or isinstance(start_time, bool) or not process_alive(pid, start_time):
        return False
    args = process_args(pid)
    if args is None or HOLDER_MODULE not in args:
        return False
    return root is None or os.path.realpath(root) in args


def proven_process(status: dict[str, Any]) -> int | None:
    """The pid in `status` when it is provably the process that wrote it: same host, same start time."""
    pid, start = status.get("pid"), status.get("pid_start")
    if status.get("host") != socket.gethostname() or not isinstance(start, int):
        return None
    return pid if process_alive(pid, start) else None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def effective_state(status: dict[str, Any], now: float | None = None) -> str:
    """The state as written, except that an active run whose trainer (or launcher) is gone reads as 'lost'."""
    state = status.get("state", State.LOST)
    if state not in ACTIVE:
        return state if state in STATES else State.LOST
    now = now or time.time()
    if status.get("backend") == "slurm" and isinstance(status.get("job_id"), str):
        return _slurm_state(status, state, now)
    host = status.get("host")
    if host and host != socket.gethostname():
        beat = max(_number(status.get("heartbeat")), _number(status.get("updated")))
        return state if now - beat < STALE_SECONDS else State.LOST
    if not status.get("pid") and status.get("queue_pid"):
        # waiting in the local queue: alive as long as the queue's holder is
        return state if holder_alive(status.get("queue_pid"), status.get("queue_pid_start")) else State.LOST
    if not status.get("pid"):
        # written by an older launcher a moment before the trainer existed
        return state if now - _number(status.get("updated")) < STALE_SECONDS else State.LOST
    return state if process_alive(status.get("pid"), status.get("pid_start")) else State.LOST


def _slurm_state(status: dict[str, Any], state: str, now: float) -> str:
    """A Slurm run: its trainer's pid on this host, else a fresh heartbeat, else what Slurm says of the job: one
    waiting in Slurm (pending, or requeued and not started again) is `queued`, whatever its trainer last wrote."""
    beat_age = now - max(_number(status.get("heartbeat")), _number(status.get("updated")))
    if status.get("pid") and status.get("host") == socket.gethostname():
        if process_alive(status.get("pid"), status.get("pid_start")):
            return state
    elif status.get("pid") and beat_age < 3 * HEARTBEAT_SECONDS:
        return state
    job = slurm.job_state(status["job_id"])
    if job is None:  # no squeue here (a console on a laptop over a shared folder): the heartbeat decides
        return state if beat_age < STALE_SECONDS else State.LOST
    if job in WAITING_JOB_STATES:
        return State.QUEUED
    return state if job in LIVE_JOB_STATES else State.LOST


def host_and_pid() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "pid_start": process_start_time(pid)}
