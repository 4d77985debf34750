"""The local queue's files in the runs folder: `.queue/holder.json` (who holds the queue, on which slots) and
`.queue/pending/<seq>-<run-id>` (one empty marker per waiting run; names sort in queue order). No torch."""
from __future__ import annotations

import errno
import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .files import NOFOLLOW, DamagedFile, file_lock, read_json, write_json_atomic
from .liveness import holder_alive
from .names import RUN_NAME  # a marker names a run folder inside the runs folder, never `..`

QUEUE_DIR = ".queue"
HOLDER = "holder.json"
HOLDER_LOCK = "holder.lock"  # flocked by the serving holder for as long as it serves: a dead process holds none
PENDING = "pending"


class QueueFolder:
    def __init__(self, runs_root: Path):
        self.path = Path(runs_root) / QUEUE_DIR
        self.pending = self.path / PENDING

    def ensure(self) -> None:
        self.pending.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Enqueueing, starting a holder and a holder's decision to exit all happen under this lock."""
        self.ensure()
        with file_lock(self.path / ".queue.lock"):
            yield

    # ----- the holder --------------------------------------------------------------------------
    def holder(self) -> dict[str, Any]:
        try:
            return read_json(self.path / HOLDER) or {}
        except (DamagedFile, OSError):  # a JSON object or nothing: a damaged record (or a link) is no record
            return {}

    def holder_damage(self) -> str | None:
        """Why holder.json, present, is no record (not JSON, not an object, a link), naming it; None otherwise."""
        try:
            read_json(self.path / HOLDER)
        except DamagedFile as exc:
            return str(exc)
        except OSError as exc:
            return f"{HOLDER} cannot be read: {exc.strerror or exc}"
        return None

    def write_holder(self, record: dict[str, Any]) -> None:
        self.ensure()
        write_json_atomic(self.path / HOLDER, record)

    def holder_alive(self) -> bool:
        """Whether the recorded holder provably serves this queue: its pid and start time, a holder's command line
        for this runs folder, and the holder lock held (a record naming pid 1 with its real start time, or a
        holder that has let go of the queue, is no holder)."""
        record = self.holder()
        return holder_alive(record.get("pid"), record.get("pid_start"), self.path.parent) and self.lock_held()

    def lock_held(self) -> bool:
        """True when some process holds the holder lock (probed without waiting, never through a link)."""
        try:
            fd = os.open(self.path / HOLDER_LOCK, os.O_RDONLY | NOFOLLOW)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
        finally:
            os.close(fd)
        return False

    def take_lock(self, wait: float = 0.0) -> int | None:
        """The holder lock, taken (an fd for a holder to inherit), or None when another process holds it after
        `wait` seconds. Readers probe it for a moment at most, so a short wait tells them from a holder."""
        self.ensure()
        fd = os.open(self.path / HOLDER_LOCK, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return None
                time.sleep(0.02)

    # ----- waiting runs ------------------------------------------------------------------------
    @staticmethod
    def marker_name(seq: int, run_id: str) -> str:
        return f"{seq:020d}-{run_id}"

    def add(self, run_id: str) -> int:
        """Put a run at the end of the queue; returns its sequence number."""
        self.ensure()
        seq = time.time_ns()
        (self.pending / self.marker_name(seq, run_id)).touch()
        return seq

    def remove(self, seq: Any, run_id: str) -> None:
        if isinstance(seq, int):
            (self.pending / self.marker_name(seq, run_id)).unlink(missing_ok=True)

    def waiting(self) -> list[tuple[int, str]]:
        """(seq, run id) of every waiting run, in queue order."""
        try:
            names = sorted(os.listdir(self.pending))
        except OSError:
            return []

        out = []
        for name in names:
            seq, _, run_id = name.partition("-")
            if seq.isdigit() and RUN_NAME.match(run_id):
                out.append((int(seq), run_id))
        return out

    def positions(self) -> dict[str, int]:
        """Run id -> 1-based place in the queue."""
        return {run_id: i for i, (_, run_id) in enumerate(self.waiting(), 1)}
