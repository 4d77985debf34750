"""The local GPU queue launcher: runs wait as folders (no process, no torch) until a slot frees; one holder
process per runs folder starts them, K per GPU, packing fusable runs into one trainer."""
from __future__ import annotations

import os
import re
import socket
import sys
from dataclasses import dataclass

from ..config import ConfigError
from ..gpus import machine_gpus, visible_gpus
from ..states import State
from ..store import RunDir, RunStore, process_start_time
from ..store.queue import QueueFolder
from .base import START_ERRORS, Group, Started, each_group
from .plan import MAX_FUSED, check_max_fused
from .process import Children, detached

CPU = "cpu"


@dataclass
class QueueSettings:
    gpus: list[str]  # GPU indices as the driver numbers them (PCI bus order), MIG UUIDs, or ["cpu"]
    per_gpu: int = 1  # trainer processes at once on each GPU
    max_fused: int = MAX_FUSED  # runs packed into one trainer when they can train fused
    note: str = ""  # why the queue trains on the CPU when it was not asked to (not saved with the holder)

    def slots(self) -> list[str]:
        return [f"{'gpu' + g if g != CPU else CPU}#{k}" for g in self.gpus for k in range(self.per_gpu)]

    def describe(self) -> str:
        where = "the CPU" if self.gpus == [CPU] else "GPU " + ",".join(self.gpus)
        return f"{len(self.slots())} slot(s) on {where}" + (f" ({self.note})" if self.note else "")


GPU_NAME = re.compile(r"cpu|\d{1,5}|(GPU|MIG)-[A-Za-z0-9/_-]{1,80}")  # how parse_gpus names a slot's device


def recorded_settings(record: dict) -> tuple[QueueSettings | None, str | None]:
    """The slots holder.json records, checked as the launcher's options are: (settings, None), or (None, why
    not) for a record that was damaged or hand-edited (`per_gpu: "abc"`). Absent values take their defaults."""
    gpus, per_gpu, max_fused = (record.get(k) if record.get(k) is not None else d
                                for k, d in (("gpus", [CPU]), ("per_gpu", 1), ("max_fused", 1)))
    if not isinstance(gpus, list) or not 1 <= len(gpus) <= 1024 or len(set(map(str, gpus))) != len(gpus) or not all(
            isinstance(g, str) and GPU_NAME.fullmatch(g) for g in gpus):
        return None, f"holder.json: gpus is {_short(gpus)}, not a list of GPU names (0, GPU-..., MIG-...) or [\"cpu\"]"
    for name, value in (("per_gpu", per_gpu), ("max_fused", max_fused)):
        if type(value) is not int or not 1 <= value <= 64:
            return None, f"holder.json: {name} is {_short(value)}, not a whole number 1 to 64"
    return QueueSettings(list(gpus), per_gpu, max_fused), None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


NO_GPU_NOTE = "no GPU found (neither NVML nor /proc/driver/nvidia shows one): training on the CPU"


def parse_gpus(text: str | None) -> tuple[list[str], str]:
    """`auto` (every GPU CUDA would see here, else the CPU, saying so), `cpu`, or GPUs by index `0,2,3` or UUID;
    with the note that explains a fall back to the CPU. A GPU this machine does not show is refused."""
    text = (text or "auto").strip()
    if text.lower() == "auto":
        names = [gpu.name for gpu in visible_gpus()]
        return (names, "") if names else ([CPU], NO_GPU_NOTE)
    if text.lower() == CPU:
        return [CPU], ""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() or p.startswith(("GPU-", "MIG-")) for p in parts):
        raise ConfigError("gpus", f"expected auto, cpu or GPU indices like 0,2,3, got {text!r}")
    gpus = machine_gpus()
    names = []
    for part in parts:
        if part.isdigit():
            found = int(part) < len(gpus)
            name = str(int(part))
        elif part.startswith("GPU-"):
            matches = [g for g in gpus if g.uuid.startswith(part)]
            found, name = len(matches) == 1, (matches[0].name if len(matches) == 1 else part)
        else:
            found, name = bool(gpus), part  # a MIG instance: CUDA takes it by its UUID
        if not found:
            shown = ",".join(g.name for g in gpus) if gpus else "none"
            raise ConfigError("gpus", f"no GPU {part} on this machine (GPUs shown: {shown})")
        names.append(name)
    if len(set(names)) != len(names):
        raise ConfigError("gpus", f"{text!r} names a GPU twice")
    return names, ""


CPU_MAX_FUSED = 1  # on a CPU, fusing gains nothing (benchmarks/fused_members.py): runs take slots one each


def settings_from(gpus: str | None, per_gpu: int | None, max_fused: int | None = None) -> QueueSettings:
    names, note = parse_gpus(gpus)
    default_fused = CPU_MAX_FUSED if names == [CPU] else MAX_FUSED
    settings = QueueSettings(names, per_gpu if per_gpu is not None else 1,
                             max_fused if max_fused is not None else default_fused, note)
    if not 1 <= settings.per_gpu <= 64:
        raise ConfigError("per_gpu", f"must be 1 to 64, got {settings.per_gpu}")
    check_max_fused(settings.max_fused)
    return settings


class QueueLauncher:
    name = "queue"
    groups_runs = False  # the holder packs fusable runs when a slot frees

    def __init__(self, settings: QueueSettings, fuse: bool = True, processes: Children | None = None):
        self.settings = settings
        self.fuse = fuse
        self.processes = processes if processes is not None else Children()  # a holder started here: reaped

    def start(self, store: RunStore, groups: list[Group], resume: bool = False) -> Started:
        """One hand-off, so the holder sees the whole study at once and packs what can fuse; should it fail midway,
        the runs it did not take are handed one group at a time, and only a group that cannot be queued fails."""
        if len(groups) > 1:
            try:
                return Started(self.hand_off(store, groups, resume))
            except START_ERRORS:
                groups = [g for g in groups if not all(taken(run) for run in g.runs)]
        return each_group(groups, lambda group: self.hand_off(store, [group], resume))

    def hand_off(self, store: RunStore, groups: list[Group], resume: bool = False) -> str:
        queue = QueueFolder(store.root)
        with queue.locked():
            holder, proc = ensure_holder(store, self.settings)
            if proc is not None:
                self.processes.add(proc)
                adopt_waiting(store, queue, holder)
            ahead = len(queue.waiting())
            limit = self.settings.max_fused if self.fuse else 1  # each run keeps the packing it was launched with
            for group in groups:
                for run in group.runs:
                    run.enqueue(queue, holder, queue_resume=resume, queue_max_fused=limit)
        count = sum(len(g.runs) for g in groups)
        return f"{count} run(s) queued on {self.settings.describe()}" + (f", {ahead} waiting ahead" if ahead else "")


def taken(run: RunDir) -> bool:
    """Whether the queue took this run before a hand-off failed (its status names the queue, no trainer yet)."""
    try:
        status = run.read_status()
    except START_ERRORS:
        return False
    return status.get("backend") == "queue" and status.get("state") == State.QUEUED and not status.get("pid")


def adopt_waiting(store: RunStore, queue: QueueFolder, holder: dict) -> None:
    """Runs an earlier holder left waiting belong to the new one at once (not lost until it looks)."""
    for seq, run_id in queue.waiting():
        run = RunDir(store.root / run_id)
        if not run.path.is_dir() or run.path.is_symlink():  # deleted or archived while it waited: only its marker is left
            queue.remove(seq, run_id)
            continue
        try:
            run.update_status_if(lambda s: s.get("state") == State.QUEUED and not s.get("pid"),
                                 queue_pid=holder.get("pid"), queue_pid_start=holder.get("pid_start"),
                                 host=holder.get("host"))
        except (OSError, ValueError):  # gone this moment, or its status damaged: the holder drops it when it looks
            continue


def ensure_holder(store: RunStore, settings: QueueSettings):
    """The live holder's record, with these settings, and the process when a new holder had to be started.

    Called under the queue lock, so two launches never start two holders."""
    queue = QueueFolder(store.root)
    record = queue.holder()
    proc = None
    if not queue.holder_alive():
        # the holder lock is taken here and handed to the new holder, so it holds the queue from its first moment;
        # held by another (a holder whose record was edited heals it within a tick), the new one waits its turn
        fd = queue.take_lock(wait=1.0)
        try:
            proc = detached([sys.executable, "-m", "tui_dropout.launch.holder", str(store.root.resolve()),
                             *(["--lock-fd", str(fd)] if fd is not None else [])],
                            queue.path / "holder.out", pass_fds=(fd,) if fd is not None else ())
        finally:
            if fd is not None:
                os.close(fd)  # the holder's copy holds the lock from here on
        record = {"pid": proc.pid, "pid_start": process_start_time(proc.pid), "host": socket.gethostname()}
    record.update(gpus=settings.gpus, per_gpu=settings.per_gpu, max_fused=settings.max_fused)
    queue.write_holder(record)  # the holder re-reads its slots every tick: the latest launch's apply
    return record, proc
