"""The run store: the one package that knows the run-folder layout (runs/<run-id>/...). No torch, no UI."""
from __future__ import annotations

import gc
import os
import secrets
from contextlib import contextmanager
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from . import index, listed
from .files import DamagedFile, json_safe, read_json, write_json_atomic
from .info import RunInfo
from .liveness import (ACTIVE, HEARTBEAT_SECONDS, STALE_SECONDS, STATES, effective_state, host_and_pid,
                       process_alive, process_start_time, proven_process)
from .rundir import (CANCEL, CHECKPOINT, CONFIG, EVALUATION, INSIDE, LOG, METRICS, NOTES, STATUS, SUMMARY, WORKER_OUT, RunBusy, RunDir,
                     created_from_id)
from .queue import QueueFolder
from .tail import MetricsTail, clean_row
from ..errors import DropoutTuiError, FieldError
from ..states import State

__all__ = ["ACTIVE", "CANCEL", "CHECKPOINT", "CONFIG", "DamagedFile", "EVALUATION", "INSIDE", "NOTES", "HEARTBEAT_SECONDS", "LOG", "METRICS",
           "MetricsTail", "RunBusy", "RunDir", "RunInfo", "RunNotFound", "RunStore", "RunsFolderError", "STALE_SECONDS",
           "STATES", "STATUS", "SUMMARY", "WORKER_OUT", "clean_row", "created_from_id", "default_runs_dir",
           "effective_state", "host_and_pid", "json_safe", "new_run_id", "process_alive", "process_start_time",
           "paused_gc", "proven_process", "read_json", "write_json_atomic"]

from .names import RUN_NAME  # noqa: E402 (re-exported: callers import it from here)


class RunsFolderError(DropoutTuiError, RuntimeError):
    """The runs folder cannot be used as asked (a file, missing, read-only); one line says which."""


class RunNotFound(FieldError, KeyError):
    """No run, or more than one, answers to `ref` (the name or id given): the message says which."""

    def __init__(self, ref: str, reason: str):
        super().__init__("run", reason)
        self.ref = ref

    def __str__(self) -> str:  # KeyError's own would quote the message
        return str(self.args[0])


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a listing builds its tables: tens of thousands of runs are millions of
    objects, and the collector would walk them all again and again as they are made (half the time of a large
    listing). Nothing a listing makes holds a cycle; reference counting frees it as usual."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def default_runs_dir() -> Path:
    return Path(os.environ.get("TUI_DROPOUT_RUNS") or "runs")


def new_run_id(preset: str, now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(now or time.time()).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in preset) or "run"
    return f"{stamp}-{safe}-{secrets.token_hex(2)}"


class RunStore:
    """The runs folder: create, list and find run folders, never anything outside it."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root else default_runs_dir()

    def check(self, write: bool = False) -> None:
        """RunsFolderError unless the folder can be used: read, or (write=True) created and written to."""
        if self.root.exists() and not self.root.is_dir():
            raise RunsFolderError(f"runs folder {self.root} is a file, not a folder")
        if not write:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".probe.{os.getpid()}.tmp"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            why = "read-only" if exc.errno in (30, 13, 1) else "not writable"
            raise RunsFolderError(f"runs folder {self.root} is {why} ({exc.strerror or exc})") from None

    def create(self, config: dict[str, Any], claim: str | None = None, notes: dict[str, Any] | None = None) -> RunDir:
        """A new run folder holding config.json (and notes.json with `notes`) and a 'queued' status claimed by this
        process (with `claim`)."""
        self.check(write=True)
        for _ in range(20):
            run = RunDir(self.root / new_run_id(str(config.get("preset", "run"))))
            try:
                run.path.mkdir()
            except FileExistsError:
                continue
            run.write_config(config)
            if notes:
                write_json_atomic(run.file(NOTES), notes)
            run.claim(claim, created=time.time(), epoch=0, epochs=config.get("epochs"))
            return run
        raise RunsFolderError(f"could not create a unique run folder in {self.root}")

    def run_dirs(self) -> Iterator[RunDir]:
        """Every run folder; entries that are not folders (or are broken or looping links) are skipped."""
        for run, _ in self._runs_with_paths():
            yield run

    def _runs_with_paths(self) -> Iterator[tuple[RunDir, os.DirEntry]]:
        """Every run folder, with its listing entry (its name, and its path as text: a stat takes it without
        converting the Path again)."""
        child = getattr(self.root, "_make_child_relpath", self.root.joinpath)  # a third of Path(entry.path)'s cost
        for entry in self._run_entries():
            run = RunDir(child(entry.name))
            run.folder_is_link = entry.is_symlink()  # from the listing's d_type: no stat
            yield run, entry

    def _run_entries(self) -> Iterator[os.DirEntry]:
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return
        yield from filter(self._is_run, entries)

    @staticmethod
    def _is_run(entry: os.DirEntry) -> bool:
        """Whether a listing entry is a run folder: a run's name, a folder (or a link to one: read as corrupt);
        not a dot file, and not a broken or looping link."""
        if entry.name.startswith(".") or not RUN_NAME.match(entry.name):
            return False
        try:
            return entry.is_dir()
        except OSError:  # a self-referencing link (ELOOP) or one we may not follow
            return False

    def run_names(self) -> set[str]:
        """The names of the run folders, without building a RunDir for each (a cheap relisting)."""
        return {entry.name for entry in self._run_entries()}

    def list(self) -> list[RunInfo]:
        infos = [info for _, info, _ in self.scan()]
        self.place_in_queue(infos)
        return sorted(infos, key=lambda i: (i.created, i.run_id), reverse=True)

    def scan(self) -> list[tuple[RunDir, RunInfo, tuple]]:
        """Every run with its info and the stamp of its folder; unchanged runs come from the index (a stat a run),
        the others are read from their files, and the index is written again when it would keep more."""
        with paused_gc():
            now_ns = time.time_ns()
            cached = index.load(self.root)
            out, changed, lstat = [], False, os.lstat
            for run, entry in self._runs_with_paths():
                try:
                    st = lstat(entry.path)
                    run_stamp = (st.st_mtime_ns, st.st_ino)  # index.stamp(), written out: 50,000 runs
                except OSError as exc:
                    run_stamp = (exc.errno,)
                linked = run.folder_is_link  # a folder swapped for a link to it keeps its files' stamps: never cached
                info = None if linked else cached.info(entry.name, run.path, run_stamp)
                if info is None:
                    info = run.info()
                    changed = changed or not linked and cached.stale(run.run_id, run_stamp, now_ns, info)
                out.append((run, info, run_stamp))
            if changed or len(out) != len(cached):
                index.save(self.root, [(run.run_id, run_stamp, info) for run, info, run_stamp in out], now_ns)
        return out

    def lines(self) -> list[tuple[str, list[str]]] | None:
        """Every run's id and its line in `dropout-tui runs` (`listed.cells`), newest first, from the index: only
        live runs (queued, running) are looked at afresh. None when the index cannot serve the listing (missing, or
        a run is new or changed since it was written): `list()` then reads those runs and writes it again."""
        with paused_gc():
            now_ns = time.time_ns()
            cached = index.load(self.root)
            if not len(cached):
                return None if self.run_names() else []
            ids, stamps, kept, bad = cached.ids.get, cached.stamps, cached.lines, cached.bad
            created, lstat = cached.fields["created"], os.lstat
            read = listed.reader(kept)  # a kept line's cells, or None when it is not one
            served, live = [], []
            try:
                entries = list(os.scandir(self.root))
            except OSError:
                return None
            for entry in entries:  # the inner loop of a 50,000-run listing: written out, no call it can spare
                name = entry.name
                i = ids(name)
                if i is None:
                    if self._is_run(entry):
                        return None  # a run the index has not seen
                    continue
                try:
                    st = lstat(entry.path)
                    run_stamp = (st.st_mtime_ns, st.st_ino)  # index.stamp(), written out
                except OSError as exc:
                    run_stamp = (exc.errno,)
                cells = read(kept[i]) if stamps[i] == hash(run_stamp) and i not in bad else None
                if cells is not None and not entry.is_symlink():
                    served.append((created[i], name, cells))
                    continue
                if not self._is_run(entry):
                    return None  # a run's name now on something else
                run, linked = RunDir(self.root / name), entry.is_symlink()
                info = None if linked else cached.info(name, run.path, run_stamp)
                if info is None:
                    info = run.info()
                    if not linked and cached.stale(name, run_stamp, now_ns, info):
                        return None
                live.append(info)
            if len(served) + len(live) != len(cached):
                return None  # runs have gone: the index is written again by the listing that reads it whole
        self.place_in_queue(live)
        served.extend((info.created, info.run_id, listed.cells(info)) for info in live)
        served.sort(reverse=True)
        return [(name, cells) for _, name, cells in served]

    def place_in_queue(self, infos: list[RunInfo]) -> None:
        """Set each waiting run's place in the local queue (one listing of the queue folder)."""
        positions = QueueFolder(self.root).positions()
        for info in infos:
            info.queue_position = positions.get(info.run_id) if info.state == State.QUEUED else None

    def find(self, ref: str) -> RunDir:
        """A run by id, unique id part, its 1-based position in the newest-first list, or its name (or a unique part
    of it); only inside the folder."""
        ref = ref.strip()
        if not ref or not RUN_NAME.match(ref):
            raise RunNotFound(ref, f"{ref!r} is not a run id (a run is named by its folder in {self.root})")
        runs = list(self.run_dirs())
        exact = [r for r in runs if r.run_id == ref]
        if exact:
            return exact[0]
        if ref.isdigit() and len(ref) < 6:
            listed = self.list()
            if 1 <= int(ref) <= len(listed):
                return RunDir(listed[int(ref) - 1].path)
        matches = [r for r in runs if ref in r.run_id]
        if len(matches) == 1:
            return matches[0]
        if not matches:  # a name the user gave (notes.json): exactly, else a unique part of one
            named = [i for i in self.list() if i.name]
            for found in ([i for i in named if i.name == ref], [i for i in named if ref.lower() in i.name.lower()]):
                if len(found) == 1:
                    return RunDir(found[0].path)
                if len(found) > 1:
                    raise RunNotFound(ref, f"{ref!r} names {len(found)} runs; give more of a name or an id")
            raise RunNotFound(ref, f"no run matches {ref!r} in {self.root.resolve()}")
        raise RunNotFound(ref, f"{ref!r} matches {len(matches)} runs; give more of the id")
