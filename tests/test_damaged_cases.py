"""Damaged run-folder files, case by case: NaN old and new, JSON that is not an object, links, folders, FIFOs."""
from __future__ import annotations

import json
import math
import os

import pytest

from damaged import _base  # noqa: F401 (the autouse fixture that makes and removes the scratch folder)
from damaged import RUN_ID, SIBLING_ID, STATUS, assert_shown_damaged, read_everything, run_folder, write_run
from tui_dropout import launch as launcher
from tui_dropout.series import ema
from tui_dropout.store import RunDir, RunStore
from tui_dropout.watch import RunsWatcher


def test_bare_nan_loss_from_an_old_version_is_read_and_charted_as_a_gap(tmp_path):
    old = b'{"epoch": 1, "loss": 2.0, "elapsed": 1.0}\n{"epoch": 2, "loss": NaN, "elapsed": 2.0}\n' \
          b'{"epoch": 3, "loss": Infinity, "elapsed": 3.0, "train_acc": NaN, "test_acc": 0.4}\n' \
          b'{"epoch": 4, "loss": 1.0, "elapsed": 4.0}\n'
    with run_folder(**{"metrics.jsonl": old}) as (root, path):
        info, series, texts, *_ = read_everything(root, path, full=True)
    assert series.epochs == [1, 2, 3, 4]
    assert series.loss[0] == 2.0 and math.isnan(series.loss[1]) and math.isnan(series.loss[2])
    assert series.loss[3] == 1.0
    assert math.isnan(series.train_acc[0]) and series.test_acc[0] == pytest.approx(40.0)
    smoothed = ema(series.loss, 0.5)
    assert math.isnan(smoothed[1]) and math.isfinite(smoothed[3])  # a gap does not poison what follows
    assert texts["csv"].splitlines()[2].split(",")[1] == ""  # an empty cell, not "nan"
    assert json.loads(texts["jsonl"].splitlines()[1])["loss"] is None  # null: every JSON reader takes it


def test_nan_written_now_is_json_every_reader_accepts(tmp_path):
    run = RunDir(tmp_path)
    run.append_metric({"epoch": 1, "loss": float("nan"), "lr": float("inf")})
    run.update_status(state="failed", final_loss=float("nan"))
    run.write_summary({"final_loss": float("-inf")})
    for name in ("metrics.jsonl", "status.json", "summary.json"):
        text = (tmp_path / name).read_text()
        json.loads(text.splitlines()[0] if name == "metrics.jsonl" else text,
                   parse_constant=lambda c: pytest.fail(f"{name} holds a bare {c}"))
    assert math.isnan(run.read_metrics()[0]["loss"])


@pytest.mark.parametrize("content", [b"[1, 2]", b'"running"', b"null", b"3.5", b"true", b"[]"])
def test_status_that_is_json_but_not_an_object(content):
    with run_folder(**{"status.json": content}) as (root, path):
        info, series, texts, row, cells, shown = read_everything(root, path, full=True)
    assert_shown_damaged("status.json", info, row, cells, shown)
    assert "not a JSON object" in info.problem


def test_garbage_status_message_names_the_file():
    with run_folder(**{"status.json": b"\x00garbage{"}) as (root, path):
        with pytest.raises(ValueError, match="status.json"):
            launcher.cancel(RunDir(path))
        with pytest.raises(ValueError, match="status.json"):
            launcher.resume_group(RunStore(root), RunDir(path))
        assert "status.json" in RunDir(path).info().problem


def test_self_referencing_links_in_the_runs_folder_and_in_a_run():
    with run_folder() as (root, path):
        os.symlink("20260101-000009-A-loop", root / "20260101-000009-A-loop")  # points at itself: ELOOP
        (root / "notes.txt").write_text("not a run")
        os.symlink("notes.txt", root / "20260101-000008-A-file")  # a link to a file inside the runs folder
        (root / "20260101-000007-A-plain").write_text("a file where a run folder should be")
        read_everything(root, path, full=True)  # lists exactly the two real runs
        for ref in ("20260101-000009-A-loop", "20260101-000008-A-file", "20260101-000007-A-plain"):
            with pytest.raises(KeyError):
                RunStore(root).find(ref)
            info = RunDir(root / ref).info()
            why = "config.json" if ref.endswith("plain") else "the run folder is a link"
            assert info.state == "corrupt" and why in info.problem, (ref, info.problem)

    for name in ("config.json", "status.json", "summary.json"):
        with run_folder(**{name: None}) as (root, path):
            os.symlink(name, path / name)
            info, series, texts, row, cells, shown = read_everything(root, path)
            assert_shown_damaged(name, info, row, cells, shown)
    for name in ("metrics.jsonl", "train.log", "cancel.request"):
        with run_folder(**{name: None}) as (root, path):
            os.symlink(name, path / name)
            info, series, *_ = read_everything(root, path)
            assert info.state == "corrupt" and name in info.problem and "link" in info.problem


def test_a_link_out_of_the_runs_folder_is_never_followed():
    with run_folder() as (root, path):
        outside = root.parent / "elsewhere.json"
        outside.write_text(json.dumps(STATUS))
        (path / "status.json").unlink()
        os.symlink(outside, path / "status.json")  # a neighbour's link to a file outside the runs folder
        info, *_ = read_everything(root, path)
        assert info.state == "corrupt" and "status.json" in info.problem and "link" in info.problem


def test_files_that_are_folders_or_fifos_do_not_block_or_crash():
    for name in ("config.json", "status.json", "summary.json"):
        with run_folder(**{name: None}) as (root, path):
            os.mkfifo(path / name)  # reading a FIFO with no writer would block forever
            info, series, texts, row, cells, shown = read_everything(root, path)
            assert_shown_damaged(name, info, row, cells, shown)
        with run_folder(**{name: None}) as (root, path):
            (path / name).mkdir()
            info, series, texts, row, cells, shown = read_everything(root, path)
            assert_shown_damaged(name, info, row, cells, shown)
    with run_folder(**{"metrics.jsonl": None}) as (root, path):
        os.mkfifo(path / "metrics.jsonl")
        info, series, *_ = read_everything(root, path)
        assert series.epochs == []


def test_run_folder_that_is_a_file(tmp_path):
    root = tmp_path / "runs"
    write_run(root, SIBLING_ID)
    (root / RUN_ID).write_text("{}")
    store = RunStore(root)
    assert [i.run_id for i in store.list()] == [SIBLING_ID]
    watcher = RunsWatcher(store)
    watcher.refresh()
    assert list(watcher.runs) == [SIBLING_ID] and watcher.series(RUN_ID).epochs == []
    with pytest.raises(KeyError):
        store.find(RUN_ID)
    info = RunDir(root / RUN_ID).info()
    assert info.state == "corrupt" and "config.json" in info.problem


def test_a_fifo_log_does_not_block_show_or_details():
    import threading

    with run_folder(**{"train.log": None}) as (root, path):
        os.mkfifo(path / "train.log")
        result = []
        reader = threading.Thread(target=lambda: result.append(RunDir(path).log_tail(5)), daemon=True)
        reader.start()
        reader.join(10.0)  # returns at once unless the read blocks
        blocked = reader.is_alive()
        if blocked:  # let it go: a writer that comes and goes gives the reader its end of file
            os.close(os.open(path / "train.log", os.O_WRONLY | os.O_NONBLOCK))
            reader.join(5.0)
        assert not blocked and result == [[]]


@pytest.mark.parametrize("kind", ["link", "fifo", "folder", "huge"])
def test_an_inside_json_that_is_no_plain_file_is_never_followed_or_waited_on(tmp_path, kind):
    """A link makes the run corrupt, as any of its own files that is a link; a FIFO, a folder or a file too large
    reads as absent, named, and the run stays whole."""
    from tui_dropout.store.inside import MAX_INSIDE_BYTES, load_inside

    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"epoch": 1, "images": 1, "layers": [], "filters": None}))
    with run_folder() as (root, path):
        target = path / "inside.json"
        target.unlink()
        if kind == "link":
            target.symlink_to(secret)
        elif kind == "fifo":
            os.mkfifo(target)
        elif kind == "folder":
            target.mkdir()
        else:
            target.write_bytes(b" " * (MAX_INSIDE_BYTES + 1))
        inside, problem = load_inside(path)
        info, *_ = read_everything(root, path)
        assert inside is None and problem.startswith("inside.json") and "\n" not in problem
        if kind == "link":
            assert info.state == "corrupt" and "inside.json is a link" in info.problem
        else:
            assert info.state == "finished" and info.problem is None
