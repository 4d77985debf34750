"""The queue's control files lying, with real holder and trainer processes: a hand-edited holder.json, a record
naming a process that is no holder, a waiting run's folder deleted under a killed holder."""
import json
import os
import shutil
import signal
import socket

import pytest

from conftest import cli, fake_nvml_path, metric_epochs, read_status, wait_for
from test_queue import LONG, SHORT, TWO_GPUS, holder_pid, queue_study, statuses
from tui_dropout.store import effective_state, process_start_time
from tui_dropout.store.queue import QueueFolder

pytestmark = pytest.mark.slow


def edit_holder(runs_dir, **changes):
    path = runs_dir / ".queue" / "holder.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_a_hand_edited_holder_record_is_named_not_trusted_and_the_holder_keeps_serving(runs_dir):
    first, second = queue_study(runs_dir, *LONG, "--grid", "p_fc=0.1,0.2", "--gpus", "0", "--max-fused", "1")
    assert wait_for(lambda: len(metric_epochs(runs_dir / first)) >= 1, 120)
    holder = holder_pid(runs_dir)
    edit_holder(runs_dir, per_gpu="abc")
    shown = cli("queue", "--runs-dir", runs_dir)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    assert "holder.json: per_gpu is 'abc', not a whole number 1 to 64" in shown.stdout and second in shown.stdout
    log = runs_dir / ".queue" / "holder.out"
    assert wait_for(lambda: "per_gpu is 'abc'" in log.read_text(), 30), log.read_text()  # read, named, survived
    assert QueueFolder(runs_dir).holder_alive() and holder_pid(runs_dir) == holder
    cli("cancel", first, "--runs-dir", runs_dir)  # the slot it kept frees: the waiting run gets it
    assert wait_for(lambda: read_status(runs_dir / second).get("pid"), 60), read_status(runs_dir / second)
    assert "Traceback" not in log.read_text()
    cli("cancel", second, "--runs-dir", runs_dir)
    assert wait_for(lambda: all(s.get("state") == "cancelled" for s in statuses(runs_dir, [first, second])), 60)


def test_a_record_naming_a_process_that_is_no_holder_does_not_make_runs_wait_forever(runs_dir):
    QueueFolder(runs_dir).write_holder({"pid": 1, "pid_start": process_start_time(1), "host": socket.gethostname(),
                                        "gpus": ["0"], "per_gpu": 1, "max_fused": 1})
    assert not QueueFolder(runs_dir).holder_alive()  # pid 1 with its real start time runs, but holds no queue
    assert "nobody" in cli("queue", "--runs-dir", runs_dir).stdout
    ids = queue_study(runs_dir, *SHORT, "--gpus", "0", "--max-fused", "1")
    assert holder_pid(runs_dir) != 1
    assert wait_for(lambda: all(s.get("state") == "finished" for s in statuses(runs_dir, ids)), 240), \
        statuses(runs_dir, ids)


def test_a_record_edited_to_name_pid_1_while_a_holder_serves_is_healed_and_its_runs_stay_queued(runs_dir):
    first, second = queue_study(runs_dir, *LONG, "--grid", "p_fc=0.1,0.2", "--gpus", "0", "--max-fused", "1")
    assert wait_for(lambda: len(metric_epochs(runs_dir / first)) >= 1, 120)
    holder = holder_pid(runs_dir)
    edit_holder(runs_dir, pid=1, pid_start=process_start_time(1))
    assert wait_for(lambda: holder_pid(runs_dir) == holder, 30)  # it holds the lock: the record names it again
    assert QueueFolder(runs_dir).holder_alive()
    status = read_status(runs_dir / second)
    assert status["queue_pid"] == holder and effective_state(status) == "queued"  # not lost, not left waiting
    (third,) = queue_study(runs_dir, *LONG, "--gpus", "0", "--max-fused", "1")  # a launch finds the holder
    assert holder_pid(runs_dir) == holder and QueueFolder(runs_dir).positions() == {second: 1, third: 2}
    cli("cancel", first, "--runs-dir", runs_dir)
    assert wait_for(lambda: read_status(runs_dir / second).get("pid"), 60), read_status(runs_dir / second)
    for run_id in (second, third):
        cli("cancel", run_id, "--runs-dir", runs_dir)
    assert wait_for(lambda: all(s.get("state") == "cancelled" for s in statuses(runs_dir, [first, second, third])),
                    60)


def test_a_waiting_run_deleted_under_a_killed_holder_does_not_fail_the_next_launch(runs_dir):
    running, waiting = queue_study(runs_dir, *LONG, "--grid", "p_fc=0.1,0.2", "--gpus", "0", "--max-fused", "1")
    assert wait_for(lambda: len(metric_epochs(runs_dir / running)) >= 1, 120)
    os.kill(holder_pid(runs_dir), signal.SIGKILL)
    shutil.rmtree(runs_dir / waiting)
    (new,) = queue_study(runs_dir, *SHORT, "--gpus", "0", "--max-fused", "1")  # launch fine, nothing failed
    assert waiting not in QueueFolder(runs_dir).positions()  # its marker went with it
    cli("cancel", running, "--runs-dir", runs_dir)
    assert wait_for(lambda: read_status(runs_dir / new).get("state") == "finished", 240), read_status(runs_dir / new)


def test_resuming_a_run_whose_holder_died_gives_up_its_place_in_the_queue(runs_dir):
    running, waiting = queue_study(runs_dir, *LONG, "--grid", "p_fc=0.1,0.2", "--gpus", "0", "--max-fused", "1")
    assert wait_for(lambda: len(metric_epochs(runs_dir / running)) >= 1, 120)
    os.kill(holder_pid(runs_dir), signal.SIGKILL)
    assert wait_for(lambda: cli("runs", "--runs-dir", runs_dir).stdout.count("lost") == 1, 30)
    assert QueueFolder(runs_dir).positions() == {waiting: 1}
    out = cli("resume", waiting, "--detach", "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    assert QueueFolder(runs_dir).positions() == {}  # its old marker went when it was claimed
    env = fake_nvml_path(runs_dir.parent / "fake-nvml", TWO_GPUS)
    more = cli("study", "quick", *SHORT, "--backend", "queue", "--gpus", "0", "--max-fused", "1",
               "--runs-dir", runs_dir, env=env)
    assert more.returncode == 0 and "waiting ahead" not in more.stdout + more.stderr, more.stdout + more.stderr
    ids = [running, waiting, *more.stdout.split()]
    for run_id in ids:
        cli("cancel", run_id, "--runs-dir", runs_dir)
    assert wait_for(lambda: all(s.get("state") in ("cancelled", "finished") for s in statuses(runs_dir, ids)), 60)


def test_a_waiting_runs_worker_out_planted_as_a_link_fails_that_run_and_creates_nothing(runs_dir, tmp_path):
    running, waiting = queue_study(runs_dir, *LONG, "--grid", "p_fc=0.1,0.2", "--gpus", "0", "--max-fused", "1")
    target = tmp_path / "outside" / "victim.txt"  # dangling: opening it to append would create it
    target.parent.mkdir()
    os.symlink(target, runs_dir / waiting / "worker.out")
    holder = holder_pid(runs_dir)
    cli("cancel", running, "--runs-dir", runs_dir)  # the slot frees: the holder dispatches the waiting run
    assert wait_for(lambda: read_status(runs_dir / waiting).get("state") == "failed", 60), \
        read_status(runs_dir / waiting)
    assert "worker.out" in read_status(runs_dir / waiting)["error"] and not os.path.lexists(target)
    shown = cli("runs", "--runs-dir", runs_dir, env={"COLUMNS": ""})  # a pipe: the note is not cut to a width
    assert "worker.out is a link" in shown.stdout, shown.stdout  # and the run names it
    log = runs_dir / ".queue" / "holder.out"
    # the holder went on and left when nothing waited (it writes pid null); one that crashed leaves its pid
    assert wait_for(lambda: holder_pid(runs_dir) is None, 30), (holder, log.read_text() if log.exists() else "")
    assert "Traceback" not in (log.read_text() if log.exists() else "")
