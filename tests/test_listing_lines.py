"""`dropout-tui runs` from the listing index: each run's line is kept there, so a plain listing reads no run's files
but the live ones, and prints exactly what a listing from the files prints."""
import json
import os
import time

from typer.testing import CliRunner

from conftest import make_run_folder, settle
from tui_dropout.cli.main import app as cli_app
from tui_dropout.store import RunDir, RunStore, process_start_time, write_json_atomic
from tui_dropout.store.queue import QueueFolder

runner = CliRunner()
RUNNING, QUEUED = "20261201-100006-A-live", "20261201-100005-A-wait"


def runs(runs_dir) -> str:
    result = runner.invoke(cli_app, ["runs", "--runs-dir", str(runs_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and result.exception is None, result.output
    return result.output


def a_folder_of_every_kind(runs_dir):
    now = time.time()
    make_run_folder(runs_dir, "20261201-100000-A-done", {"state": "finished", "epoch": 10, "epochs": 10,
                                                        "final_test_acc": 0.5, "best_test_acc": 0.61})
    named = make_run_folder(runs_dir, "20261201-100001-A-name", {"state": "finished", "epoch": 10, "epochs": 10})
    write_json_atomic(named / "notes.json", {"name": "baseline", "tags": ["best", "x"], "note": "first\nof two"})
    make_run_folder(runs_dir, "20261201-100002-A-fail", {"state": "failed", "epoch": 3, "error": "loss became nan"})
    broken = make_run_folder(runs_dir, "20261201-100003-A-bad1", {"state": "finished"})
    (broken / "status.json").write_text("{not json")
    make_run_folder(runs_dir, "20261201-100004-A-esc1", {"state": "cancelled", "epoch": 2},
                    config={"preset": "A", "epochs": 10, "label": "\x1b]0;owned\x07 p=\u202e0.5"})
    make_run_folder(runs_dir, QUEUED, {"state": "queued", "epoch": 0, "epochs": 10, "pid": os.getpid(),
                                       "pid_start": process_start_time(os.getpid()), "host": os.uname().nodename})
    make_run_folder(runs_dir, RUNNING, {"state": "running", "epoch": 4, "epochs": 10, "pid": os.getpid(),
                                        "pid_start": process_start_time(os.getpid()), "host": os.uname().nodename,
                                        "heartbeat": now, "best_test_acc": 0.3})
    for path in runs_dir.iterdir():
        settle(path)


def test_runs_prints_from_the_index_what_it_prints_from_the_files_reading_only_live_runs(runs_dir, monkeypatch):
    a_folder_of_every_kind(runs_dir)
    monkeypatch.setattr(QueueFolder, "positions", lambda self: {QUEUED: 3})
    from_files = runs(runs_dir)  # no index yet: every run read, the index written
    assert (runs_dir / ".index.json").exists()
    assert "queued #3" in from_files and "running" in from_files and "baseline · A | #best #x | first\\x0aof two" \
        in from_files and "\\x1b]0;owned\\x07 p=\\u202e0.5" in from_files and "corrupt" in from_files
    reads = []
    real = RunDir.info
    monkeypatch.setattr(RunDir, "info", lambda self: reads.append(self.run_id) or real(self))
    assert runs(runs_dir) == from_files
    # the running run (its trainer writes it) and the damaged one (a mend may move no mtime) are read afresh;
    # every other run's line came from the index
    assert sorted(reads) == sorted([RUNNING, "20261201-100003-A-bad1"])
    monkeypatch.setattr(QueueFolder, "positions", lambda self: {QUEUED: 1})
    assert "queued #1" in runs(runs_dir)  # a waiting run's place is looked up afresh, not kept
    (runs_dir / ".index.json").unlink()
    monkeypatch.setattr(QueueFolder, "positions", lambda self: {QUEUED: 3})
    assert runs(runs_dir) == from_files


def test_a_run_that_changed_or_came_is_read_and_the_index_written_again(runs_dir, monkeypatch):
    done = make_run_folder(runs_dir, "20261201-100000-A-done", {"state": "finished", "epoch": 10, "best_test_acc": 0.5})
    runs(runs_dir)
    write_json_atomic(done / "notes.json", {"name": "renamed", "tags": [], "note": ""})
    settle(done)
    make_run_folder(runs_dir, "20261201-100001-A-new1", {"state": "failed", "epoch": 1})
    assert RunStore(runs_dir).lines() is None  # the index cannot serve it: the listing reads and writes again
    out = runs(runs_dir)
    assert "renamed · A" in out and "20261201-100001-A-new1" in out
    assert [run_id for run_id, _ in RunStore(runs_dir).lines()] == ["20261201-100001-A-new1", "20261201-100000-A-done"]
    (runs_dir / "20261201-100001-A-new1").rename(runs_dir / ".gone")
    assert RunStore(runs_dir).lines() is None and "A-new1" not in runs(runs_dir)  # a run gone: read whole again
    assert RunStore(runs_dir).lines() is not None


def test_a_kept_line_that_lies_is_printed_safely_or_not_used(runs_dir):
    make_run_folder(runs_dir, "20261201-100000-A-done", {"state": "finished", "epoch": 10, "best_test_acc": 0.5})
    expected = runs(runs_dir)
    index = runs_dir / ".index.json"
    data = json.loads(index.read_text())
    forged = "finished\x1f10/10\x1f-\x1f50.00%\x1fA\n2  20261201-090000-B-fake  finished  10/10  99.90%"
    for lie in (5, ["finished"], "finished\x1f10/10", None, forged):  # made from the values again
        data["lines"][0] = lie
        index.write_text(json.dumps(data))
        assert runs(runs_dir) == expected
    data["lines"][0] = "\x1b[2Jfinished\x1f10/10\x1f-\x1f50.00%\x1f\x1b]0;owned\x07"
    index.write_text(json.dumps(data))
    assert runs(runs_dir) == expected  # an escape sequence `safe` would have escaped: not a line made here
    data["lines"][0] = "lies\x1f10/10\x1f-\x1f99.00%\x1f[red]x[/] \\x1b"  # safe text, but not the run's
    index.write_text(json.dumps(data))
    out = runs(runs_dir)
    assert "lies" in out and "[red]x[/] \\x1b" in out  # a writer of the folder can lie, as in its files: as typed
    data["lines"] = "every run"  # the column itself is no list: the whole index is read again
    index.write_text(json.dumps(data))
    assert runs(runs_dir) == expected and isinstance(json.loads(index.read_text())["lines"], list)


def test_an_index_naming_something_that_is_no_run_is_not_believed(runs_dir):
    make_run_folder(runs_dir, "20261201-100000-A-done", {"state": "finished", "epoch": 10, "best_test_acc": 0.5})
    expected = runs(runs_dir)
    (runs_dir / ".archive").mkdir()
    settle(runs_dir / ".archive")
    index = runs_dir / ".index.json"
    data = json.loads(index.read_text())
    st = os.lstat(runs_dir / ".archive")
    data["ids"].append(".archive")
    data["stamps"].append(hash((st.st_mtime_ns, st.st_ino)))
    data["lines"].append(data["lines"][0])
    data["fields"] = {k: v + [v[0]] if isinstance(v, list) else v for k, v in data["fields"].items()}
    index.write_text(json.dumps(data))
    assert runs(runs_dir) == expected and ".archive" not in runs(runs_dir)


def test_a_damaged_run_is_read_afresh_so_a_mend_that_moves_no_mtime_shows(runs_dir):
    """A run another user's permissions made unreadable reads corrupt; a chmod mends it without moving its folder's
    mtime. Damaged runs are never stamped, so the next listing sees the mend (here: status.json mended in place)."""
    path = make_run_folder(runs_dir, "20261201-100000-A-bad1", {"state": "finished", "epoch": 10})
    status = path / "status.json"
    text = status.read_text()
    status.write_text("{not json")
    settle(path)
    assert "corrupt" in runs(runs_dir)
    assert json.loads((runs_dir / ".index.json").read_text())["stamps"] == [None]
    status.write_text(text)  # in place: the folder's mtime stays
    settle(path)
    out = runs(runs_dir)
    assert "corrupt" not in out and "finished" in out
