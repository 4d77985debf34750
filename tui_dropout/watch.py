"""What the console watches: the runs folder and the metrics of the runs on screen, read incrementally."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter
from pathlib import Path

from .series import RunSeries
from .states import State
from .store import ACTIVE, METRICS, MetricsTail, RunDir, RunInfo, RunStore, paused_gc
from .store.index import SETTLE_NS, settled, stamp

NEWEST = attrgetter("created", "run_id")  # the list's order, newest first (reversed)
LIVENESS_SECONDS = 2.0  # how often an active run's trainer is looked for in /proc
SWEEP_SECONDS = 60  # every ended run's status is looked at again within this (a resume from another terminal)
RELIST_SECONDS = 60  # the folder is listed this often even when its mtime stays (filesystems with coarse mtimes)
SWEEP_MIN = 50  # ended runs looked at per refresh, at least
SWEEP_MAX = 250  # and at most: past 15,000 runs a whole sweep takes longer than SWEEP_SECONDS (50,000: about 100 s
# at two refreshes a second), so an idle console over a huge folder costs a few hundred stats a tick, not thousands
TICK_GUESS = 1  # refreshes a second, rounded down (the console ticks twice a second): sizes the sweep
BACKGROUND_BYTES = 4 << 20  # a metrics backlog larger than this (~30k rows, a few tenths of a second) is read off the
# UI thread, so a huge run never holds up the first paint or a key press
PUBLISH_SECONDS = 0.5  # how often a background read shows what it has so far
BATCH_ROWS = 4096  # rows a background read adds between looks at the clock and at a stop request


class SeriesLoader(threading.Thread):
    """Reads a large metrics backlog into a run's series in a thread. While it works, `snapshot` is a copy of the
    series so far (bounded: a RunSeries thins itself), replaced every PUBLISH_SECONDS; the series and the tail belong
    to the thread until it ends."""

    def __init__(self, tail: MetricsTail, series: RunSeries):
        super().__init__(daemon=True, name=f"metrics {tail.path.parent.name}")
        self.tail, self.series = tail, series
        self.snapshot = copy_series(series)
        self.stop = threading.Event()

    def run(self) -> None:
        rows = self.tail.iter_new()
        published = 0.0
        while not self.stop.is_set():
            batch = list(islice(rows, BATCH_ROWS))
            if self.tail.take_reset():  # set by the read itself: the file was replaced since the last read
                self.series.clear()
            if not batch:
                break
            self.series.add(batch, checked=True)
            if time.monotonic() - published >= PUBLISH_SECONDS:
                self.snapshot, published = copy_series(self.series), time.monotonic()
        rows.close()
        if self.stop.is_set():  # stopped part way (the run left the screen): the next look reads it afresh
            self.series.clear()
            self.tail.restart()


def copy_series(series: RunSeries) -> RunSeries:
    return series.copy()


@dataclass(slots=True)
class WatchedRun:
    run: RunDir
    info: RunInfo
    stamp: tuple = ()  # its folder's when `info` was read (index.stamp); () when written too recently to trust
    checked: float = 0.0
    tail: MetricsTail | None = None
    series: RunSeries | None = None  # made when first asked for: 50,000 empty series would cost the first paint
    loader: SeriesLoader | None = None  # reading a large backlog of metrics in a thread


class RunsWatcher:
    """Keeps RunInfo for every run and metric series for the runs asked for, touching only what changed.

    Each refresh looks at every active run (and the ones named in `watch`), lists the folder again only when
    its mtime changed, and stats a slice of the ended runs in turn, so thousands of finished runs cost a
    few hundred stats a refresh and a run resumed from elsewhere is noticed within SWEEP_SECONDS (in a folder of
    more than SWEEP_MAX * SWEEP_SECONDS runs, within one sweep of SWEEP_MAX a refresh).

    `refresh` may run in a thread (the console's watcher worker) while the UI thread reads: `runs` is replaced, never
    changed in place, and a RunInfo is replaced whole, so a reader sees one listing or the next; refreshes take turns.
    `series`, `watch` and `stop_loading` belong to the UI thread."""

    def __init__(self, store: RunStore):
        self.store = store
        self.runs: dict[str, WatchedRun] = {}  # replaced whole by a refresh that adds or drops runs
        self._watch: set[str] = set()  # runs on screen: looked at on every refresh
        self._refreshing = threading.Lock()  # one refresh at a time: the worker's, or one the UI asks for at once
        self._root_stamp: tuple | None = None
        self._listed = 0.0
        self._sweep: list[str] = []
        self._touched: set[str] = set()
        self._touch_lock = threading.Lock()  # touch (UI thread) against the refresh taking the set (worker)
        self.active: set[str] = set()  # queued or running: looked at on every refresh
        self._loaders: dict[str, SeriesLoader] = {}  # background reads of large metrics files, by run
        self._version = 0  # moves whenever what the list shows of a run changes: ordered() sorts again
        self._places: dict[str, int] = {}  # each waiting run's place in the queue, as last placed
        self._ordered: tuple[int, dict, list[RunInfo]] | None = None

    @property
    def watch(self) -> set[str]:
        return self._watch

    @watch.setter
    def watch(self, run_ids: set[str]) -> None:
        """The runs on screen; a background read of a run that left the screen stops (it starts again when asked)."""
        self._watch = set(run_ids)
        if self._loaders:
            self.stop_loading(self._watch)

    def refresh(self) -> str:
        """Re-read what changed on disk: "structure" (runs came, went or changed state), "progress", or ""."""
        with self._refreshing:
            change = self._refresh()
        return change

    def _refresh(self) -> str:
        changed = structure = replaced = False
        now = time.time()
        root_stamp = _root_stamp(self.store.root)
        if root_stamp != self._root_stamp or now - self._listed > RELIST_SECONDS:
            self._root_stamp, self._listed = root_stamp, now
            structure = self._relist(now)
        with self._touch_lock:
            touched, self._touched = self._touched, set()
        due = self.active | self._watch | touched
        if not self._sweep:
            self._sweep = list(self.runs)
        batch = min(SWEEP_MAX, max(SWEEP_MIN, len(self.runs) * TICK_GUESS // SWEEP_SECONDS))
        swept = self._sweep[-batch:]
        del self._sweep[-batch:]
        for run_id in swept:  # ended runs: their folder (a status, label or evaluation renamed in moves it)
            watched = self.runs.get(run_id)
            if watched is None or run_id in due:
                continue
            if stamp(watched.run.path) != watched.stamp:
                due.add(run_id)
        for run_id in due:
            watched = self.runs.get(run_id)
            if watched is None:
                continue
            files = _stamp(watched.run.path)
            active = run_id in self.active
            if files != watched.stamp or (active and now - watched.checked > LIVENESS_SECONDS):
                info = watched.run.info()
                watched.stamp, watched.checked = _trusted(files), now
                differs = _differs(info, watched.info)
                if differs:
                    changed = True
                    structure = structure or _listed(info) != _listed(watched.info)
                self._set_info(watched, info, differs or info.created != watched.info.created)
                replaced = True
        if replaced or structure:
            self._place_queued()
        return "structure" if structure else "progress" if changed else ""

    def _place_queued(self) -> None:
        """Each waiting run's place in the queue, read here (off the UI thread in the console), not when listed."""
        runs = self.runs
        infos = [w.info for w in map(runs.get, self.active) if w is not None]  # only a live run waits in the queue
        if any(i.state == State.QUEUED for i in infos) or self._places:
            self.store.place_in_queue(infos)
            places = {i.run_id: i.queue_position for i in infos if i.queue_position}
            if places != self._places:  # the list shows the places: sorted again with the infos that hold them
                self._places = places
                self._version += 1

    def _set_info(self, watched: WatchedRun, info: RunInfo, shown_changed: bool = True) -> None:
        """The run's info is now `info`; `shown_changed` False when the list shows nothing new of it (a live run
        looked at again): the newest-first list, and the label widths measured on it, then stand."""
        watched.info = info
        if shown_changed:
            self._version += 1
        if info.state in ACTIVE:
            self.active.add(info.run_id)
        else:
            self.active.discard(info.run_id)

    def _relist(self, now: float) -> bool:
        """Runs that came or went since the last listing; True when there were any. The first listing comes
        from the store's index (thousands of runs at the cost of a few stats each)."""
        if not self.runs:
            runs: dict[str, WatchedRun] = {}
            limit = time.time_ns() - SETTLE_NS  # _trusted(), written out: 50,000 runs
            with paused_gc():
                for run, info, run_stamp in self.store.scan():
                    trusted = run_stamp if len(run_stamp) == 2 and run_stamp[0] < limit else ()
                    runs[info.run_id] = WatchedRun(run, info, trusted, now)
                self.active = {run_id for run_id, w in runs.items() if w.info.state in ACTIVE}
            self._version += 1
            self.runs = runs
            return bool(runs)
        names = self.store.run_names()
        came, gone = names - self.runs.keys(), self.runs.keys() - names
        if not came and not gone:
            return False
        runs = dict(self.runs)  # a copy, published whole: the UI thread may be walking the one it has
        for name in came:
            run = RunDir(self.store.root / name)
            run_stamp = _stamp(run.path)  # first: a change made while the files are read is seen next time
            watched = runs[name] = WatchedRun(run, run.info(), _trusted(run_stamp), now)
            self._set_info(watched, watched.info)
        for name in gone:
            del runs[name]
            self.active.discard(name)
        self.runs = runs
        return True

    def touch(self, run_id: str) -> None:
        """Look at this run on the next refresh, whatever its state (after the console resumed or cancelled it)."""
        watched = self.runs.get(run_id)
        if watched is not None:
            watched.stamp = ()
            with self._touch_lock:
                self._touched.add(run_id)

    def ordered(self) -> list[RunInfo]:
        """Every run's info, newest first. Sorted again only when an info was replaced or runs came or went (the
        console asks for it at every look at the list): the list is shared, never to be changed by a caller."""
        runs, version = self.runs, self._version
        kept = self._ordered
        if kept is not None and kept[0] == version and kept[1] is runs:
            return kept[2]
        infos = sorted([w.info for w in runs.values()], key=NEWEST, reverse=True)
        self._ordered = (version, runs, infos)
        return infos

    def series(self, run_id: str) -> RunSeries:
        """The run's series, after reading any new metric lines (only the bytes appended since last time).

        A backlog over BACKGROUND_BYTES (a huge run, seen for the first time) is read in a thread: until it is
        done this returns the series read so far, and `loading(run_id)` is True."""
        watched = self.runs.get(run_id)
        if watched is None:
            return RunSeries()
        if watched.tail is None:
            watched.tail = MetricsTail(watched.run.path / METRICS)
            watched.series = watched.series or RunSeries()
        loader = watched.loader
        if loader is not None:
            if loader.is_alive():
                return loader.snapshot
            watched.loader = None  # done: the series and the tail are ours again, read up to where it stopped
            self._loaders.pop(run_id, None)
        elif watched.tail.pending() > BACKGROUND_BYTES:
            watched.loader = self._loaders[run_id] = SeriesLoader(watched.tail, watched.series)
            watched.loader.start()
            return watched.loader.snapshot
        rows = watched.tail.iter_new()
        first = list(islice(rows, 1))  # the read notices a replaced file before it hands out a row
        if watched.tail.take_reset():
            watched.series.clear()
        watched.series.add(first, checked=True)
        watched.series.add(rows, checked=True)
        return watched.series

    def loading(self, run_id: str) -> bool:
        """Whether the run's metrics are still being read in the background."""
        watched = self.runs.get(run_id)
        return bool(watched and watched.loader and watched.loader.is_alive())

    def stop_loading(self, keep: set[str]) -> None:
        """Stop the background reads of runs not in `keep` (no longer on screen): moving the cursor down a list
        of huge runs must not leave a read running for each. They start again when asked."""
        for run_id, loader in list(self._loaders.items()):
            if run_id not in keep or run_id not in self.runs:
                loader.stop.set()
                self._loaders.pop(run_id)
                watched = self.runs.get(run_id)
                if watched is not None and watched.loader is loader:
                    loader.join()  # quick once asked to stop: at most one batch; the series is ours again
                    watched.loader = None

    def run(self, run_id: str) -> RunDir | None:
        watched = self.runs.get(run_id)
        return watched.run if watched else None


def _root_stamp(root: Path) -> tuple | None:
    try:
        st = os.stat(root)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ino)


def _stamp(folder: Path) -> tuple:
    return stamp(folder)  # looked up at call time: tests count the stats


def _trusted(run_stamp: tuple) -> tuple:
    """The stamp, or () when it was written too recently to stand for the files (read again next look)."""
    return run_stamp if settled(run_stamp) else ()


def _listed(i: RunInfo) -> tuple:
    """What decides where a run is listed and whether a filter keeps it: a change re-sorts the list."""
    return (i.state, i.problem, i.name, tuple(i.tags), i.note)


def _shown(i: RunInfo) -> tuple:
    """What the runs table and the details pane show of a run."""
    return (*_listed(i), i.preset, i.epoch, i.epochs, i.best_test_acc, i.best_train_acc, i.final_test_acc,
            i.final_train_acc, i.final_loss, i.error)


def _differs(a: RunInfo, b: RunInfo) -> bool:
    return _shown(a) != _shown(b)
