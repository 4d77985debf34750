"""The run store: the one module that knows the run-folder layout (runs/<run-id>/...). No torch, no UI."""
from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LOG = "train.log"
CHECKPOINT = "checkpoint.pt"
SUMMARY = "summary.json"
WORKER_OUT = "worker.out"  # the trainer process's own stdout/stderr

STATES = ("queued", "running", "finished", "failed", "cancelled", "lost")
ACTIVE = ("queued", "running")
HEARTBEAT_SECONDS = 5.0  # how often a live trainer rewrites status.json
STALE_SECONDS = 120.0  # heartbeat age after which a run on another host counts as lost


def default_runs_dir() -> Path:
    return Path(os.environ.get("TUI_DROPOUT_RUNS") or "runs")


def new_run_id(preset: str, now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(now or time.time()).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in preset) or "run"
    return f"{stamp}-{safe}-{secrets.token_hex(2)}"


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """None when absent; raises ValueError when present but not a JSON object."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return data


@contextmanager
def _file_lock(path: Path):
    """An flock across processes: the launcher and the trainer both update status.json."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot): with the pid, it names one process for good."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent has not reaped it yet
        return None
    return int(fields[19])


def process_alive(pid: int | None, start_time: int | None) -> bool:
    if not pid:
        return False
    now_start = process_start_time(pid)
    if now_start is None:
        return False
    return start_time is None or now_start == start_time


@dataclass
class RunInfo:
    """What the lists show of one run, read from its status, config and summary."""

    run_id: str
    path: Path
    state: str
    preset: str = "?"
    epoch: int = 0
    epochs: int = 0
    best_test_acc: float | None = None
    best_train_acc: float | None = None
    created: float = 0.0
    error: str | None = None
    problem: str | None = None  # set when the folder is corrupt or half-written
    status: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


class RunDir:
    """One run folder; every read and write of its files goes through here."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._status_lock = threading.Lock()

    @property
    def run_id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT

    # config / summary / status
    def write_config(self, config: dict[str, Any]) -> None:
        write_json_atomic(self.file(CONFIG), config)

    def read_config(self) -> dict[str, Any]:
        data = read_json(self.file(CONFIG))
        if data is None:
            raise FileNotFoundError(f"{self.file(CONFIG)} missing")
        return data

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json_atomic(self.file(SUMMARY), summary)

    def read_summary(self) -> dict[str, Any] | None:
        return read_json(self.file(SUMMARY))

    def read_status(self) -> dict[str, Any]:
        return read_json(self.file(STATUS)) or {}

    def update_status(self, **changes: Any) -> dict[str, Any]:
        """Read-modify-write under a lock (the heartbeat thread writes too), then atomic replace."""
        with self._status_lock, _file_lock(self.path / ".status.lock"):
            try:
                status = self.read_status()
            except ValueError:
                status = {}
            status.update(changes)
            status["updated"] = time.time()
            write_json_atomic(self.file(STATUS), status)
            return status

    # metrics and log
    def append_metric(self, row: dict[str, Any]) -> None:
        with open(self.file(METRICS), "a") as f:
            f.write(json.dumps(row, sort_keys=True) + "\n")
            f.flush()

    def read_metrics(self) -> list[dict[str, Any]]:
        tail = MetricsTail(self.file(METRICS))
        return tail.read_new()

    def truncate_metrics(self, last_epoch: int) -> int:
        """Keep rows with epoch <= last_epoch (a resume restarts after its checkpoint); returns rows kept."""
        rows = [r for r in self.read_metrics() if r.get("epoch", 0) <= last_epoch]
        tmp = self.file(METRICS).with_suffix(".tmp")
        with open(tmp, "w") as f:
            for row in rows:
                f.write(json.dumps(row, sort_keys=True) + "\n")
        os.replace(tmp, self.file(METRICS))
        return len(rows)

    def log(self, line: str) -> None:
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        with open(self.file(LOG), "a") as f:
            f.write(f"[{stamp}] {line}\n")

    def log_tail(self, lines: int = 20, max_bytes: int = 16384) -> list[str]:
        try:
            with open(self.file(LOG), "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - max_bytes))
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return text.splitlines()[-lines:]

    # liveness
    def info(self) -> RunInfo:
        """Status, config and summary folded into one RunInfo; a broken folder gives a RunInfo with a problem."""
        info = RunInfo(self.run_id, self.path, "lost", created=created_from_id(self.run_id))
        try:
            info.created = info.created or self.path.stat().st_mtime
            status = self.read_status()
            config = read_json(self.file(CONFIG))
            summary = read_json(self.file(SUMMARY))
        except (ValueError, OSError) as exc:
            info.state, info.problem = "failed", f"corrupt run folder: {exc}"
            return info
        if config is None:
            info.state, info.problem = "failed", "corrupt run folder: config.json missing"
            return info
        info.status, info.config, info.summary = status, config, summary or {}
        info.preset = str(config.get("preset", "?"))
        info.epochs = int(config.get("epochs", 0) or 0)
        info.created = float(status.get("created", info.created))
        info.epoch = int(status.get("epoch", 0) or 0)
        info.error = status.get("error")
        info.best_test_acc = status.get("best_test_acc")
        info.best_train_acc = status.get("best_train_acc")
        if summary:
            info.best_test_acc = summary.get("best_test_acc", info.best_test_acc)
            info.best_train_acc = summary.get("best_train_acc", info.best_train_acc)
        info.state = effective_state(status)
        if not status:
            info.problem = "status.json missing"
        return info


def created_from_id(run_id: str) -> float:
    """The start time a run id carries (20261126-093012-...), or 0 when it carries none."""
    try:
        return datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").timestamp()
    except ValueError:
        return 0.0


def effective_state(status: dict[str, Any], now: float | None = None) -> str:
    """The state as written, except that an active run whose trainer is gone reads as 'lost'."""
    state = status.get("state", "lost")
    if state not in ACTIVE:
        return state if state in STATES else "lost"
    if status.get("host") and status.get("host") != socket.gethostname():
        age = (now or time.time()) - float(status.get("heartbeat", 0) or 0)
        return state if age < STALE_SECONDS else "lost"
    if state == "queued" and not status.get("pid"):
        # the launcher writes 'queued' a moment before the trainer exists
        age = (now or time.time()) - float(status.get("updated", 0) or 0)
        return state if age < STALE_SECONDS else "lost"
    return state if process_alive(status.get("pid"), status.get("pid_start")) else "lost"


class MetricsTail:
    """Incremental reader of a JSONL file: keeps its byte offset and holds back a torn last line."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self._inode: int | None = None
        self.bad_lines = 0
        self.reset_needed = False

    def read_new(self) -> list[dict[str, Any]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self.offset):
            self.offset = 0  # replaced or truncated (a resume rewrites it): start over
            self.reset_needed = True
        self._inode = st.st_ino
        if st.st_size == self.offset:
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        rows = []
        for line in chunk[:end].splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                self.bad_lines += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows

    def take_reset(self) -> bool:
        """True once after the file was replaced, so a reader that accumulates rows can drop them."""
        was, self.reset_needed = self.reset_needed, False
        return was


class RunStore:
    """The runs folder: create, list and find run folders."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root else default_runs_dir()

    def create(self, config: dict[str, Any]) -> RunDir:
        self.root.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            run = RunDir(self.root / new_run_id(str(config.get("preset", "run"))))
            try:
                run.path.mkdir()
            except FileExistsError:
                continue
            run.write_config(config)
            run.update_status(state="queued", created=time.time(), epoch=0, epochs=config.get("epochs"))
            return run
        raise RuntimeError(f"could not create a unique run folder in {self.root}")

    def run_dirs(self) -> Iterator[RunDir]:
        if not self.root.is_dir():
            return
        for entry in os.scandir(self.root):
            if entry.is_dir() and not entry.name.startswith("."):
                yield RunDir(entry.path)

    def list(self) -> list[RunInfo]:
        infos = [run.info() for run in self.run_dirs()]
        return sorted(infos, key=lambda i: (i.created, i.run_id), reverse=True)

    def find(self, ref: str) -> RunDir:
        """A run by id, unique id prefix, or its 1-based position in the newest-first list."""
        exact = self.root / ref
        if ref and exact.is_dir():
            return RunDir(exact)
        if ref.isdigit():
            runs = self.list()
            if 1 <= int(ref) <= len(runs):
                return RunDir(runs[int(ref) - 1].path)
        matches = [r for r in self.run_dirs() if r.run_id.startswith(ref) or ref in r.run_id] if ref else []
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise KeyError(f"run: no run matches {ref!r} in {self.root}")
        raise KeyError(f"run: {ref!r} matches {len(matches)} runs; give more of the id")


def host_and_pid() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "pid_start": process_start_time(pid)}
