"""Starting, stopping and resuming trainer processes (detached: own session, no pipes). No torch."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .store import (ACTIVE, WORKER_OUT, RunBusy, RunDir, RunStore, effective_state, process_start_time,
                    proven_process)
from .store.rundir import owner_text


class TrainerProcess:
    """A detached trainer: a new session so a closed console or SSH link leaves it running."""

    def __init__(self, runs: list[RunDir], resume: bool = False, claim: str | None = None):
        self.runs = runs
        self.resume = resume
        self.claim = claim
        self.proc: subprocess.Popen | None = None

    def start(self) -> int:
        cmd = [sys.executable, "-m", "tui_dropout.trainer.worker", *(["--resume"] if self.resume else []),
               *(["--claim", self.claim] if self.claim else []), *[str(r.path.resolve()) for r in self.runs]]
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with open(self.runs[0].file(WORKER_OUT), "ab") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True, env=env, close_fds=True)
        for run in self.runs:
            run.update_status(pid=self.proc.pid, pid_start=process_start_time(self.proc.pid))
        return self.proc.pid

    def poll(self) -> int | None:
        """Reap the child when it has ended (else it lingers as a zombie); None while it runs."""
        return self.proc.poll() if self.proc else None

    def wait(self, timeout: float | None = None) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)


def claim_group(runs: list[RunDir]) -> str:
    """Claim every run for one new trainer with one token; on RunBusy nothing stays claimed by us."""
    token = None
    claimed: list[tuple[RunDir, dict]] = []
    try:
        for run in runs:
            before = run.read_status()
            token = run.claim(token)
            claimed.append((run, before))
    except RunBusy:
        for run, before in claimed:  # put back what was there
            run.update_status(**{**before, "claim": None})
        raise
    assert token is not None
    return token


def cancel(run: RunDir) -> str:
    """Ask the run's trainer to stop, through a request in the run folder that it honours wherever it runs.

    SIGTERM is only a fast path, sent to a pid proven to be the run's trainer (this host, same start time)."""
    status = run.read_status()
    state = effective_state(status)
    if state in ("finished", "failed", "cancelled"):
        raise ValueError(f"run: {run.run_id} is already {state}")
    run.request_cancel()
    if state == "lost":
        run.update_status(state="cancelled", ended=time.time())
        run.clear_cancel_request()
        run.log("cancelled (no live trainer)")
        return "cancelled"
    pid = proven_process(status)
    if pid is not None:
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGTERM)
            else:
                os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return "stopping"


def resume_group(store: RunStore, run: RunDir) -> list[RunDir]:
    """The runs to resume with `run`: its fused partners that stopped with it, else the run alone.

    A run with no checkpoint (killed before its first) resumes too: it starts over from epoch 1."""
    status = run.read_status()
    state = effective_state(status)
    if state in ACTIVE:
        raise RunBusy(owner_text(run.run_id, status, state))
    if state not in ("lost", "cancelled", "failed"):
        raise ValueError(f"run: {run.run_id} is {state}; only lost, cancelled or failed runs resume")
    group = status.get("group")
    members = []
    for run_id in group if isinstance(group, list) else [run.run_id]:
        try:
            other = run if run_id == run.run_id else store.find(str(run_id))
        except KeyError:
            continue
        if other.run_id != run_id or not other.has_checkpoint():
            continue
        if effective_state(other.read_status()) in ("lost", "cancelled"):
            members.append(other)
    if run not in members or not run.has_checkpoint():
        return [run]
    return members
