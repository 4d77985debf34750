"""The foreground launcher: the groups train here, in this process, one after another (as submitit's in-process
DebugExecutor is an Executor). The caller shows the progress; a closed terminal does not stop training. Torch is
imported only when a group starts training."""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Any, Callable, ContextManager, Iterator

from ..states import State
from ..store import RunDir, RunStore
from .base import Group, Started

Event = dict[str, Any]  # a trainer's progress event: {"kind": "status" | "warning" | "step" | "epoch", ...}
# display(runs, resume) -> a context, held while the group trains, whose value is called with each event
Display = Callable[[list[RunDir], bool], ContextManager[Callable[[Event], None]]]


@contextlib.contextmanager
def quiet(runs: list[RunDir], resume: bool) -> Iterator[Callable[[Event], None]]:
    """Show nothing (the display when none is given)."""
    yield lambda event: None


class TerminalGuard:
    """A foreground run outlives its terminal: on SIGHUP (a closed SSH link or tmux pane) output goes to
    /dev/null and training goes on, so a new console finds the run live. Ctrl-C and SIGTERM stop it."""

    def __init__(self, stop: threading.Event, runs: list[RunDir]):
        self.stop = stop
        self.runs = runs
        self.detached = False

    def __enter__(self) -> "TerminalGuard":
        self.previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)

    def _handle(self, signum, frame) -> None:
        if signum != signal.SIGHUP:
            self.stop.set()
            return
        if self.detached:
            return
        self.detached = True
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # writes to a dead terminal would fail; to /dev/null they cannot
            os.dup2(null, fd)
        os.close(null)
        for run in self.runs:
            try:
                run.log(f"terminal closed: training goes on in the background (pid {os.getpid()})")
            except OSError:
                pass


class ForegroundLauncher:
    """Trains each group in this process in turn; a stop (Ctrl-C, SIGTERM) ends the whole launch, and the groups
    not started yet say so. `states` holds each run's end state, in launch order, once start() returns."""

    name = "foreground"
    groups_runs = True

    def __init__(self, display: Display = quiet) -> None:
        self.display = display
        self.states: list[str] = []

    def start(self, store: RunStore, groups: list[Group], resume: bool = False) -> Started:
        for i, group in enumerate(groups):
            self.states += self.train(group, resume)
            if State.CANCELLED in self.states:
                for later in groups[i + 1:]:  # never started: say so rather than leave them to read as lost
                    for run in later.runs:
                        run.update_status(state=State.CANCELLED, ended=time.time(),
                                          error="not started: the study was stopped")
                break
        return Started(f"{len(groups)} trainer(s) here, one after another")

    def train(self, group: Group, resume: bool) -> list[str]:
        """Train one group; Ctrl-C stops it after the current step, as SIGTERM does. RunBusy when another trainer
        owns one of its runs."""
        from ..trainer.engine import Trainer

        stop = threading.Event()
        with TerminalGuard(stop, group.runs) as guard, self.display(group.runs, resume) as show:
            def on_event(event: Event) -> None:
                if not guard.detached:
                    show(event)

            return Trainer(group.runs, resume=resume, stop=stop, progress=on_event, claim=group.claim).run()
