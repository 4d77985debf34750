"""The queue holder: `python -m tui_dropout.launch.holder RUNS_DIR`. One per runs folder (an flock), detached.

It starts waiting runs as slots free (a slot is one trainer process on one GPU), packs fusable runs into one
trainer, and exits when nothing waits or runs. It holds no torch: waiting runs cost a marker file each.
Killed, it leaves waiting runs 'lost' (resumable) and its trainers running; the next holder adopts both."""
from __future__ import annotations

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
from ..fusion import fusable
from ..states import ACTIVE, State
from ..store import RunDir, RunStore, effective_state, process_alive, process_start_time, read_json
from ..store.queue import QueueFolder
from .process import TrainerProcess
from .queue import CPU, QueueSettings, recorded_settings

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
        self._configs: dict[str, RunConfig | None] = {}
        self.me = {"pid": os.getpid(), "pid_start": process_start_time(os.getpid()), "host": socket.gethostname()}
        self._settings = QueueSettings([CPU], 1, 1)  # the last good record's slots
        self._told = ""

    def settings(self) -> QueueSettings:
        """The slots holder.json asks for; a damaged or hand-edited record is named (in holder.out) and not
        trusted: the holder keeps the slots it last read well."""
        settings, problem = recorded_settings(self.queue.holder())
        if settings is not None:
            self._settings, self._told = settings, ""
        elif problem != self._told:
            print(f"{problem}: keeping {self._settings.describe()}", file=sys.stderr, flush=True)
            self._told = problem
        return self._settings

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
            if effective_state(status) in ACTIVE:
                self.busy[str(status["slot"])] = Busy([run], None, status.get("pid"), status.get("pid_start"))
        self.adopt_waiting()

    def adopt_waiting(self) -> None:
        for seq, run_id in self.queue.waiting():
            run = RunDir(self.store.root / run_id)
            if not run.path.is_dir():  # deleted or archived while it waited: its marker is all that is left
                self.queue.remove(seq, run_id)
                continue
            try:
                run.update_status_if(lambda now: now.get("state") == State.QUEUED and not now.get("pid"),
                                     queue_pid=self.me["pid"], queue_pid_start=self.me["pid_start"],
                                     host=self.me["host"])
            except (OSError, ValueError):  # gone this moment, or its status damaged: dispatch drops it
                continue

    def heal(self) -> None:
        """holder.json names another process (edited by hand, or a launcher that judged us gone): we hold the
        lock, so the record is rewritten to name us and the waiting runs are ours again, not lost."""
        record = self.queue.holder()
        if record.get("pid") == self.me["pid"] and record.get("pid_start") == self.me["pid_start"]:
            return
        with self.queue.locked():
            record = self.queue.holder()
            if recorded_settings(record)[0] is None:  # damaged too: the slots last read well are kept
                good = self._settings
                record.update(gpus=good.gpus, per_gpu=good.per_gpu, max_fused=good.max_fused)
            self.queue.write_holder({**record, **self.me})
        print("holder.json named another process: it names this holder again", file=sys.stderr, flush=True)
        self.adopt_waiting()

    # ----- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        """Serve until stopped, or until nothing has waited or run for IDLE_EXIT seconds."""
        self.adopt()
        idle_since = time.monotonic()
        while not self.stop.is_set():
            self.heal()
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
        """Start waiting runs on the free slots, in queue order: each slot takes the first waiting run and the
        later ones that can train fused with it (up to the smallest --max-fused among them); a resumed run goes
        alone (its checkpoint fixes where it stands)."""
        with self.queue.locked():  # a study being enqueued is seen whole, never half
            waiting = self.queue.waiting()
        candidates: list[tuple[RunDir, RunConfig, bool, int]] = []
        seen: set[str] = set()
        for seq, run_id in waiting:
            run = RunDir(self.store.root / run_id)
            cfg = self._config(run)
            try:
                status = run.read_status()
            except ValueError:
                status = {}
            if cfg is None or not status:
                self.queue.remove(seq, run_id)
                try:
                    run.leave_queue()
                except OSError:  # the folder is gone (deleted, archived): nothing left to mark
                    pass
                continue
            if status.get("state") != State.QUEUED or status.get("pid") or run_id in seen:
                self.queue.remove(seq, run_id)  # cancelled, started meanwhile, or a stale second marker
                continue
            seen.add(run_id)
            limit = status.get("queue_max_fused")
            limit = limit if isinstance(limit, int) and limit >= 1 else settings.max_fused
            # a run with a checkpoint resumes from it however it was queued (a marker made by hand, a holder that
            # died): it goes alone, as a resume does
            resumes = bool(status.get("queue_resume")) or run.has_checkpoint()
            candidates.append((run, cfg, resumes, min(limit, settings.max_fused)))
        for slot in free:
            if not candidates:
                return
            first = candidates.pop(0)
            group, limit = [first], first[3]
            for other in [] if first[2] else list(candidates):
                if len(group) >= min(limit, other[3]):
                    break
                if not other[2] and fusable([c for _, c, _, _ in group] + [other[1]]) is None:
                    group.append(other)
                    limit = min(limit, other[3])
                    candidates.remove(other)
            self.start(slot, [run for run, _, _, _ in group], first[2])

    def _config(self, run: RunDir) -> RunConfig | None:
        """A waiting run's config (written once: read once), or None when it is damaged."""
        if run.run_id not in self._configs:
            try:
                self._configs[run.run_id] = RunConfig.from_dict(read_json(run.file("config.json")) or {})
            except (ValueError, TypeError):
                self._configs[run.run_id] = None
        return self._configs[run.run_id]

    def start(self, slot: str, runs: list[RunDir], resume: bool) -> None:
        token = secrets.token_hex(8)
        gpu = slot.split("#")[0].removeprefix("gpu")
        taken = [r for r in runs if r.take_from_queue(self.queue, token, slot=slot,
                                                      gpu=int(gpu) if gpu.isdigit() else None)]
        if not taken:
            return
        # a CPU slot hides every GPU (device auto then trains on the CPU, as the slot says)
        env = {"CUDA_VISIBLE_DEVICES": ""} if gpu == CPU else {"CUDA_DEVICE_ORDER": "PCI_BUS_ID",
                                                                "CUDA_VISIBLE_DEVICES": gpu}
        process = TrainerProcess(taken, resume=resume, claim=token, env=env)
        try:
            process.start()
        except OSError as exc:  # worker.out planted as a link (refused), a full disk: these runs fail, we go on
            where = Path(exc.filename).name if exc.filename else "the trainer"
            reason = f"the trainer did not start: {where}: {exc.strerror or exc}"
            for run in taken:
                try:
                    run.update_status_if(lambda now: now.get("claim") == token and not now.get("pid"),
                                         state=State.FAILED, error=reason, ended=time.time())
                except (OSError, ValueError):
                    pass
            return
        self.busy[slot] = Busy(taken, process, process.pid, process_start_time(process.pid))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    store = RunStore(Path(args[0]))
    queue = QueueFolder(store.root)
    queue.ensure()
    if args[1:2] == ["--lock-fd"]:  # the launcher took the holder lock and handed it over: held from the start
        lock = int(args[2])
    else:
        lock = queue.take_lock(wait=30)  # a holder that just decided to leave may still hold it for a moment
        if lock is None:
            print("another holder holds this queue", file=sys.stderr)
            return 0
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
