"""What the console watches: the runs folder and the metrics of the runs on screen, read incrementally."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .series import RunSeries
from .store import METRICS, STATUS, MetricsTail, RunDir, RunInfo, RunStore

LIVENESS_SECONDS = 2.0  # how often an active run's trainer is looked for in /proc


@dataclass
class WatchedRun:
    run: RunDir
    info: RunInfo
    status_mtime: float = -1.0
    checked: float = 0.0
    tail: MetricsTail | None = None
    series: RunSeries = field(default_factory=RunSeries)


class RunsWatcher:
    """Keeps RunInfo for every run and metric series for the runs asked for, touching only what changed."""

    def __init__(self, store: RunStore):
        self.store = store
        self.runs: dict[str, WatchedRun] = {}

    def refresh(self) -> str:
        """Re-read what changed on disk: "structure" (runs came, went or changed state), "progress", or ""."""
        changed, structure = False, False
        seen = set()
        for run in self.store.run_dirs():
            seen.add(run.run_id)
            watched = self.runs.get(run.run_id)
            mtime = _mtime(run.path / STATUS)
            now = time.time()
            if watched is None:
                self.runs[run.run_id] = WatchedRun(run, run.info(), mtime, now)
                structure = True
                continue
            active = watched.info.state in ("queued", "running")
            if mtime != watched.status_mtime or (active and now - watched.checked > LIVENESS_SECONDS):
                info = run.info()
                watched.status_mtime, watched.checked = mtime, now
                if _differs(info, watched.info):
                    changed = True
                    structure = structure or (info.state, info.problem) != (watched.info.state, watched.info.problem)
                watched.info = info
        for gone in set(self.runs) - seen:
            del self.runs[gone]
            structure = True
        return "structure" if structure else "progress" if changed else ""

    def ordered(self) -> list[RunInfo]:
        return sorted((w.info for w in self.runs.values()), key=lambda i: (i.created, i.run_id), reverse=True)

    def series(self, run_id: str) -> RunSeries:
        """The run's series, after reading any new metric lines (only the bytes appended since last time)."""
        watched = self.runs.get(run_id)
        if watched is None:
            return RunSeries()
        if watched.tail is None:
            watched.tail = MetricsTail(watched.run.path / METRICS)
        rows = watched.tail.read_new()
        if watched.tail.take_reset():
            watched.series.clear()
        watched.series.add(rows)
        return watched.series

    def run(self, run_id: str) -> RunDir | None:
        watched = self.runs.get(run_id)
        return watched.run if watched else None


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return -1.0


def _differs(a: RunInfo, b: RunInfo) -> bool:
    return (a.state, a.epoch, a.best_test_acc, a.error, a.problem) != (b.state, b.epoch, b.best_test_acc, b.error,
                                                                       b.problem)
