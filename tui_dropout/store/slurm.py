"""Slurm job states for liveness: one `squeue` call, cached a few seconds, serves every run that asks."""
from __future__ import annotations

import shutil
import subprocess
import threading
import time

# Slurm job states (squeue %T): a job that waits to (re)start, and every state in which Slurm still has it
WAITING_JOB_STATES = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED"}
LIVE_JOB_STATES = WAITING_JOB_STATES | {"CONFIGURING", "RUNNING", "COMPLETING", "RESIZING", "SUSPENDED",
                                        "STAGE_OUT", "SIGNALING"}

CACHE_SECONDS = 5.0

_lock = threading.Lock()
_cache: tuple[float, dict[str, str] | None] = (0.0, None)


def job_states() -> dict[str, str] | None:
    """Job id (array tasks as 12_3) -> state for this user's jobs; None when squeue cannot answer."""
    global _cache
    with _lock:
        stamp, states = _cache
        if time.monotonic() - stamp < CACHE_SECONDS:
            return states
        states = None
        if shutil.which("squeue"):
            try:
                out = subprocess.run(["squeue", "-h", "-r", "--me", "-o", "%i %T"], capture_output=True, text=True,
                                     timeout=3)  # asked from the console's tick: a hung slurmctld is 'unknown'

                if out.returncode == 0:
                    states = dict(line.split(None, 1) for line in out.stdout.splitlines() if " " in line)
            except (OSError, subprocess.SubprocessError):
                states = None
        _cache = (time.monotonic(), states)
        return states


def forget() -> None:
    """Drop the cache (after a submission or scancel, the next look asks squeue again)."""
    global _cache
    with _lock:
        _cache = (0.0, None)


def job_state(job_id: str) -> str | None:
    """The job's state as squeue names it (PENDING, RUNNING...), "" once Slurm no longer has it; None: unknown."""
    states = job_states()
    if states is None:
        return None
    return states.get(job_id, "").strip()


def job_alive(job_id: str) -> bool | None:
    """True while Slurm still has the job (pending, running, requeued...), False once it is gone; None: unknown."""
    state = job_state(job_id)
    return None if state is None else state in LIVE_JOB_STATES


def scancel(job_id: str) -> bool:
    if not shutil.which("scancel"):
        return False
    try:
        out = subprocess.run(["scancel", job_id], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        forget()
    return out.returncode == 0
