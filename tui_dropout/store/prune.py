"""Archive, restore and delete run folders: only stopped runs, only the run's own folder.

An archived run moves to `<runs>/.archive/<run-id>/` (the same filesystem, one rename: nothing is copied and
nothing is lost); lists skip it, `unarchive` brings it back. The decision "this run is stopped" and the move or
delete happen under the run's status lock, so a launcher cannot claim it in between; a trainer or evaluation that
holds the run's flock on this host refuses it too."""
from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .files import DamagedFile, file_lock, read_json
from .liveness import ACTIVE, effective_state
from .queue import QueueFolder
from .rundir import EVALUATE_LOCK, STATUS, STATUS_LOCK, TRAINER_LOCK, RunBusy, RunDir, lock_held, owner_text

ARCHIVE = ".archive"
TRASH = ".trash"  # a run being deleted: renamed here first, so a delete that fails half-way leaves no half run


@contextmanager
def stopped(run: RunDir) -> Iterator[None]:
    """Hold the run's status lock while it is stopped; RunBusy when it is queued, running or being evaluated."""
    with file_lock(run.file(STATUS_LOCK)):
        try:
            status = read_json(run.file(STATUS)) or {}
        except DamagedFile:
            status = {}
        state = effective_state(status)
        if state in ACTIVE:
            raise RunBusy(owner_text(run.run_id, status, state).replace("it already has a trainer",
                                                                         "cancel it first"))
        if lock_held(run.file(TRAINER_LOCK)):
            raise RunBusy(f"run: {run.run_id} has a trainer starting on this host; cancel it first")
        if lock_held(run.file(EVALUATE_LOCK)):
            raise RunBusy(f"run: {run.run_id} is being evaluated; wait for the evaluation to end")
        if status.get("backend") == "queue":  # a run left waiting by a queue holder that died: out of the queue
            QueueFolder(run.path.parent).remove(status.get("queue_seq"), run.run_id)
        yield


def _not_a_link(run: RunDir, verb: str) -> None:
    if run.path.is_symlink():  # moved, a relative link would point elsewhere; its target is not ours to delete
        raise OSError(errno.EINVAL, f"it is a link to {os.readlink(run.path)}, not a run folder; {verb} the link "
                                    "itself by hand")


def archive(root: Path, run: RunDir) -> Path:
    """Move a stopped run into the archive; its new path. OSError (with the reason) when it cannot move."""
    _not_a_link(run, "move")
    folder = Path(root) / ARCHIVE
    folder.mkdir(exist_ok=True)
    dest = folder / run.run_id
    with stopped(run):
        if dest.exists():
            raise FileExistsError(errno.EEXIST, f"an archived run of that name is in {folder}")
        os.rename(run.path, dest)
    return dest


def unarchive(root: Path, run: RunDir) -> Path:
    """Bring an archived run back into the runs folder; its path there."""
    dest = Path(root) / run.run_id
    with file_lock(run.file(STATUS_LOCK)):
        if dest.exists():
            raise FileExistsError(errno.EEXIST, f"a run of that name is already in {root}")
        os.rename(run.path, dest)
    return dest


def remove(run: RunDir) -> None:
    """Delete a stopped run's folder, and nothing else: first renamed out of the list in one step (so a delete
    that fails half-way, on a file it may not remove, leaves no half run listed as whole), then removed."""
    _not_a_link(run, "remove")
    trash = run.path.parent / TRASH
    trash.mkdir(exist_ok=True)
    gone = trash / f"{run.run_id}.{os.getpid()}"
    with stopped(run):
        os.rename(run.path, gone)
    shutil.rmtree(gone, ignore_errors=True)
    try:
        trash.rmdir()  # empty again unless another delete is under way or left files behind
    except OSError:
        pass
    if gone.exists():
        raise OSError(errno.EACCES, f"moved out of the list, but some files stay in {gone}")


def folder_size(path: Path) -> int:
    """Bytes under `path` (links not followed); what a delete frees."""
    total = 0
    for base, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(base, name)).st_size
            except OSError:
                pass
    return total
