"""What the console watches: the runs folder and the metrics of the runs on screen, read incrementally."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .series import RunSeries
from .store import ACTIVE, CONFIG, METRICS, STATUS, SUMMARY, MetricsTail, RunDir, RunInfo, RunStore

LIVENESS_SECONDS = 2.0  # how often an active run's trainer is looked for in /proc


@dataclass
class WatchedRun:
    run: RunDir
    info: RunInfo
    stamp: tuple = ()  # what the run's files looked like when `info` was read (see _stamp)
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
            stamp = _stamp(run.path)
            now = time.time()
            if watched is None:
                self.runs[run.run_id] = WatchedRun(run, run.info(), stamp, now)
                structure = True
                continue
            active = watched.info.state in ACTIVE
            if stamp != watched.stamp or (active and now - watched.checked > LIVENESS_SECONDS):
                info = run.info()
                watched.stamp, watched.checked = stamp, now
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


def _stamp(folder: Path) -> tuple:
    """(mtime, size, inode) of the files RunInfo is read from: any write (atomic replaces too) changes it."""
    out = []
    for name in (STATUS, SUMMARY, CONFIG):
        try:
            st = os.stat(folder / name)
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError as exc:
            out.append(exc.errno)
    return tuple(out)


def _shown(i: RunInfo) -> tuple:
    """What the runs table and the details pane show of a run."""
    return (i.state, i.preset, i.epoch, i.epochs, i.best_test_acc, i.best_train_acc, i.error, i.problem)


def _differs(a: RunInfo, b: RunInfo) -> bool:
    return _shown(a) != _shown(b)
