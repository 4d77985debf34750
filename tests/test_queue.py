"""The local GPU queue, for real: a holder process, trainer processes per slot (GPU ids given, CPU training)."""
import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import cli, fake_nvml_path, metric_epochs, read_status, wait_for
from tui_dropout.store import effective_state, process_start_time
from tui_dropout.store.queue import QueueFolder

pytestmark = pytest.mark.slow

SHORT = ["--epochs", "2", "--set", "train_limit=200", "--set", "eval_every=1", "--device", "cpu"]
LONG = ["--epochs", "300", "--set", "train_limit=300", "--batch-size", "32", "--device", "cpu"]


TWO_GPUS = [{"name": "NVIDIA H100 80GB HBM3"}, {"name": "NVIDIA H100 80GB HBM3"}]


def queue_study(runs_dir, *args):
    # GPUs 0 and 1 through a fake NVML (this machine may have none): their trainers see no GPU and, with
    # device cpu, train on the CPU
    env = fake_nvml_path(runs_dir.parent / "fake-nvml", TWO_GPUS)
    out = cli("study", "quick", *args, "--backend", "queue", "--runs-dir", runs_dir, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def statuses(runs_dir, ids):
    return [read_status(runs_dir / run_id) for run_id in ids]


def holder_pid(runs_dir):
    return QueueFolder(runs_dir).holder().get("pid")


def test_runs_wait_for_a_slot_drain_in_order_and_never_share_one(runs_dir):
    ids = queue_study(runs_dir, *SHORT, "--grid", "p_fc=0.1,0.2,0.3,0.4,0.5", "--gpus", "0,1", "--max-fused", "1")
    assert len(ids) == 5
    # the launcher (this CLI call) has exited; the holder goes on and the queue drains
    assert wait_for(lambda: all(s.get("state") == "finished" for s in statuses(runs_dir, ids)), 240)
    done = statuses(runs_dir, ids)
    assert {s["slot"] for s in done} <= {"gpu0#0", "gpu1#0"} and {s["gpu"] for s in done} <= {0, 1}
    assert all(s["backend"] == "queue" and s["host"] for s in done)
    by_seq = sorted(done, key=lambda s: s["queue_seq"])
    assert [s["dispatched"] for s in by_seq] == sorted(s["dispatched"] for s in done)  # first queued, first out
    for slot in ("gpu0#0", "gpu1#0"):  # one trainer at a time per slot
        spans = sorted((s["dispatched"], s["ended"]) for s in done if s["slot"] == slot)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    # the holder leaves once nothing waits or runs
    assert wait_for(lambda: not QueueFolder(runs_dir).holder_alive(), 30)


def test_fusable_runs_are_packed_into_one_trainer_per_slot(runs_dir):
    ids = queue_study(runs_dir, *SHORT, "--seeds", "3", "--gpus", "0", "--max-fused", "4")
    assert wait_for(lambda: all(s.get("state") == "finished" for s in statuses(runs_dir, ids)), 240)
    groups = {tuple(s["group"]) for s in statuses(runs_dir, ids)}
    assert groups == {tuple(ids)}  # three seeds, one fused trainer


def test_a_killed_trainer_frees_its_slot_and_a_cancelled_waiting_run_leaves_the_queue(runs_dir):
    ids = queue_study(runs_dir, *LONG, "--grid", "p_fc=0.1,0.2,0.3", "--gpus", "0", "--max-fused", "1")
    first, second, third = ids
    assert wait_for(lambda: len(metric_epochs(runs_dir / first)) >= 1, 120)
    assert read_status(runs_dir / second)["state"] == "queued"
    positions = QueueFolder(runs_dir).positions()
    assert positions == {second: 1, third: 2}
    assert cli("cancel", third, "--runs-dir", runs_dir).returncode == 0
    assert read_status(runs_dir / third)["state"] == "cancelled" and third not in QueueFolder(runs_dir).positions()
    os.kill(read_status(runs_dir / first)["pid"], signal.SIGKILL)
    assert wait_for(lambda: read_status(runs_dir / second).get("pid"), 30)  # the slot went to the next run
    assert effective_state(read_status(runs_dir / first)) == "lost"
    assert wait_for(lambda: len(metric_epochs(runs_dir / second)) >= 1, 120)
    assert not read_status(runs_dir / third).get("dispatched")  # cancelled while waiting: never started
    cli("cancel", second, "--runs-dir", runs_dir)
    assert wait_for(lambda: read_status(runs_dir / second).get("state") == "cancelled", 60)


def test_a_killed_holder_leaves_every_run_visible_and_the_next_launch_takes_them_up(runs_dir):
    ids = queue_study(runs_dir, *LONG, "--grid", "p_fc=0.1,0.2", "--gpus", "0", "--max-fused", "1")
    running, waiting = ids
    assert wait_for(lambda: len(metric_epochs(runs_dir / running)) >= 1, 120)
    os.kill(holder_pid(runs_dir), signal.SIGKILL)
    assert wait_for(lambda: effective_state(read_status(runs_dir / waiting)) == "lost", 10)
    listing = cli("runs", "--runs-dir", runs_dir).stdout
    assert waiting in listing and running in listing
    done = len(metric_epochs(runs_dir / running))
    assert wait_for(lambda: len(metric_epochs(runs_dir / running)) > done, 120)  # its trainer lives on
    # a new launch starts a new holder, which keeps the trainer's slot and adopts the waiting run
    more = queue_study(runs_dir, *SHORT, "--gpus", "0", "--max-fused", "1")
    assert effective_state(read_status(runs_dir / waiting)) == "queued"
    assert QueueFolder(runs_dir).positions() == {waiting: 1, more[0]: 2}
    cli("cancel", running, "--runs-dir", runs_dir)
    assert wait_for(lambda: len(metric_epochs(runs_dir / waiting)) >= 1, 120)
    for run_id in (waiting, *more):
        cli("cancel", run_id, "--runs-dir", runs_dir)
    assert wait_for(lambda: all(s.get("state") in ("cancelled", "finished") for s in statuses(runs_dir, ids + more)),
                    60), [{k: s.get(k) for k in ("state", "pid", "queue_pid", "error", "queue_seq")}
                          for s in statuses(runs_dir, ids + more)]


def test_two_hundred_waiting_runs_cost_one_small_holder(runs_dir):
    ids = queue_study(runs_dir, *LONG, "--seeds", "200", "--gpus", "0", "--max-fused", "1")
    assert len(ids) == 200
    assert wait_for(lambda: read_status(runs_dir / ids[0]).get("pid"), 60)
    pid = holder_pid(runs_dir)
    with open(f"/proc/{pid}/maps") as f:
        assert "libtorch" not in f.read()  # the holder never imports torch
    trainers = [p for p in os.listdir("/proc") if p.isdigit() and _is_trainer(int(p), runs_dir)]
    assert len(trainers) == 1  # one slot, one trainer; 199 runs are only folders
    assert len(QueueFolder(runs_dir).waiting()) == 199
    out = subprocess.run([sys.executable, "-m", "tui_dropout", "cancel", ids[0], "--runs-dir", str(runs_dir)],
                         capture_output=True, text=True)
    assert out.returncode == 0
    for run_id in ids[1:]:  # cancelling waiting runs is a file operation each
        assert json.loads((runs_dir / run_id / "status.json").read_text())["state"] == "queued"
    from tui_dropout.launch import cancel
    from tui_dropout.store import RunDir

    for run_id in ids[1:]:
        assert cancel(RunDir(runs_dir / run_id)) == "cancelled"
    assert QueueFolder(runs_dir).waiting() == []


def _is_trainer(pid: int, runs_dir) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read()
        return (b"tui_dropout.trainer.worker" in args and str(runs_dir.resolve()).encode() in args
                and process_start_time(pid) is not None)
    except OSError:
        return False


def test_no_fuse_is_kept_per_run_and_a_cpu_slot_hides_every_gpu(runs_dir):
    ids = queue_study(runs_dir, *LONG, "--seeds", "2", "--gpus", "cpu", "--max-fused", "4", "--no-fuse")
    assert wait_for(lambda: read_status(runs_dir / ids[0]).get("group"), 60)  # its trainer is up
    pid = read_status(runs_dir / ids[0])["pid"]
    with open(f"/proc/{pid}/environ", "rb") as f:
        assert b"CUDA_VISIBLE_DEVICES=\x00" in f.read() + b"\x00"  # device auto on a CPU slot trains on the CPU
    assert read_status(runs_dir / ids[0])["group"] == [ids[0]]  # --no-fuse: one run a trainer, whatever --max-fused
    assert read_status(runs_dir / ids[1])["state"] == "queued"
    for run_id in ids:
        cli("cancel", run_id, "--runs-dir", runs_dir)
    assert wait_for(lambda: all(s.get("state") == "cancelled" for s in statuses(runs_dir, ids)), 60)
