"""The local queue's files in the runs folder: `.queue/holder.json` (who holds the queue, on which slots) and
`.queue/pending/<seq>-<run-id>` (one empty marker per waiting run; names sort in queue order). No torch."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .files import DamagedFile, file_lock, read_json, write_json_atomic
from .liveness import holder_alive
from .names import RUN_NAME  # a marker names a run folder inside the runs folder, never `..`

QUEUE_DIR = ".queue"
HOLDER = "holder.json"
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
        except DamagedFile:  # read_json gives a JSON object or raises: a damaged record is no record
            return {}

    def write_holder(self, record: dict[str, Any]) -> None:
        self.ensure()
        write_json_atomic(self.path / HOLDER, record)

    def holder_alive(self) -> bool:
        """Whether the recorded holder provably runs: its pid, start time and a holder's command line for this
        runs folder (a record naming pid 1 with its real start time is not a holder)."""
        record = self.holder()
        return holder_alive(record.get("pid"), record.get("pid_start"), self.path.parent)

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
