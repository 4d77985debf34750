"""Faults users meet: a runs folder that fills up or is read-only, a terminal that goes away, litter from kills.

Disk-full and read-only folders are real: a small tmpfs and a read-only bind mount in a private mount
namespace (`unshare -m`); where this machine cannot do that, those tests skip and say why."""
import fcntl
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import termios
import textwrap

import pytest

from conftest import cli, metric_epochs, read_status, run_paths, tiny_config, wait_for
from tui_dropout.store import RunStore, effective_state


def _can_mount() -> str | None:
    if not shutil.which("unshare"):
        return "unshare is not installed"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, text=True)
    return None if probe.returncode == 0 else f"cannot mount in a private namespace: {probe.stderr.strip()}"


MOUNT_PROBLEM = _can_mount()
needs_mount = pytest.mark.skipif(MOUNT_PROBLEM is not None, reason=str(MOUNT_PROBLEM))


def _in_namespace(script: str, tmp_path) -> dict:
    """Run a Python script as root in a private mount namespace; it prints one JSON object."""
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    out = subprocess.run(["unshare", "-m", sys.executable, str(path), str(tmp_path)], capture_output=True,
                         text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


COMMON = """
    import glob, json, os, subprocess, sys
    root = sys.argv[1]
    runs = os.path.join(root, "runs")
    os.makedirs(runs, exist_ok=True)

    def cli(*args):
        r = subprocess.run([sys.executable, "-m", "tui_dropout", *args, "--runs-dir", runs], capture_output=True,
                           text=True)
        return {"rc": r.returncode, "out": r.stdout, "err": r.stderr}
"""


@needs_mount
@pytest.mark.slow
def test_a_runs_folder_that_fills_up_fails_the_run_cleanly_and_it_resumes_once_space_is_freed(tmp_path):
    result = _in_namespace(COMMON + """
    # ~520 KB a checkpoint, written beside the last good one: the second one cannot fit in 900 KB
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=900k", "tmpfs", runs], check=True)
    train = cli("train", "--preset", "quick", "--epochs", "6", "--set", "train_limit=200", "--batch-size", "64",
                "--set", "checkpoint_every=1", "--set", "eval_every=1", "--device", "cpu")
    (run,) = glob.glob(os.path.join(runs, "*"))
    full = {"train": train, "files": sorted(os.listdir(run)), "status": json.load(open(os.path.join(run, "status.json")))}
    import torch
    full["checkpoint_epoch"] = torch.load(os.path.join(run, "checkpoint.pt"), weights_only=True)["epoch"]
    subprocess.run(["mount", "-o", "remount,size=20m", runs], check=True)
    resume = cli("resume", os.path.basename(run))
    epochs = [json.loads(line)["epoch"] for line in open(os.path.join(run, "metrics.jsonl"))]
    print(json.dumps({**full, "resume": resume, "epochs": epochs,
                      "final": json.load(open(os.path.join(run, "status.json")))["state"]}))
    """, tmp_path)
    train, status = result["train"], result["status"]
    assert train["rc"] == 1
    assert status["state"] == "failed" and "no space left on device" in status["error"]
    assert "no space left on device" in train["out"] + train["err"]
    assert not [name for name in result["files"] if name.endswith(".tmp")]  # no half-written litter
    assert result["checkpoint_epoch"] >= 1  # the last good checkpoint is kept
    assert result["resume"]["rc"] == 0, result["resume"]
    assert result["epochs"] == list(range(1, 7)) and result["final"] == "finished"


@needs_mount
def test_a_read_only_runs_folder_gets_one_line_and_exit_2_from_train_resume_and_cancel(tmp_path):
    result = _in_namespace(COMMON + """
    os.makedirs(os.path.join(runs, "20260101-000000-quick-ro01"))
    with open(os.path.join(runs, "20260101-000000-quick-ro01", "config.json"), "w") as f:
        json.dump({"preset": "quick", "epochs": 3, "dataset": "digits"}, f)
    with open(os.path.join(runs, "20260101-000000-quick-ro01", "status.json"), "w") as f:
        json.dump({"state": "cancelled", "epoch": 1}, f)
    subprocess.run(["mount", "--bind", runs, runs], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", runs], check=True)
    print(json.dumps({"train": cli("train", "--preset", "quick", "--epochs", "1", "--device", "cpu"),
                      "resume": cli("resume", "ro01"), "cancel": cli("cancel", "ro01"), "runs": cli("runs"),
                      "files": sorted(os.listdir(runs))}))
    """, tmp_path)
    for command in ("train", "resume", "cancel"):
        out = result[command]
        assert out["rc"] == 2, (command, out)
        assert out["err"].strip().count("\n") == 0 and "read-only" in out["err"], (command, out)
    assert result["runs"]["rc"] == 0 and "ro01" in result["runs"]["out"]  # reading still works
    assert result["files"] == ["20260101-000000-quick-ro01"]


def test_a_trainer_sweeps_the_temporary_files_earlier_kills_left(runs_dir):
    from tui_dropout.trainer.engine import Trainer

    run = RunStore(runs_dir).create(tiny_config(epochs=1).to_dict())
    litter = [".checkpoint.999999.tmp", ".status.json.999999.140000.tmp", ".metrics.jsonl.999999.1.tmp"]
    for name in litter:
        (run.path / name).write_bytes(b"half")
    assert Trainer([run]).run() == ["finished"]
    assert not [p.name for p in run.path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_a_foreground_train_keeps_training_when_its_terminal_goes_away(runs_dir):
    master, slave = pty.openpty()

    def take_terminal():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "tui_dropout", "train", "--preset", "quick", "--epochs", "300",
                             "--set", "train_limit=300", "--batch-size", "32", "--device", "cpu",
                             "--runs-dir", str(runs_dir)],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=take_terminal)
    os.close(slave)
    os.set_blocking(master, False)

    def drain():
        try:
            while os.read(master, 65536):
                pass
        except OSError:
            pass

    def first_rows():
        drain()
        runs = run_paths(runs_dir)
        return len(runs) == 1 and len(metric_epochs(runs[0])) >= 1

    try:
        assert wait_for(first_rows, 120)
        (path,) = run_paths(runs_dir)
        os.close(master)  # the SSH link or tmux pane closes: the kernel hangs up the terminal's session
        os.killpg(proc.pid, signal.SIGHUP)
        done = len(metric_epochs(path))
        assert wait_for(lambda: len(metric_epochs(path)) >= done + 2, 120)
        assert proc.poll() is None and effective_state(read_status(path)) == "running"
        assert "terminal closed" in (path / "train.log").read_text()
        assert cli("cancel", path.name, "--runs-dir", runs_dir).returncode == 0
        assert proc.wait(60) == 130 and read_status(path)["state"] == "cancelled"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
