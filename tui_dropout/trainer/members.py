"""The runs a trainer trains together (their figures), and the heartbeat that keeps their status alive."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from ..config import RunConfig
from ..states import State
from ..store import HEARTBEAT_SECONDS, RunDir, RunInfo


@dataclass
class Member:
    """One run of the K trained together, with the figures it reports."""

    run: RunDir
    cfg: RunConfig
    active: bool = True
    best_train_acc: float | None = None
    best_train_epoch: int | None = None
    best_test_acc: float | None = None
    best_test_epoch: int | None = None
    final_train_acc: float | None = None
    final_test_acc: float | None = None
    final_loss: float | None = None
    train_seconds: float = 0.0
    wall_before: float = 0.0  # wall seconds of earlier sessions, as of the checkpoint this one resumed from
    state: str = State.RUNNING
    error: str | None = None
    epochs_done: int = 0

    def record_accuracy(self, epoch: int, train_acc: float, test_acc: float) -> None:
        self.final_train_acc, self.final_test_acc = train_acc, test_acc
        if self.best_train_acc is None or train_acc > self.best_train_acc:
            self.best_train_acc, self.best_train_epoch = train_acc, epoch
        if self.best_test_acc is None or test_acc > self.best_test_acc:
            self.best_test_acc, self.best_test_epoch = test_acc, epoch

    def figures(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in FIGURE_FIELDS}

    def set_figures(self, figures: dict[str, Any]) -> None:
        for key in FIGURE_FIELDS:
            setattr(self, key, figures.get(key))

    def keep_previous(self, info: RunInfo) -> None:
        """Start from what the folder shows, so a resume that fails early rewrites the same figures."""
        self.set_figures({key: getattr(info, key) for key in FIGURE_FIELDS})
        self.epochs_done = info.epoch
        self.wall_before = info.elapsed or 0.0
        seconds = info.summary.get("train_seconds")
        self.train_seconds = float(seconds) if isinstance(seconds, (int, float)) else 0.0


FIGURE_FIELDS = ("best_train_acc", "best_train_epoch", "best_test_acc", "best_test_epoch", "final_train_acc",
                 "final_test_acc", "final_loss")


class Heartbeat(threading.Thread):
    """While the trainer lives: every member's heartbeat in status.json, and cancel requests honoured within a second."""

    def __init__(self, members: list[Member], stop: threading.Event):
        super().__init__(daemon=True, name="heartbeat")
        self.members = members
        self.stop = stop
        self.halt = threading.Event()

    def run(self) -> None:
        last_beat = time.monotonic()
        while not self.halt.wait(CANCEL_POLL_SECONDS):
            if any(m.active and m.run.cancel_requested() for m in self.members):
                self.stop.set()
            if time.monotonic() - last_beat < HEARTBEAT_SECONDS:
                continue
            last_beat = time.monotonic()
            for m in self.members:
                if m.active:
                    try:
                        m.run.update_status(heartbeat=time.time())
                    except OSError:  # a full disk: the training thread meets it too and stops the run
                        pass


CANCEL_POLL_SECONDS = 1.0
