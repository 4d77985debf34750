"""Starting, stopping and resuming trainer processes (detached: own session, no pipes). No torch."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .store import CHECKPOINT, WORKER_OUT, RunDir, RunStore, effective_state, host_and_pid, process_start_time


class TrainerProcess:
    """A detached trainer: a new session so a closed console or SSH link leaves it running."""

    def __init__(self, runs: list[RunDir], resume: bool = False):
        self.runs = runs
        self.resume = resume
        self.proc: subprocess.Popen | None = None

    def start(self) -> int:
        cmd = [sys.executable, "-m", "tui_dropout.trainer.worker", *(["--resume"] if self.resume else []),
               *[str(r.path.resolve()) for r in self.runs]]
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with open(self.runs[0].file(WORKER_OUT), "ab") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True, env=env, close_fds=True)
        ident = host_and_pid()
        for run in self.runs:
            run.update_status(pid=self.proc.pid, pid_start=process_start_time(self.proc.pid), host=ident["host"])
        return self.proc.pid

    def poll(self) -> int | None:
        """Reap the child when it has ended (else it lingers as a zombie); None while it runs."""
        return self.proc.poll() if self.proc else None

    def wait(self, timeout: float | None = None) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)


def cancel(run: RunDir) -> str:
    """SIGTERM the run's trainer (its process group when it leads one); a dead run is marked cancelled."""
    status = run.read_status()
    state = effective_state(status)
    if state in ("finished", "failed", "cancelled"):
        raise ValueError(f"run: {run.run_id} is already {state}")
    pid = status.get("pid")
    if state == "lost" or not pid:
        run.update_status(state="cancelled", ended=time.time())
        run.log("cancelled (no live trainer)")
        return "cancelled"
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        run.update_status(state="cancelled", ended=time.time())
        return "cancelled"
    return "stopping"


def resume_group(store: RunStore, run: RunDir) -> list[RunDir]:
    """The runs to resume with `run`: its fused group members that can resume, else the run alone."""
    state = effective_state(run.read_status())
    if state not in ("lost", "cancelled", "failed"):
        raise ValueError(f"run: {run.run_id} is {state}; only lost, cancelled or failed runs resume")
    if not run.file(CHECKPOINT).exists():
        raise ValueError(f"run: {run.run_id} has no checkpoint to resume from")
    group = run.read_status().get("group") or [run.run_id]
    members = []
    for run_id in group:
        other = RunDir(store.root / run_id) if run_id != run.run_id else run
        if not other.path.is_dir() or not other.file(CHECKPOINT).exists():
            continue
        other_state = effective_state(other.read_status())
        if other_state in ("lost", "cancelled"):
            members.append(other)
    return members if run in members else [run]
