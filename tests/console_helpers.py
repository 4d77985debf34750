"""What the console tests share: fixture run folders, a console that keeps what it told, the form's helpers and
a stand-in trainer."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import make_run_folder, until
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.screens.new_run import NewRunScreen
from tui_dropout.launch import local as local_launcher
from tui_dropout.store import process_start_time


def metrics(n, loss0=2.3, acc_every=2):
    rows = []
    for e in range(1, n + 1):
        row = {"epoch": e, "loss": loss0 / e, "lr": 0.01, "seconds": 0.5, "elapsed": 0.6 * e}
        if e % acc_every == 0 or e == n:
            row.update(train_acc=min(1.0, 0.1 * e), test_acc=min(0.9, 0.08 * e))
        rows.append(json.dumps(row))
    return "\n".join(rows) + "\n"


FIGURES = {"best_test_acc": 0.6, "best_test_epoch": 8, "best_train_acc": 0.95, "best_train_epoch": 10,
           "final_test_acc": 0.58, "final_train_acc": 0.95, "final_loss": 0.23, "elapsed": 6.0}


@pytest.fixture
def fixture_runs(runs_dir):
    """One folder for every state, damaged ones, and enough finished runs to list eleven."""
    t = time.time()
    a = make_run_folder(runs_dir, "20260101-000001-A-aaaa", {"state": "finished", "epoch": 10, "created": t - 60,
                                                             **FIGURES}, metrics=metrics(10))
    (a / "train.log").write_text("".join(f"[2026-01-01 00:00:{e:02d}] epoch: {e} loss: {2.3 / e:.4f}\n"
                                         for e in range(1, 31)) + "[2026-01-01 00:00:59] run finished\n")
    make_run_folder(runs_dir, "20260101-000002-B-bbbb", {"state": "finished", "epoch": 10, "created": t - 50},
                    config={"preset": "B", "epochs": 10, "placement": "fc", "p_fc": 0.3, "dataset": "digits"},
                    metrics=metrics(10, loss0=2.0))
    make_run_folder(runs_dir, "20260101-000003-C-cccc", {"state": "failed", "error": "loss became nan at epoch 3",
                                                        "epoch": 3, "created": t - 40}, metrics=metrics(2))
    make_run_folder(runs_dir, "20260101-000004-D-dddd", {"state": "running", "pid": 999999, "pid_start": 1,
                                                        "host": os.uname().nodename, "created": t - 30})
    make_run_folder(runs_dir, "20260101-000005-A-eeee", {"state": "cancelled", "epoch": 4, "created": t - 20},
                    config={"preset": "A", "epochs": 10, "placement": "none", "p_fc": 0.3, "dataset": "digits"},
                    metrics=metrics(4) + '{"epoch": 5, "lo')
    bad = make_run_folder(runs_dir, "20260101-000006-A-ffff", None, metrics="not json\n")
    (bad / "status.json").write_text("{broken")
    make_run_folder(runs_dir, "20260101-000007-A-gggg", {"state": "queued", "created": t - 5}, config=False)
    for i in range(4):
        make_run_folder(runs_dir, f"20251231-00000{i}-A-old{i}", {"state": "finished", "epoch": 10,
                                                                  "created": t - 1000 + i}, metrics=metrics(10))
    return runs_dir


@pytest.fixture
def extra_presets(tmp_path, monkeypatch):
    """$TUI_DROPOUT_PRESETS with a second offline preset (q2), a broken TOML file and presets with bad values."""
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "q2.toml").write_text('description = "quick with dropout everywhere"\ndataset = "digits"\n'
                                    'placement = "all"\nepochs = 40\nbatch_size = 32\neval_every = 1\n'
                                    'train_limit = 300\n')
    (folder / "broken.toml").write_text("epochs = = 3\n")
    (folder / "wrongtype.toml").write_text('dataset = "digits"\nepochs = "ten"\n')
    (folder / "imagenet.toml").write_text('dataset = "imagenet"\nepochs = 3\n')
    monkeypatch.setenv("TUI_DROPOUT_PRESETS", str(folder))
    return folder


def position(app, suffix):
    """The 1-9 key that jumps to the run whose id ends with suffix."""
    ids = [i.run_id for i in app.watcher.ordered()]
    return str(next(n for n, run_id in enumerate(ids, 1) if run_id.endswith(suffix)))


async def go_to(pilot, app, suffix):
    """Select the run whose id ends with suffix with the keys a user would press (9, then down past row 9)."""
    n = int(position(app, suffix))
    await pilot.press(*([str(n)] if n <= 9 else ["9"] + ["down"] * (n - 9)))
    await until(pilot, lambda: app.screen.selected.endswith(suffix), what=f"run {suffix} selected")


def text_of(widget) -> str:
    return str(widget.render())


class RecordingConsole(DropoutConsole):
    """The console, keeping every notification it showed (shown ones expire) in `told`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.told: list[str] = []

    def notify(self, message, **kwargs):
        self.told.append(str(message))
        return super().notify(message, **kwargs)

    def was_told(self, text: str) -> bool:
        return any(text in message for message in self.told)


async def open_form(pilot, app, **fields):
    """Press n and fill fields by id (f_epochs=..., together=...); returns the form once it has checked them."""
    await pilot.press("n")
    await until(pilot, lambda: isinstance(app.screen, NewRunScreen), what="the form")
    return await fill_form(pilot, app.screen, **fields)


async def fill_form(pilot, form, **fields):
    ids = {name: f"#{name.replace('_', '-', 1) if name.startswith('f_') else name}" for name in fields}
    for name, value in fields.items():
        form.query_one(ids[name]).value = value
    await until(pilot, lambda: all(str(form.query_one(ids[n]).value) == v for n, v in fields.items()))
    form.check()
    return form


# ----- a stand-in trainer: a torch-free process that writes the run folder as the trainer does -----------------
FAKE_TRAINER = textwrap.dedent("""
    import signal, sys, threading, time
    from tui_dropout.store import RunDir, host_and_pid
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    resume, runs = sys.argv[1] == "--resume", [RunDir(p) for p in sys.argv[2:]]
    for run in runs:
        run.update_status(state="running", heartbeat=time.time(), **host_and_pid())
    done = min(int(run.read_status().get("epoch") or 0) for run in runs) if resume else 0
    epochs = int(runs[0].read_config()["epochs"])
    while done < epochs and not stop.is_set() and not any(r.cancel_requested() for r in runs):
        time.sleep(0.02)
        done += 1
        for run in runs:
            run.append_metric({"epoch": done, "loss": 1.0 / done, "lr": 0.01, "seconds": 0.02,
                               "train_acc": 0.5, "test_acc": 0.4})
            run.log(f"epoch: {done}")
            run.file("checkpoint.pt").write_bytes(b"fake")
            run.update_status(epoch=done, heartbeat=time.time())
    for run in runs:
        run.update_status(state="finished" if done >= epochs else "cancelled", ended=time.time())
        run.clear_cancel_request()
""")


class FakeTrainers:
    """Stands in for TrainerProcess behind the console's LocalLauncher; records what was started (run ids, resume)."""

    def __init__(self):
        self.started: list[tuple[list[str], bool]] = []
        self.procs: list[subprocess.Popen] = []
        fakes = self

        class FakeTrainer:
            def __init__(self, runs, resume=False, claim=None):
                self.runs, self.resume, self.proc = runs, resume, None

            def start(self):
                cmd = [sys.executable, "-c", FAKE_TRAINER, "--resume" if self.resume else "--new",
                       *[str(r.path) for r in self.runs]]
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
                fakes.procs.append(self.proc)
                fakes.started.append(([r.run_id for r in self.runs], self.resume))
                for run in self.runs:
                    run.update_status(pid=self.proc.pid, pid_start=process_start_time(self.proc.pid))
                return self.proc.pid

            def poll(self):
                return self.proc.poll()

        self.cls = FakeTrainer


@pytest.fixture
def fake_trainers(monkeypatch):
    fakes = FakeTrainers()
    monkeypatch.setattr(local_launcher, "TrainerProcess", fakes.cls)
    yield fakes
    for proc in fakes.procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_folders(runs_dir: Path) -> list[Path]:
    """The run folders (the store may keep files of its own beside them, such as a hidden index)."""
    if not runs_dir.exists():
        return []
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def configs(runs_dir: Path) -> list[dict]:
    return [json.loads((p / "config.json").read_text()) for p in run_folders(runs_dir)]
