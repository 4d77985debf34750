"""The queue holder: `python -m tui_dropout.launch.holder RUNS_DIR`. One per runs folder (an flock), detached.

It starts waiting runs as slots free (a slot is one trainer process on one GPU), packs fusable runs into one
trainer, and exits when nothing waits or runs. It holds no torch: waiting runs cost a marker file each.
Killed, it leaves waiting runs 'lost' (resumable) and its trainers running; the next holder adopts both."""
from __future__ import annotations

import fcntl
import os
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import RunConfig
from ..fusion import fusion_blocker
from ..store import RunDir, RunStore, effective_state, process_alive, process_start_time, read_json
from ..store.queue import QueueFolder
from .plan import fusion_key
from .process import TrainerProcess
from .queue import CPU, QueueSettings

TICK = 0.2  # seconds between looks at the slots and the queue
IDLE_EXIT = 5.0  # seconds with nothing waiting or running before the holder leaves


@dataclass
class Busy:
    runs: list[RunDir]
    process: TrainerProcess | None = None  # None for a trainer adopted from an earlier holder
    pid: int | None = None
    pid_start: int | None = None

    def ended(self) -> bool:
        if self.process is not None:
            return self.process.poll() is not None  # reaps at once: a kill -9 frees the slot on the next tick
        return not process_alive(self.pid, self.pid_start)


@dataclass
class Holder:
    store: RunStore
    stop: threading.Event = field(default_factory=threading.Event)
    busy: dict[str, Busy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.queue = QueueFolder(self.store.root)
        self.me = {"pid": os.getpid(), "pid_start": process_start_time(os.getpid()), "host": socket.gethostname()}

    def settings(self) -> QueueSettings:
        record = self.queue.holder()
        return QueueSettings([str(g) for g in record.get("gpus") or [CPU]], int(record.get("per_gpu") or 1),
                             int(record.get("max_fused") or 1))

    # ----- after a holder died ---------------------------------------------------------------
    def adopt(self) -> None:
        """Trainers an earlier holder started keep their slots; runs it left waiting are ours now."""
        for run in self.store.run_dirs():
            try:
                status = run.read_status()
            except ValueError:
                continue
            if status.get("backend") != "queue" or not status.get("slot") or not status.get("pid"):
                continue
            if effective_state(status) in ("queued", "running"):
                self.busy[str(status["slot"])] = Busy([run], None, status.get("pid"), status.get("pid_start"))
        for _, run_id in self.queue.waiting():
            run = RunDir(self.store.root / run_id)
            try:
                status = run.read_status()
            except ValueError:
                continue
            if status.get("state") == "queued" and not status.get("pid"):
                run.update_status(queue_pid=self.me["pid"], queue_pid_start=self.me["pid_start"], host=self.me["host"])

    # ----- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        """Serve until stopped, or until nothing has waited or run for IDLE_EXIT seconds."""
        self.adopt()
        idle_since = time.monotonic()
        while not self.stop.is_set():
            for slot in [s for s, b in self.busy.items() if b.ended()]:
                del self.busy[slot]
            settings = self.settings()
            free = [s for s in settings.slots() if s not in self.busy]
            waiting = self.queue.waiting()
            if free and waiting:
                self.dispatch(free, waiting, settings)
            if self.busy or self.queue.waiting():
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_EXIT:
                return
            self.stop.wait(TICK)

    def dispatch(self, free: list[str], waiting: list[tuple[int, str]], settings: QueueSettings) -> None:
        candidates = []
        for seq, run_id in waiting:
            run = RunDir(self.store.root / run_id)
            try:
                status, config = run.read_status(), read_json(run.file("config.json"))
                cfg = RunConfig.from_dict(config or {})
            except (ValueError, TypeError):
                self.queue.remove(seq, run_id)
                run.leave_queue()
                continue
            if status.get("state") != "queued" or status.get("pid"):
                self.queue.remove(seq, run_id)  # cancelled or started meanwhile
                continue
            candidates.append((run, cfg, bool(status.get("queue_resume"))))
        for slot in free:
            if not candidates:
                return
            first = candidates.pop(0)
            group = [first]
            for other in list(candidates):
                if len(group) >= settings.max_fused:
                    break
                if (other[2] == first[2] and fusion_key(other[1]) == fusion_key(first[1])
                        and fusion_blocker([c for _, c, _ in group] + [other[1]]) is None):
                    group.append(other)
                    candidates.remove(other)
            self.start(slot, [run for run, _, _ in group], first[2])

    def start(self, slot: str, runs: list[RunDir], resume: bool) -> None:
        token = secrets.token_hex(8)
        gpu = slot.split("#")[0].removeprefix("gpu")
        taken = [r for r in runs if r.take_from_queue(self.queue, token, slot=slot,
                                                      gpu=None if gpu == CPU else int(gpu))]
        if not taken:
            return
        env = {} if gpu == CPU else {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": gpu}
        process = TrainerProcess(taken, resume=resume, claim=token, env=env)
        process.start()
        self.busy[slot] = Busy(taken, process, process.pid, process_start_time(process.pid))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    store = RunStore(Path(args[0]))
    queue = QueueFolder(store.root)
    queue.ensure()
    lock = os.open(queue.path / "holder.lock", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + 30
    while True:  # a holder that just decided to leave may still hold the lock for a moment
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                print("another holder holds this queue", file=sys.stderr)
                return 0
            time.sleep(0.05)
    holder = Holder(store)
    signal.signal(signal.SIGTERM, lambda *_: holder.stop.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with queue.locked():  # the launcher that started us wrote our pid; a stale record is rewritten
        record = queue.holder()
        if record.get("pid") != os.getpid():
            queue.write_holder({**record, **holder.me})
    while True:
        holder.run()
        with queue.locked():  # leave only when nothing waits; a launch then sees no holder and starts one
            if holder.stop.is_set() or not queue.waiting():
                queue.write_holder({**queue.holder(), "pid": None, "pid_start": None, "left": time.time()})
                os.close(lock)
                return 0


if __name__ == "__main__":
    sys.exit(main())
