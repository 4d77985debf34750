"""One run folder: every read and write of its files, claiming it for one trainer, and cancel requests."""
from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .files import (NOFOLLOW, DamagedFile, dumps, file_lock, open_append, open_regular, read_json, sweep_temp_files, write_json_atomic,
                    write_text_atomic)
from .info import RunInfo, fill_figures, typed
from .inside import INSIDE, inside_epoch  # inside.json: the hidden layers at the latest evaluation
from .liveness import ACTIVE, effective_state, host_and_pid
from .notes import read_notes
from .tail import MetricsTail
from ..errors import DropoutTuiError
from ..states import State

if TYPE_CHECKING:
    from .queue import QueueFolder

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LOG = "train.log"
CHECKPOINT = "checkpoint.pt"
SUMMARY = "summary.json"
WORKER_OUT = "worker.out"  # the trainer process's own stdout/stderr
NOTES = "notes.json"  # the run's name, tags and note: written by `label` and the console, never by the trainer
EVALUATION = "evaluation.json"  # the latest evaluation of the run's checkpoint (`dropout-tui evaluate`)
CANCEL = "cancel.request"  # written by `cancel` anywhere; the trainer stops within a second of seeing it
STATUS_LOCK = ".status.lock"
# Status fields that say where one launch put the run; a new claim clears them, its launcher sets its own.
PER_LAUNCH = ("backend", "job_id", "slot", "gpu", "queue_pid", "queue_pid_start", "queue_seq", "queue_resume",
              "queue_max_fused", "dispatched", "requeued", "pid", "pid_start")
TRAINER_LOCK = ".trainer.lock"  # held (flock) by the one trainer that owns the run, for its whole life
LOG_EPOCH = re.compile(rb"^\[[^\]]*\] epoch: (\d+) time: ")  # an epoch's line in train.log
EVALUATE_LOCK = ".evaluate.lock"  # held (flock) by the one process evaluating the run's checkpoint
RUN_FILES = {CONFIG, STATUS, METRICS, LOG, CHECKPOINT, SUMMARY, WORKER_OUT, NOTES, EVALUATION, INSIDE, CANCEL, STATUS_LOCK,
             TRAINER_LOCK, EVALUATE_LOCK, ".notes.lock", "evaluate.out"}


LINKED_FOLDER = "the run folder is a link, not a folder (links are not followed)"


def lock_held(path: Path) -> bool:
    """True when another process holds an flock on `path` (a trainer or an evaluation at work)."""
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class RunBusy(DropoutTuiError, RuntimeError):
    """The run already has a trainer (queued or running); the message says which and where."""


def owner_text(run_id: str, status: dict[str, Any], state: str) -> str:
    where = f"pid {status.get('pid')} on {status.get('host')}" if status.get("pid") else f"host {status.get('host')}"
    return f"run: {run_id} is {state} ({where}); it already has a trainer"


class RunDir:
    """One run folder; every read and write of its files goes through here."""

    def __init__(self, path: Path | str):
        self.path = path if isinstance(path, Path) else Path(path)  # Path(a Path) parses it again: a listing's cost
        self._status_lock = threading.Lock()
        self._owner_fd: int | None = None
        self.folder_is_link = False  # set by RunStore's listing; RunDir.file() checks the path itself

    @property
    def run_id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        """The path of one of the run's files; OSError (ELOOP) when the run folder itself is a link: another
        person's link may lead anywhere, so nothing is read, written or created through it."""
        if os.path.islink(self.path):
            raise OSError(errno.ELOOP, LINKED_FOLDER, str(self.path))
        return self.path / name

    @property
    def checkpoint_path(self) -> Path:
        return self.file(CHECKPOINT)

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file() and not self.checkpoint_path.is_symlink()

    # ----- config / summary / status -----------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        write_json_atomic(self.file(CONFIG), config)

    def read_config(self) -> dict[str, Any]:
        data = read_json(self.file(CONFIG))
        if data is None:
            raise FileNotFoundError(f"{self.file(CONFIG)} missing")
        return data

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json_atomic(self.file(SUMMARY), summary)

    def write_inside(self, inside: dict[str, Any]) -> None:
        """inside.json, replaced whole at each evaluation (the trainer's store/inside.py contract)."""
        write_json_atomic(self.file(INSIDE), inside)

    def read_summary(self) -> dict[str, Any] | None:
        return read_json(self.file(SUMMARY))

    def read_status(self) -> dict[str, Any]:
        return read_json(self.file(STATUS)) or {}

    def _status_for_update(self) -> dict[str, Any]:
        try:
            return self.read_status()
        except DamagedFile:
            return {}  # a damaged status is replaced by the next write, never a reason to stop training

    def update_status(self, **changes: Any) -> dict[str, Any]:
        """Read-modify-write under a lock (the heartbeat thread and `cancel` write too), then atomic replace."""
        with self._status_lock, file_lock(self.file(STATUS_LOCK)):
            status = self._status_for_update()
            status.update(changes)
            status["updated"] = time.time()
            write_json_atomic(self.file(STATUS), status)
            return status

    def update_status_if(self, check: Callable[[dict[str, Any]], bool], **changes: Any) -> bool:
        """Update only when `check(current status)` holds, in the same locked read-modify-write: a decision on
        a status (lost, still waiting) is never written over a change another process made meanwhile."""
        with self._status_lock, file_lock(self.file(STATUS_LOCK)):
            status = self._status_for_update()
            if not check(status):
                return False
            status.update(changes)
            status["updated"] = time.time()
            write_json_atomic(self.file(STATUS), status)
            return True

    # ----- one trainer per run ------------------------------------------------------------------
    def claim(self, token: str | None = None, **fields: Any) -> str:
        """Take the run for one new trainer, atomically: refused (RunBusy) while one is queued or running.

        Returns the claim token that the trainer shows when it starts; a launcher that loses the race gets RunBusy."""
        token = token or secrets.token_hex(8)
        with self._status_lock, file_lock(self.file(STATUS_LOCK)):
            status = self._status_for_update()
            state = effective_state(status)
            if state in ACTIVE:
                raise RunBusy(owner_text(self.run_id, status, state))
            if lock_held(self.file(EVALUATE_LOCK)):  # a trainer would rewrite the checkpoint under it
                raise RunBusy(f"run: {self.run_id} is being evaluated; wait for the evaluation to end")
            now = time.time()
            if status.get("backend") == "queue":  # left waiting by a holder that died: its place is given up
                from .queue import QueueFolder

                QueueFolder(self.path.parent).remove(status.get("queue_seq"), self.run_id)
            status.update({key: None for key in PER_LAUNCH})  # where the last launch put it no longer holds
            status.update(state=State.QUEUED, claim=token, queued=now, heartbeat=now, updated=now, error=None, ended=None,
                          **host_and_pid(), **fields)
            write_json_atomic(self.file(STATUS), status)
            self.file(CANCEL).unlink(missing_ok=True)  # an old request must not stop the new trainer
        return token

    def take_ownership(self, token: str | None) -> None:
        """Called by the trainer: hold the run's flock for life and check the claim is still ours.

        The flock is the hard rule on this host; the claim token, in the folder, is the rule across hosts."""
        if self._owner_fd is not None:
            return  # this process owns it already (the worker takes it before importing torch)
        fd = os.open(self.file(TRAINER_LOCK), os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunBusy(f"run: {self.run_id} is owned by another trainer on this host") from None
        if token is not None:
            with self._status_lock, file_lock(self.file(STATUS_LOCK)):
                claimed = self._status_for_update().get("claim")
            if claimed != token:
                os.close(fd)
                raise RunBusy(f"run: {self.run_id} was claimed by another launcher")
        self._owner_fd = fd
        sweep_temp_files(self.path)

    def release_ownership(self) -> None:
        if self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None

    # ----- the local queue ------------------------------------------------------------------------
    def enqueue(self, queue: "QueueFolder", holder: dict[str, Any], **fields: Any) -> None:
        """Hand the run to the queue: 'queued' with no trainer, alive as long as the queue's holder is."""
        with self._status_lock, file_lock(self.file(STATUS_LOCK)):
            status = self._status_for_update()
            queue.remove(status.get("queue_seq"), self.run_id)  # a run that waited before waits once
            seq = queue.add(self.run_id)
            status.update(state=State.QUEUED, backend="queue", queue_seq=seq, queued=time.time(), pid=None,
                          pid_start=None, claim=None, queue_pid=holder.get("pid"),
                          queue_pid_start=holder.get("pid_start"), host=holder.get("host"), updated=time.time(),
                          **fields)
            write_json_atomic(self.file(STATUS), status)

    def take_from_queue(self, queue: "QueueFolder", token: str, **fields: Any) -> bool:
        """The holder's claim: True when the run was still waiting (not cancelled meanwhile) and is now ours."""
        with self._status_lock, file_lock(self.file(STATUS_LOCK)):
            status = self._status_for_update()
            queue.remove(status.get("queue_seq"), self.run_id)
            if status.get("state") != State.QUEUED or status.get("pid") or self.cancel_requested():
                return False
            status.update(claim=token, dispatched=time.time(), updated=time.time(), **fields)
            write_json_atomic(self.file(STATUS), status)
            return True

    def leave_queue(self) -> bool:
        """Cancel a run that is still waiting for a slot; False when a trainer has been started for it."""
        with self._status_lock, file_lock(self.file(STATUS_LOCK)):
            status = self._status_for_update()
            if status.get("state") != State.QUEUED or status.get("pid"):
                return False
            if status.get("backend") == "queue":
                from .queue import QueueFolder

                QueueFolder(self.path.parent).remove(status.get("queue_seq"), self.run_id)
            now = time.time()
            status.update(state=State.CANCELLED, ended=now, updated=now, claim=None)
            write_json_atomic(self.file(STATUS), status)
            return True

    # ----- cancel requests ----------------------------------------------------------------------
    def request_cancel(self) -> None:
        write_text_atomic(self.file(CANCEL), dumps({"time": time.time(), **host_and_pid()}) + "\n")

    def cancel_requested(self) -> bool:
        return self.file(CANCEL).exists()

    def clear_cancel_request(self) -> None:
        self.file(CANCEL).unlink(missing_ok=True)

    # ----- metrics and log ----------------------------------------------------------------------
    def append_metric(self, row: dict[str, Any]) -> None:
        with open_append(self.file(METRICS)) as f:
            f.write(dumps(row, sort_keys=True) + "\n")
            f.flush()

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every metrics row, as a list: for short runs. Exports and charts stream instead (iter_metrics)."""
        return MetricsTail(self.file(METRICS)).read_new()

    def iter_metrics(self) -> Iterator[dict[str, Any]]:
        """Every metrics row, read a chunk at a time: memory stays flat however long the run."""
        return MetricsTail(self.file(METRICS)).iter_new()

    def truncate_metrics(self, last_epoch: int) -> int:
        """Keep rows with epoch <= last_epoch (a resume restarts after its checkpoint); returns rows kept."""
        rows = [r for r in self.read_metrics() if r["epoch"] <= last_epoch]
        write_text_atomic(self.file(METRICS), "".join(dumps(r, sort_keys=True) + "\n" for r in rows))
        return len(rows)

    def rewind(self, last_epoch: int) -> int:
        """Cut the run's files back to the end of `last_epoch` (where a restart begins): metric rows and train.log's
        epoch lines past it go; returns the metric rows kept. The log is rewritten line by line (it may be large)."""
        kept = self.truncate_metrics(last_epoch)
        epoch = inside_epoch(self.path)
        if epoch is not None and epoch > last_epoch or epoch is None and self.file(INSIDE).is_file():
            self.file(INSIDE).unlink(missing_ok=True)  # it told of an epoch to be trained again (or was damaged)
        path = self.file(LOG)
        if not path.is_file():
            return kept
        tmp = path.with_name(f".{LOG}.{os.getpid()}.tmp")
        dropped = 0
        try:
            with open_regular(path) as src, open(tmp, "wb") as dst:
                for line in src:
                    match = LOG_EPOCH.match(line)
                    if match and int(match.group(1)) > last_epoch:
                        dropped += 1
                        continue
                    dst.write(line)
            if dropped:
                os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return kept

    def log(self, line: str) -> None:
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        with open_append(self.file(LOG)) as f:
            f.write(f"[{stamp}] {line}\n")

    def log_tail(self, lines: int = 20, max_bytes: int = 16384) -> list[str]:
        if lines <= 0:
            return []
        try:
            with open_regular(self.file(LOG)) as f:  # a FIFO or device as train.log must not block the reader
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - max_bytes))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def linked_files(self) -> list[str]:
        """The run's own files that are links (d_type from one listing, no stat per file); none is ever followed."""
        try:
            with os.scandir(self.path) as entries:
                return sorted(e.name for e in entries if e.name in RUN_FILES and e.is_symlink())
        except OSError:
            return []

    # ----- what lists show ------------------------------------------------------------------------
    def info(self) -> RunInfo:
        """Status, config and summary folded into one RunInfo; a damaged folder gives state "corrupt"."""
        info = RunInfo(self.run_id, self.path, State.LOST, created=created_from_id(self.run_id))
        if os.path.islink(self.path):
            info.state, info.problem = State.CORRUPT, f"corrupt run folder: {LINKED_FOLDER}"
            return info
        try:
            info.created = info.created or self.path.stat().st_mtime
            config = read_json(self.file(CONFIG))
            status = read_json(self.file(STATUS)) or {}
            summary = read_json(self.file(SUMMARY)) or {}
        except (DamagedFile, OSError) as exc:
            info.state, info.problem = State.CORRUPT, f"corrupt run folder: {exc}"
            return info
        if config is None:
            info.state, info.problem = State.CORRUPT, "corrupt run folder: config.json missing"
            return info
        linked = self.linked_files()
        if linked:
            info.state, info.problem = State.CORRUPT, ("corrupt run folder: " + ", ".join(linked) +
                                                   " is a link, not a file (links are not followed)")
            return info
        problems: list[str] = []
        info.status, info.config, info.summary = status, config, summary
        info.preset = typed(config, "preset", str, "config.json", problems) or "?"
        info.epochs = typed(config, "epochs", int, "config.json", problems) or 0
        info.created = typed(status, "created", float, "status.json", problems) or info.created
        info.error = typed(status, "error", str, "status.json", problems)
        info.state = effective_state(status)
        fill_figures(info, status, summary, problems)
        notes, notes_problem = read_notes(self.file(NOTES))
        info.name, info.tags, info.note = notes["name"], notes["tags"], notes["note"]
        if problems:
            info.state, info.problem = State.CORRUPT, "corrupt run folder: " + "; ".join(problems)
        elif not status:
            info.problem = "status.json empty" if self.file(STATUS).exists() else "status.json missing"
        elif notes_problem:  # the training is whole; only what the user wrote of it is damaged
            info.problem = notes_problem
        return info


def created_from_id(run_id: str) -> float:
    """The start time a run id carries (20261126-093012-...), or 0 when it carries none."""
    s = run_id
    if len(s) < 15 or s[8] != "-" or not (s[:8].isdigit() and s[9:15].isdigit()):
        return 0.0
    try:  # by hand: strptime costs more than the rest of a run's listing
        return datetime(int(s[:4]), int(s[4:6]), int(s[6:8]), int(s[9:11]), int(s[11:13]), int(s[13:15])).timestamp()
    except ValueError:
        return 0.0
