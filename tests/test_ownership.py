"""One trainer per run, on this host and across hosts through the folder; cancel only ever signals a proven trainer."""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import cli, make_run_folder, metric_epochs, read_status, wait_for
from tui_dropout.store import RunDir, effective_state, process_start_time

LONG = ["--preset", "quick", "--epochs", "300", "--set", "train_limit=300", "--batch-size", "32",
        "--set", "checkpoint_every=1", "--device", "cpu"]


def trainer_pids(run_path) -> list[int]:
    """Trainer processes (the worker module) working on this run folder, found in /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"tui_dropout.trainer.worker" in args and str(run_path).encode() in args:
            if process_start_time(int(entry)) is not None:  # not a zombie
                found.append(int(entry))
    return found


def start_detached(runs_dir) -> str:
    out = cli("train", *LONG, "--detach", "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def stop(runs_dir, run_id):
    cli("cancel", run_id, "--runs-dir", runs_dir)
    assert wait_for(lambda: read_status(runs_dir / run_id).get("state") == "cancelled", 60)


@pytest.mark.slow
def test_six_resumes_at_once_start_one_trainer_and_the_rest_name_the_owner(runs_dir):
    run_id = start_detached(runs_dir)
    path = runs_dir / run_id
    assert wait_for(lambda: len(metric_epochs(path)) >= 2)
    os.kill(read_status(path)["pid"], signal.SIGKILL)
    assert wait_for(lambda: effective_state(read_status(path)) == "lost", 10)

    cmd = [sys.executable, "-m", "tui_dropout", "resume", run_id, "--detach", "--runs-dir", str(runs_dir)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
    results = [(p.wait(120), p.stdout.read(), p.stderr.read()) for p in procs]
    assert sorted(code for code, _, _ in results) == [0, 2, 2, 2, 2, 2], results
    refusals = [err.strip() for code, _, err in results if code == 2]
    assert all(len(r.splitlines()) == 1 and "already has a trainer" in r and "pid" in r for r in refusals), refusals

    done = len(metric_epochs(path))
    assert wait_for(lambda: len(metric_epochs(path)) >= done + 2)
    assert len(trainer_pids(path)) == 1
    stop(runs_dir, run_id)
    epochs = metric_epochs(path)
    assert epochs == list(range(1, len(epochs) + 1))  # nothing doubled, nothing missing


@pytest.mark.slow  # long: the slow suite (.ci/run) runs it
def test_a_trainer_that_does_not_hold_the_claim_exits_2_and_touches_nothing(runs_dir):
    run_id = start_detached(runs_dir)
    path = runs_dir / run_id
    assert wait_for(lambda: len(metric_epochs(path)) >= 1)
    worker = [sys.executable, "-m", "tui_dropout.trainer.worker", "--resume", str(path.resolve())]
    second = subprocess.run(worker, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and "owned by another trainer" in second.stderr
    stop(runs_dir, run_id)
    before = (path / "status.json").read_text(), (path / "metrics.jsonl").read_text()
    # the run is free now, but this trainer shows a claim that is not the run's
    third = subprocess.run([*worker[:3], "--claim", "not-the-claim", *worker[3:]], capture_output=True, text=True,
                           timeout=120)
    assert third.returncode == 2 and "claimed by another launcher" in third.stderr
    assert ((path / "status.json").read_text(), (path / "metrics.jsonl").read_text()) == before


def test_a_run_on_another_host_is_cancelled_through_its_folder_and_no_local_pid_is_signalled(runs_dir):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        status = {"state": "running", "host": "gpu-node-7", "pid": bystander.pid,
                  "pid_start": process_start_time(bystander.pid), "heartbeat": time.time(), "epoch": 3}
        path = make_run_folder(runs_dir, "20260101-000000-A-far1", status)
        resume = cli("resume", "far1", "--runs-dir", runs_dir)
        assert resume.returncode == 2 and "running (pid" in resume.stderr and "gpu-node-7" in resume.stderr
        result = cli("cancel", "far1", "--runs-dir", runs_dir)
        assert result.returncode == 0 and "stopping" in result.stdout
        assert (path / "cancel.request").exists()  # what the remote trainer polls
        assert bystander.poll() is None  # the local process with the same pid number was left alone
    finally:
        bystander.kill()
        bystander.wait()
    # once its heartbeat is stale the run is lost, and cancel marks it so
    status["heartbeat"] = time.time() - 3600
    status["updated"] = status["heartbeat"]
    (path / "status.json").write_text(__import__("json").dumps(status))
    result = cli("cancel", "far1", "--runs-dir", runs_dir)
    assert result.returncode == 0 and read_status(path)["state"] == "cancelled"


def test_a_local_pid_whose_start_time_differs_is_never_signalled(runs_dir):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        status = {"state": "running", "host": socket.gethostname(), "pid": bystander.pid, "pid_start": 1,
                  "heartbeat": time.time()}
        make_run_folder(runs_dir, "20260101-000000-A-reus", status)  # the pid was reused by another process
        assert cli("cancel", "reus", "--runs-dir", runs_dir).returncode == 0
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_the_trainer_honours_a_cancel_request_in_its_folder_without_any_signal(runs_dir):
    run_id = start_detached(runs_dir)
    path = runs_dir / run_id
    assert wait_for(lambda: len(metric_epochs(path)) >= 1)
    (pid,) = trainer_pids(path)
    RunDir(path).request_cancel()  # what `cancel` on another host writes
    assert wait_for(lambda: read_status(path).get("state") == "cancelled", 60)
    assert wait_for(lambda: process_start_time(pid) is None, 30)
    assert not (path / "cancel.request").exists() and (path / "checkpoint.pt").exists()


def test_run_references_never_leave_the_runs_folder(runs_dir, tmp_path):
    from typer.testing import CliRunner

    from tui_dropout.cli.main import app

    make_run_folder(runs_dir, "20260101-000000-A-aaaa", {"state": "running", "pid": 999999, "pid_start": 1,
                                                        "host": socket.gethostname()})
    before = sorted(os.listdir(tmp_path))
    for ref in ("/", "..", ".", "../runs", "/etc", "20260101-000000-A-aaaa/..", "aaaa/../.."):
        for command in ("cancel", "resume", "show", "export"):
            result = CliRunner().invoke(app, [command, ref, "--runs-dir", str(runs_dir)])
            assert result.exit_code == 2, (command, ref, result.output)
            assert len(result.output.strip().splitlines()) == 1 and "error: run:" in result.output
    assert sorted(os.listdir(tmp_path)) == before
    assert not os.path.exists("/status.json") and not os.path.exists("/train.log")
