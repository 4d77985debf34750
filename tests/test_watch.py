"""RunsWatcher: what the console's 2 Hz tick sees of the runs folder, on real files (no sleeps: times set by hand)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess

import pytest

from conftest import make_run_folder
from tui_dropout import watch
from tui_dropout.store import RunDir, RunStore, process_start_time, write_json_atomic
from tui_dropout.watch import RunsWatcher

A, B = "20260101-000001-A-aaaa", "20260101-000002-B-bbbb"


def row(epoch, loss=1.0, **more) -> str:
    return json.dumps({"epoch": epoch, "loss": loss, "elapsed": 2.0 * epoch, **more}) + "\n"


def write_status(path, **status) -> None:
    """Write status.json as every writer does (a file renamed in, which moves the folder's mtime)."""
    write_json_atomic(path / "status.json", status)


@pytest.fixture
def watcher(runs_dir):
    runs_dir.mkdir()
    return RunsWatcher(RunStore(runs_dir))


def test_new_runs_appear_as_structure_and_nothing_changes_after(watcher, runs_dir):
    assert watcher.refresh() == ""
    make_run_folder(runs_dir, A, {"state": "finished", "epoch": 10, "created": 1.0})
    assert watcher.refresh() == "structure"
    assert watcher.refresh() == ""
    make_run_folder(runs_dir, B, {"state": "finished", "epoch": 3, "created": 2.0})
    assert watcher.refresh() == "structure"
    assert [i.run_id for i in watcher.ordered()] == [B, A]  # newest first
    assert watcher.run(A).path == runs_dir / A and watcher.run("nope") is None


def test_a_status_change_is_noticed_through_its_mtime(watcher, runs_dir):
    path = make_run_folder(runs_dir, A, {"state": "finished", "epoch": 10, "created": 1.0})
    watcher.refresh()
    write_status(path, state="finished", epoch=11, created=1.0)  # same size, same inode: only the mtime moved
    assert watcher.refresh() == "progress"
    assert watcher.runs[A].info.epoch == 11
    write_status(path, state="failed", epoch=11, created=1.0, error="loss became nan")
    assert watcher.refresh() == "structure"  # a new state re-sorts and re-colours the list
    assert watcher.runs[A].info.state == "failed" and watcher.runs[A].info.error == "loss became nan"


def test_files_unchanged_on_disk_are_not_read_again(watcher, runs_dir):
    path = make_run_folder(runs_dir, A, {"state": "finished", "epoch": 10, "created": 1.0})
    watcher.refresh()
    target = path / "status.json"
    st = os.stat(target)
    text = target.read_text()
    target.write_text(text.replace('"epoch": 10', '"epoch": 12'))  # same size and inode ...
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... and the old mtime: nothing says it changed
    assert watcher.refresh() == "" and watcher.runs[A].info.epoch == 10


def test_progress_versus_structure(watcher, runs_dir):
    path = make_run_folder(runs_dir, A, {"state": "finished", "epoch": 5, "created": 1.0})
    watcher.refresh()
    write_status(path, state="finished", epoch=5, created=1.0)  # rewritten, nothing shown changed
    assert watcher.refresh() == ""
    write_status(path, state="finished", epoch=5, created=1.0, best_test_acc=0.5)
    assert watcher.refresh() == "progress"
    (path / "status.json").write_text("{damaged")
    assert watcher.refresh() == "structure"
    assert watcher.runs[A].info.state == "corrupt" and "status.json" in watcher.runs[A].info.problem


def test_a_summary_written_later_is_noticed_on_a_run_on_screen(watcher, runs_dir):
    """Ended runs off screen are swept by their status.json alone (the trainer writes the summary first)."""
    path = make_run_folder(runs_dir, A, {"state": "finished", "epoch": 5, "created": 1.0})
    watcher.watch.add(A)
    watcher.refresh()
    RunDir(path).write_summary({"state": "finished", "best_test_acc": 0.61, "best_test_epoch": 5})
    assert watcher.refresh() == "progress" and watcher.runs[A].info.best_test_acc == 0.61


def test_a_deleted_run_disappears(watcher, runs_dir):
    make_run_folder(runs_dir, A, {"state": "finished", "created": 1.0})
    path = make_run_folder(runs_dir, B, {"state": "finished", "created": 2.0})
    watcher.refresh()
    watcher.series(B)
    shutil.rmtree(path)
    assert watcher.refresh() == "structure"
    assert list(watcher.runs) == [A] and watcher.series(B).epochs == []


def test_series_reads_only_the_appended_bytes(watcher, runs_dir):
    path = make_run_folder(runs_dir, A, {"state": "running", "created": 1.0}, metrics=row(1) + row(2))
    watcher.refresh()
    metrics = path / "metrics.jsonl"
    assert watcher.series(A).epochs == [1, 2]
    assert watcher.runs[A].tail.offset == metrics.stat().st_size
    # change bytes already read (same size, same file): a reader that re-read them would see epoch 7
    data = metrics.read_bytes()
    metrics.write_bytes(data.replace(b'"epoch": 1,', b'"epoch": 7,'))
    with open(metrics, "a") as f:
        f.write(row(3) + '{"epoch": 4, "lo')  # one new row, and half of the next
    s = watcher.series(A)
    assert s.epochs == [1, 2, 3]
    assert watcher.series(A) is s and s.epochs == [1, 2, 3]  # nothing new: nothing added
    with open(metrics, "a") as f:
        f.write('ss": 0.5, "test_acc": 0.25}\n')
    assert s.epochs == [1, 2, 3] and watcher.series(A).epochs == [1, 2, 3, 4]
    assert s.loss[-1] == 0.5 and s.test_acc == [25.0]


def test_series_starts_over_when_the_file_is_rewritten(watcher, runs_dir):
    """A resume rewrites metrics.jsonl (atomically) back to its checkpoint, then appends from there."""
    path = make_run_folder(runs_dir, A, {"state": "running", "created": 1.0},
                           metrics="".join(row(e, loss=float(e)) for e in range(1, 7)))
    watcher.refresh()
    assert watcher.series(A).epochs == [1, 2, 3, 4, 5, 6]
    run = RunDir(path)
    run.truncate_metrics(3)
    assert watcher.series(A).epochs == [1, 2, 3]
    run.append_metric({"epoch": 4, "loss": 40.0, "elapsed": 8.0})
    s = watcher.series(A)
    assert s.epochs == [1, 2, 3, 4] and s.loss == [1.0, 2.0, 3.0, 40.0]
    (path / "metrics.jsonl").write_text(row(1, loss=9.0))  # truncated in place to something shorter
    assert watcher.series(A).epochs == [1] and watcher.series(A).loss == [9.0]


def test_series_of_a_run_with_no_metrics_yet(watcher, runs_dir):
    path = make_run_folder(runs_dir, A, {"state": "queued", "created": 1.0})
    watcher.refresh()
    assert watcher.series(A).epochs == []
    (path / "metrics.jsonl").write_text(row(1))
    assert watcher.series(A).epochs == [1]
    assert watcher.series("20990101-000000-X-none").epochs == []


@pytest.fixture
def child():
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_an_active_run_whose_trainer_dies_is_rechecked_and_shown_lost(watcher, runs_dir, child, monkeypatch):
    status = {"state": "running", "pid": child.pid, "pid_start": process_start_time(child.pid),
              "host": socket.gethostname(), "created": 1.0}
    make_run_folder(runs_dir, A, status)
    make_run_folder(runs_dir, B, {"state": "finished", "created": 2.0})
    watcher.refresh()
    assert watcher.runs[A].info.state == "running"
    child.kill()
    child.wait()  # reaped: gone from /proc; status.json itself does not change
    monkeypatch.setattr(watch, "LIVENESS_SECONDS", 3600.0)
    assert watcher.refresh() == "" and watcher.runs[A].info.state == "running"  # not yet due for a re-check
    monkeypatch.setattr(watch, "LIVENESS_SECONDS", 0.0)
    before = watcher.runs[B].info
    assert watcher.refresh() == "structure"
    assert watcher.runs[A].info.state == "lost"
    assert watcher.runs[B].info is before  # an ended run is never re-checked
    assert watcher.refresh() == ""  # lost is not active: no more checks


def test_a_run_replaced_under_the_same_id(watcher, runs_dir):
    path = make_run_folder(runs_dir, A, {"state": "finished", "epoch": 9, "created": 1.0}, metrics=row(1) + row(2))
    watcher.refresh()
    assert watcher.series(A).epochs == [1, 2]
    shutil.rmtree(path)
    make_run_folder(runs_dir, A, {"state": "running", "epoch": 1, "created": 1.0, "host": "elsewhere",
                                  "heartbeat": 9e12}, metrics=row(1, loss=5.0))
    assert watcher.refresh() == "structure"
    assert watcher.runs[A].info.state == "running" and watcher.series(A).loss == [5.0]


def test_thousands_of_ended_runs_are_swept_a_slice_at_a_time_and_a_change_is_still_seen(tmp_path, monkeypatch):
    """A runs folder that sweeps fill: each refresh stats a bounded slice of ended runs, yet an ended run that
    changes (resumed from another terminal) is seen within one sweep."""
    import tui_dropout.watch as watch

    runs = tmp_path / "runs"
    for i in range(600):
        make_run_folder(runs, f"20260101-{i:06d}-A-{i:04x}", {"state": "finished", "epoch": 10})
    watcher = RunsWatcher(RunStore(runs))
    assert watcher.refresh() == "structure" and len(watcher.runs) == 600
    stats = []
    real = watch.stamp
    monkeypatch.setattr(watch, "stamp", lambda folder: stats.append(folder) or real(folder))
    watcher.refresh()
    assert 0 < len(stats) <= max(watch.SWEEP_MIN, 600 * watch.TICK_GUESS // watch.SWEEP_SECONDS)  # one stat a run
    target = runs / "20260101-000123-A-007b" / "status.json"
    write_json_atomic(target, {"state": "finished", "epoch": 10, "best_test_acc": 0.77})  # a resume elsewhere
    seen = False
    for _ in range(600 // watch.SWEEP_MIN + 1):  # one full sweep at most
        watcher.refresh()
        if watcher.runs["20260101-000123-A-007b"].info.best_test_acc == 0.77:
            seen = True
            break
    assert seen


def test_the_newest_first_list_is_kept_until_what_it_shows_changes(watcher, runs_dir):
    proc = subprocess.Popen(["sleep", "60"])
    try:
        make_run_folder(runs_dir, A, {"state": "finished", "epoch": 10, "created": 1.0})
        path = make_run_folder(runs_dir, B, {"state": "running", "epoch": 3, "epochs": 10, "created": 2.0,
                                             "pid": proc.pid, "pid_start": process_start_time(proc.pid),
                                             "host": socket.gethostname(), "heartbeat": 2.0e9})
        watcher.refresh()
        first = watcher.ordered()
        assert [i.run_id for i in first] == [B, A] and watcher.ordered() is first
        watcher.runs[B].checked = 0  # its liveness due: looked at again, nothing new to show
        watcher.refresh()
        assert watcher.ordered() is first
        write_status(path, state="running", epoch=4, epochs=10, created=2.0, pid=proc.pid,
                     pid_start=process_start_time(proc.pid), host=socket.gethostname(), heartbeat=2.0e9)
        watcher.refresh()
        again = watcher.ordered()
        assert again is not first and again[0].epoch == 4
    finally:
        proc.kill()
        proc.wait()
