"""Fixture builders: a tiny config, isolated runs/cache folders, CIFAR-format pickles and image folders."""
from __future__ import annotations

import json
import os
import pickle
import socket
import time
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg.tar.gz"


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory):
    """Decoded datasets go to one cache per test session, never the user's."""
    cache = tmp_path_factory.mktemp("cache")
    os.environ["TUI_DROPOUT_CACHE"] = str(cache)
    os.environ.pop("TUI_DROPOUT_DATA", None)
    os.environ.pop("TUI_DROPOUT_RUNS", None)
    yield cache


@pytest.fixture(autouse=True)
def _config_home(tmp_path_factory, monkeypatch):
    """The user's config folder (the form's memory, slurm.toml) is each test's own, never the user's."""
    home = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    yield home


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    """A runs folder for one test; any trainer or queue holder still working in it when the test ends (a
    failed assertion skips the test's own cancel) is stopped, so it cannot slow the tests after it."""
    path = tmp_path / "runs"
    yield path
    stop_processes_in(path)


def stop_processes_in(folder: Path) -> None:
    import signal

    marker = str(Path(folder).resolve()).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read()
        except OSError:
            continue
        if marker in args and b"tui_dropout" in args:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def tiny_config(**overrides):
    from tui_dropout.config import load_preset

    base = dict(epochs=3, batch_size=64, train_limit=256, eval_every=1, checkpoint_every=1, device="cpu")
    base.update(overrides)
    return load_preset("quick").with_overrides(**base)


def write_cifar_batches(root: Path, per_batch: int = 20, seed: int = 0) -> Path:
    """Files in torchvision's cifar-10-batches-py layout (pickled dicts, latin1-readable)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [int(x) for x in rng.integers(0, 10, per_batch)]
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), "labels": labels, "data": data,
                         "filenames": [f"{i}.png" for i in range(per_batch)]}, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                     "ship", "truck"], "num_vis": 3072}, f)
    return root


def write_image_folder(root: Path, classes=("cat", "dog", "ship"), per_class: int = 6, size=32) -> Path:
    from PIL import Image

    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for name in classes:
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(d / f"{i:04d}.png")
    return root


def make_run_folder(runs_dir: Path, name: str, status: dict | None, config: dict | None = None,
                    metrics: str = "") -> Path:
    """A run folder written by hand, for states and damage the trainer would not leave."""
    path = runs_dir / name
    path.mkdir(parents=True)
    if config is not False:
        cfg = config or {"preset": "A", "epochs": 10, "placement": "none", "p_conv": 0.5, "p_fc": 0.5,
                         "dataset": "digits"}
        (path / "config.json").write_text(json.dumps(cfg))
    if status is not None:
        status = {"created": time.time(), **status}
        (path / "status.json").write_text(json.dumps(status))
    if metrics:
        (path / "metrics.jsonl").write_text(metrics)
    return settle(path)


def settle(path: Path, seconds: float = 60.0) -> Path:
    """A run folder and its status.json dated `seconds` back, as if written a while ago: the listing index then
    trusts their stamps (it never trusts one written within index.SETTLE_NS), and any later write changes them."""
    when = time.time_ns() - int(seconds * 1e9)
    for target in (path / "status.json", path):
        if target.exists() and not target.is_symlink():
            os.utime(target, ns=(when, when))
    return path


def wait_for(predicate, timeout: float = 60.0, every: float = 0.05) -> bool:
    """Poll `predicate` until it holds or `timeout` passes (tests wait for conditions, never a fixed pause)."""
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(every)


def cli(*args, env=None, timeout: float = 120.0):
    """`dropout-tui ARGS` as a user runs it: the real console script in a subprocess."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "tui_dropout", *[str(a) for a in args]], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def metric_epochs(run_path: Path) -> list[int]:
    path = Path(run_path) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["epoch"] for line in path.read_text().splitlines() if line.endswith("}")]


def read_status(run_path: Path) -> dict:
    try:
        return json.loads((Path(run_path) / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def run_paths(runs_dir: Path) -> list[Path]:
    """The run folders in a runs folder (not its hidden index or queue)."""
    if not Path(runs_dir).exists():
        return []
    return sorted(p for p in Path(runs_dir).iterdir() if p.is_dir() and not p.name.startswith("."))


FAKE_NVML_SOURCE = """
import types as _types


def _index(h):
    return next(i for i, d in enumerate(DEVICES) if d is h)


def nvmlInit():
    pass


def nvmlDeviceGetCount():
    return len(DEVICES)


def nvmlDeviceGetHandleByIndex(i):
    return DEVICES[i]


def nvmlDeviceGetName(h):
    return h["name"]


def nvmlDeviceGetUUID(h):
    return h.get("uuid") or "GPU-%08x-1111-2222-3333-444444444444" % _index(h)


def nvmlDeviceGetPciInfo(h):
    return _types.SimpleNamespace(busId=h.get("bus") or "00000000:%02X:00.0" % (_index(h) + 1))


def nvmlDeviceGetUtilizationRates(h):
    return _types.SimpleNamespace(gpu=h.get("util", 0), memory=0)


def nvmlDeviceGetMemoryInfo(h):
    return _types.SimpleNamespace(used=h.get("used", 0), total=h.get("total", 80 * 2**30), free=0)


def nvmlDeviceGetComputeRunningProcesses(h):
    return [_types.SimpleNamespace(pid=p, usedGpuMemory=0) for p in h.get("pids", [])]
"""


def fake_nvml_module(devices: list[dict], on_init=None):
    """A stand-in `pynvml` over `devices` ({"name", "util", "used", "total", "pids", "uuid"?, "bus"?}): the only
    NVML a machine without a GPU can run. Install with monkeypatch.setitem(sys.modules, "pynvml", ...), then
    gpustats.reset()."""
    import types

    mod = types.ModuleType("pynvml")
    mod.DEVICES = devices
    exec(FAKE_NVML_SOURCE, mod.__dict__)
    if on_init:
        mod.nvmlInit = on_init
    return mod


def fake_nvml_path(folder: Path, devices: list[dict]) -> dict[str, str]:
    """The same fake NVML as a `pynvml.py` in `folder`, for a CLI subprocess: the env that puts it first on its
    path (the CLI then finds these GPUs as it would find real ones through nvidia-ml-py)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pynvml.py").write_text(f"DEVICES = {devices!r}\n" + FAKE_NVML_SOURCE)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))}


POLL_SECONDS = 0.02  # how often `until` looks again


async def until(pilot, predicate, timeout: float = 20.0, what: str = "the condition") -> None:
    """Wait, letting the console run, until predicate() is true; fail after `timeout` seconds (console tests wait
    for conditions, never a fixed pause)."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()  # let the app handle what is pending
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(POLL_SECONDS)


def stand_in_holder(runs_dir: Path, lock: bool = True):
    """A process that only sleeps, with a queue holder's command line for `runs_dir` and (lock) the holder lock
    handed to it as a launcher hands it to a holder: taken for the queue's holder, it starts nothing."""
    import subprocess
    import sys

    from tui_dropout.store import process_start_time
    from tui_dropout.store.liveness import HOLDER_MODULE
    from tui_dropout.store.queue import QueueFolder

    queue = QueueFolder(runs_dir)
    fd = queue.take_lock() if lock else None
    try:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", HOLDER_MODULE,
                                 str(Path(runs_dir).resolve())], pass_fds=(fd,) if fd is not None else ())
    finally:
        if fd is not None:
            os.close(fd)
    assert wait_for(lambda: process_start_time(proc.pid) is not None, 10)
    queue.write_holder({"pid": proc.pid, "pid_start": process_start_time(proc.pid), "host": socket.gethostname(),
                        "gpus": ["cpu"], "per_gpu": 1, "max_fused": 1})
    return proc
