"""`L`: the selected run's train.log in a scrollable viewer that follows a live run; the incremental reader under it."""
import os
import time

import pytest

from conftest import make_run_folder, until
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.screens import log_viewer
from tui_dropout.console.screens.log_viewer import LogViewerScreen
from tui_dropout.store.tail import LogTail

RUN = "20260101-000001-A-aaaa"




def append(path, text):
    with open(path, "a") as f:
        f.write(text)


# ----- the reader ----------------------------------------------------------------------------------------------
def test_the_reader_returns_whole_lines_once_and_holds_back_a_torn_one(tmp_path):
    path = tmp_path / "train.log"
    tail = LogTail(path)
    assert tail.read_new() == [] and tail.problem == "no train.log yet"
    path.write_text("one\ntwo\nthr")
    assert tail.read_new() == ["one", "two"] and tail.problem == ""
    assert tail.read_new() == []
    append(path, "ee\n\nfour\n")
    assert tail.read_new() == ["three", "", "four"]
    path.write_text("new\n")  # truncated (a rewrite): starts over
    assert tail.read_new() == ["new"] and tail.take_reset() and not tail.take_reset()


def test_the_reader_starts_within_the_last_bytes_of_a_large_file(tmp_path):
    path = tmp_path / "train.log"
    path.write_text("".join(f"line {i:04d}\n" for i in range(1000)))  # 10 bytes a line
    tail = LogTail(path, max_bytes=105)
    lines = tail.read_new()
    assert lines == [f"line {i:04d}" for i in range(990, 1000)]  # the partial first line left out
    assert tail.skipped == 10000 - 105 and tail.size == 10000


def test_an_unreadable_log_is_a_problem_not_an_error(tmp_path):
    os.mkfifo(tmp_path / "train.log")  # a FIFO would block a plain open
    tail = LogTail(tmp_path / "train.log")
    assert tail.read_new() == [] and "cannot read train.log" in tail.problem


# ----- the screen --------------------------------------------------------------------------------------------
@pytest.fixture
def run_with_log(runs_dir):
    path = make_run_folder(runs_dir, RUN, {"state": "finished", "epoch": 10, "created": time.time() - 60})
    (path / "train.log").write_text("".join(f"[2026-01-01 00:00:00] epoch: {e} loss: {2.3 / e:.4f}\n"
                                            for e in range(1, 201)))
    return path


async def test_l_shows_the_whole_log_follows_new_lines_and_stops_following_when_scrolled_up(runs_dir,
                                                                                              run_with_log):
    log_file = run_with_log / "train.log"
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, LogViewerScreen), what="the log viewer")
        screen = app.screen
        view = screen.view
        await until(pilot, lambda: view.line_count == 200, what="every line")
        assert view.lines[0].endswith("epoch: 1 loss: 2.3000") and view.lines[-1].endswith("epoch: 200 loss: 0.0115")
        await until(pilot, lambda: view.max_scroll_y > 0 and screen.following, what="the view at the end")
        # a live run: new lines appear, and the view stays at the end
        append(log_file, "[2026-01-01 00:00:01] epoch: 201 loss: 0.0114\n[2026-01-01 00:00:01] a torn li")
        await until(pilot, lambda: view.line_count == 201, what="the new line")
        await until(pilot, lambda: screen.following and view.scroll_y == view.max_scroll_y)
        assert "following" in str(screen.query_one("#log-title").render())
        # scrolled up: new lines still come, the view stays where the reader is
        await pilot.press("pageup", "pageup")
        await until(pilot, lambda: not screen.following, what="scrolled up")
        where = view.scroll_y
        append(log_file, "ne ends here\n")
        await until(pilot, lambda: view.line_count == 202, what="the rest of the torn line")
        assert view.lines[-1].endswith("a torn line ends here")
        polls = screen.polls
        await until(pilot, lambda: screen.polls >= polls + 2, what="two more polls")
        assert view.scroll_y == where and "End/G follows" in str(screen.query_one("#log-title").render())
        await pilot.press("g")  # the top
        await until(pilot, lambda: view.scroll_y == 0)
        await pilot.press("G")  # follow again
        await until(pilot, lambda: screen.following, what="following again")
        append(log_file, "".join(f"more {i}\n" for i in range(30)))
        await until(pilot, lambda: view.line_count == 232 and view.scroll_y == view.max_scroll_y,
                    what="followed to the new end")
        await pilot.press("q")
        await until(pilot, lambda: not isinstance(app.screen, LogViewerScreen), what="closed")
        await pilot.press("L", "escape")
        await until(pilot, lambda: not isinstance(app.screen, LogViewerScreen), what="closed with escape")


async def test_a_missing_log_is_one_line_and_a_large_one_says_what_it_left_out(runs_dir, run_with_log,
                                                                               monkeypatch):
    make_run_folder(runs_dir, "20260101-000002-A-bbbb", {"state": "queued", "created": time.time()})  # no log
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        assert not app.screen.selected.endswith("bbbb")  # a fresh console opens on the run with data
        await pilot.press("up")  # the queued run above it, which has no log yet
        await until(pilot, lambda: app.screen.selected.endswith("bbbb"), what="the queued run")
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, LogViewerScreen))
        title = app.screen.query_one("#log-title")
        await until(pilot, lambda: "no train.log yet" in str(title.render()), what="the missing-log line")
        assert app.screen.view.line_count == 0
        # the run starts: its log appears
        (runs_dir / "20260101-000002-A-bbbb" / "train.log").write_text("started\n")
        await until(pilot, lambda: app.screen.view.line_count == 1, what="the log once written")
        await pilot.press("escape")
        monkeypatch.setattr(log_viewer, "LOG_VIEW_BYTES", 2048)
        await pilot.press("down")
        await until(pilot, lambda: app.screen.selected.endswith("aaaa"))
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, LogViewerScreen))
        screen = app.screen
        await until(pilot, lambda: 0 < screen.view.line_count < 200, what="the end of the log")
        assert screen.view.lines[-1].endswith("epoch: 200 loss: 0.0115")
        assert "lines, the last 2 KiB of 9 KiB" in str(screen.query_one("#log-title").render())


def test_a_cut_that_falls_on_a_line_start_keeps_that_line(tmp_path):
    from tui_dropout.store.tail import LogTail

    log = tmp_path / "train.log"
    log.write_bytes(b"aaaa\nbbbb\ncccc\n")
    assert LogTail(log, max_bytes=10).read_new() == ["bbbb", "cccc"]  # the cut is at the start of bbbb
    tail = LogTail(log, max_bytes=8)  # the cut is inside bbbb: that partial line is left out
    assert tail.read_new() == ["cccc"]
    with open(log, "ab") as f:
        f.write(b"dddd\n")
    assert tail.read_new() == ["dddd"]
