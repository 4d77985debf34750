"""The run store: layout, atomic status, incremental metric reads, liveness and damaged folders."""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import make_run_folder, settle
from tui_dropout.store import MetricsTail, RunDir, RunStore, effective_state, process_start_time, write_json_atomic


def test_create_writes_config_and_queued_status(runs_dir):
    run = RunStore(runs_dir).create({"preset": "B", "epochs": 5})
    assert run.read_config() == {"preset": "B", "epochs": 5}
    assert run.read_status()["state"] == "queued"
    assert "-B-" in run.run_id and len(run.run_id.split("-")) == 4
    assert not list(run.path.glob(".*.tmp"))  # no temporary file left behind


def test_metrics_tail_reads_only_new_lines_and_holds_back_a_torn_one(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "loss": 2.0}\n{"epoch": 2, "lo')
    tail = MetricsTail(path)
    assert [r["epoch"] for r in tail.read_new()] == [1]
    assert tail.read_new() == []
    with open(path, "a") as f:
        f.write('ss": 1.5}\n{"epoch": 3, "loss": 1.2}\n')
    assert [r["epoch"] for r in tail.read_new()] == [2, 3]


def test_metrics_tail_starts_over_when_the_file_is_rewritten(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"epoch": i}) + "\n" for i in range(1, 6)))
    tail = MetricsTail(path)
    assert len(tail.read_new()) == 5
    run = RunDir(tmp_path)
    run.truncate_metrics(2)
    assert [r["epoch"] for r in tail.read_new()] == [1, 2] and tail.take_reset()


def test_running_run_with_a_dead_pid_is_lost(runs_dir):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    status = {"state": "running", "pid": proc.pid, "pid_start": 1, "host": os.uname().nodename,
              "heartbeat": time.time()}
    assert effective_state(status) == "lost"
    me = {"state": "running", "pid": os.getpid(), "pid_start": process_start_time(os.getpid()),
          "host": os.uname().nodename}
    assert effective_state(me) == "running"
    assert effective_state({**me, "pid_start": 12345}) == "lost"  # pid reused by another process


def test_run_on_another_host_is_judged_by_its_heartbeat():
    status = {"state": "running", "pid": 1, "host": "elsewhere", "heartbeat": time.time()}
    assert effective_state(status) == "running"
    assert effective_state({**status, "heartbeat": time.time() - 3600}) == "lost"


def test_damaged_folders_are_reported_not_raised(runs_dir):
    make_run_folder(runs_dir, "20260101-000000-A-0001", {"state": "finished"})
    bad = make_run_folder(runs_dir, "20260101-000001-A-0002", None)
    (bad / "status.json").write_text("{not json")
    make_run_folder(runs_dir, "20260101-000002-A-0003", {"state": "running"}, config=False)
    infos = {i.run_id: i for i in RunStore(runs_dir).list()}
    assert infos["20260101-000000-A-0001"].state == "finished"
    assert "corrupt" in infos["20260101-000001-A-0002"].problem
    assert "config.json missing" in infos["20260101-000002-A-0003"].problem


def test_find_by_prefix_and_list_number(runs_dir):
    make_run_folder(runs_dir, "20260101-000000-A-aaaa", {"state": "finished", "created": 1})
    make_run_folder(runs_dir, "20260102-000000-B-bbbb", {"state": "finished", "created": 2})
    store = RunStore(runs_dir)
    assert store.find("20260101").run_id.endswith("aaaa")
    assert store.find("1").run_id.endswith("bbbb")  # newest first
    with pytest.raises(KeyError, match="matches 2 runs"):
        store.find("2026")


def test_the_listing_index_serves_unchanged_runs_and_never_hides_a_change(runs_dir):
    for i in range(3):
        make_run_folder(runs_dir, f"20260101-00000{i}-A-000{i}", {"state": "finished", "epoch": 10,
                                                                  "best_test_acc": 0.5})
    store = RunStore(runs_dir)
    first = {i.run_id: i for i in store.list()}
    assert (runs_dir / ".index.json").exists()
    reads = []
    real = RunDir.info
    try:
        RunDir.info = lambda self: reads.append(self.run_id) or real(self)
        again = {i.run_id: i for i in store.list()}
        assert reads == [] and {k: v.best_test_acc for k, v in again.items()} == {k: 0.5 for k in first}
        status = runs_dir / "20260101-000001-A-0001" / "status.json"
        write_json_atomic(status, {"state": "finished", "epoch": 10, "best_test_acc": 0.9})  # as every writer does
        changed = {i.run_id: i for i in store.list()}
        assert reads == ["20260101-000001-A-0001"] and changed["20260101-000001-A-0001"].best_test_acc == 0.9
        settle(status.parent)
        store.list()  # settled: its stamp kept
        status.write_text(json.dumps({"state": "finished", "epoch": 10, "best_test_acc": 0.7}))  # by hand, in place
        assert {i.run_id: i for i in store.list()}["20260101-000001-A-0001"].best_test_acc == 0.9  # the folder's stamp
        os.utime(status.parent)  # `touch` of the folder: shown at once
        assert {i.run_id: i for i in store.list()}["20260101-000001-A-0001"].best_test_acc == 0.7
        (runs_dir / ".index.json").write_text("{damaged")
        assert {i.run_id for i in store.list()} == set(first)  # a damaged index only costs a fresh read
    finally:
        RunDir.info = real


def test_a_cached_running_run_whose_trainer_died_reads_as_lost(runs_dir):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        make_run_folder(runs_dir, "20260101-000000-A-live", {
            "state": "running", "pid": proc.pid, "pid_start": process_start_time(proc.pid),
            "host": os.uname().nodename, "heartbeat": time.time()})
        store = RunStore(runs_dir)
        assert store.list()[0].state == "running"
    finally:
        proc.kill()
        proc.wait()
    assert store.list()[0].state == "lost"  # read afresh: a running run is never stamped


@pytest.mark.parametrize("notes", [None, "{damaged"])
def test_a_cached_queued_run_whose_claimer_died_reads_as_lost_from_the_index(runs_dir, monkeypatch, notes):
    """A queued run is stamped (nothing writes it while it waits): served from the index, its state is worked out
    again, also when its notes.json is damaged (a problem beside a whole run)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        path = make_run_folder(runs_dir, "20260101-000000-A-wait", {
            "state": "queued", "pid": proc.pid, "pid_start": process_start_time(proc.pid),
            "host": os.uname().nodename})
        if notes:
            (path / "notes.json").write_text(notes)
            settle(path)
        store = RunStore(runs_dir)
        assert store.list()[0].state == "queued"
    finally:
        proc.kill()
        proc.wait()
    reads = []
    real = RunDir.info
    monkeypatch.setattr(RunDir, "info", lambda self: reads.append(self.run_id) or real(self))
    info = store.list()[0]
    assert info.state == "lost" and reads == []  # from the index, its state worked out again
    assert bool(info.problem) == bool(notes)


def test_a_new_claim_forgets_where_the_last_launch_put_the_run(runs_dir):
    make_run_folder(runs_dir, "20260101-000000-A-old1", {"state": "cancelled", "backend": "slurm", "job_id": "77_1",
                                                        "slot": "gpu0#0", "gpu": 0, "queue_seq": 5})
    run = RunStore(runs_dir).find("old1")
    run.claim()
    status = run.read_status()
    assert status["state"] == "queued" and status["pid"] == os.getpid()
    assert all(status.get(key) is None for key in ("backend", "job_id", "slot", "gpu", "queue_seq"))


def test_queue_markers_only_name_run_folders(runs_dir):
    from tui_dropout.store.queue import QueueFolder

    queue = QueueFolder(runs_dir)
    queue.ensure()
    for name in ("00000000000000000001-..", "00000000000000000002-.", "junk", "00000000000000000003-20260101-A-ok"):
        (queue.pending / name).touch()
    assert queue.waiting() == [(3, "20260101-A-ok")]
