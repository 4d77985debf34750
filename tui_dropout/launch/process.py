"""A detached trainer process: its own session (a closed console or SSH link leaves it running), no pipes."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

from ..store import WORKER_OUT, RunDir, process_start_time
from ..store.files import open_append

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def detached(cmd: list[str], out_path: Path, env_extra: dict[str, str] | None = None,
             pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    """Start `cmd` in a new session with stdin closed and output appended to `out_path` (and `pass_fds` open).
    `out_path` is in a run folder: never opened through a link (OSError ELOOP, naming it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(env_extra or {})
    with open_append(out_path) as out:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, close_fds=True, pass_fds=pass_fds)


class TrainerProcess:
    """`python -m tui_dropout.trainer.worker` for runs that train together, detached."""

    def __init__(self, runs: list[RunDir], resume: bool = False, claim: str | None = None,
                 env: dict[str, str] | None = None):
        self.runs = runs
        self.resume = resume
        self.claim = claim
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    def start(self) -> int:
        cmd = [sys.executable, "-m", "tui_dropout.trainer.worker", *(["--resume"] if self.resume else []),
               *(["--claim", self.claim] if self.claim else []), *[str(r.path.resolve()) for r in self.runs]]
        self.proc = detached(cmd, self.runs[0].file(WORKER_OUT), self.env)
        for run in self.runs:
            run.update_status(pid=self.proc.pid, pid_start=process_start_time(self.proc.pid))
        return self.proc.pid

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def poll(self) -> int | None:
        """Reap the child when it has ended (else it lingers as a zombie); None while it runs."""
        return self.proc.poll() if self.proc else None

    def wait(self, timeout: float | None = None) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)


class Children:
    """The processes this process started and must reap (else they linger as zombies that still look alive):
    launchers add to it from any thread (the console's launch worker), one tick reaps it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: list = []  # anything with poll(): a TrainerProcess, a queue holder's Popen

    def add(self, proc) -> None:
        with self._lock:
            self._procs.append(proc)

    def reap(self) -> None:
        """Forget the processes that have ended, reaping each."""
        with self._lock:
            self._procs = [proc for proc in self._procs if proc.poll() is None]

    def __iter__(self) -> Iterator:
        with self._lock:
            return iter(list(self._procs))

    def __len__(self) -> int:
        with self._lock:
            return len(self._procs)
