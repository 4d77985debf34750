"""The console's keys that act on runs, through the pilot: export, cancel and resume, and folders that refuse."""
import builtins
import errno
import io
import os
from pathlib import Path

from console_helpers import position, text_of, RecordingConsole, open_form, run_folders
from console_helpers import fixture_runs  # noqa: F401 (a fixture, used by name)
from console_helpers import fake_trainers  # noqa: F401 (a fixture, used by name)
from conftest import until
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.widgets.runs_table import RunsTable
from tui_dropout.launch import local as local_launcher


# ----- nothing kills the console -------------------------------------------------------------------------------------
def read_only(monkeypatch, folder: Path):
    """Writes under `folder` fail as on a read-only file system (the tests may run as root, where chmod is no bar)."""
    root = str(folder)

    def refuse(path):
        if str(os.fspath(path)).startswith(root):
            raise OSError(errno.EROFS, "Read-only file system", str(path))

    real_open, real_mkdir, real_replace = builtins.open, os.mkdir, os.replace

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", lambda path, *a, **k: (refuse(path), real_mkdir(path, *a, **k))[1])
    monkeypatch.setattr(os, "replace", lambda src, dst, *a, **k: (refuse(dst), real_replace(src, dst, *a, **k))[1])

async def test_export_writes_the_run_files(fixture_runs, tmp_path):
    app = DropoutConsole(runs_dir=fixture_runs, exports_dir=tmp_path / "ex")
    folder = tmp_path / "ex" / "20260101-000001-A-aaaa"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"), "e")
        await until(pilot, lambda: (folder / "config.json").exists())
    assert (folder / "metrics.csv").read_text().count("\n") == 11
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 10

# ----- launching, cancelling and resuming --------------------------------------------------------------------------
async def test_cancel_asks_first_then_resume_continues_the_run(runs_dir, fake_trainers):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, app, f_epochs="100000")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.selected is not None and app.screen.selected in app.watcher.runs)
        run_id = app.screen.selected
        info = lambda: app.watcher.runs[run_id].info  # noqa: E731
        await until(pilot, lambda: info().state == "running" and info().epoch >= 2, what="training")
        await pilot.press("c")
        await until(pilot, lambda: "Cancel run" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: info().state == "cancelled", what="the cancel")
        stopped_at = info().epoch
        assert (runs_dir / run_id / "checkpoint.pt").exists()
        await pilot.press("R")
        await until(pilot, lambda: info().state == "running" and info().epoch > stopped_at, what="the resume")
        assert fake_trainers.started[-1] == ([run_id], True)
        await pilot.press("c")
        await until(pilot, lambda: "Cancel run" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: info().state == "cancelled")

async def test_a_read_only_runs_folder_or_exports_folder_is_told_not_fatal(fixture_runs, tmp_path, monkeypatch,
                                                                          fake_trainers):
    app = RecordingConsole(runs_dir=fixture_runs, exports_dir=tmp_path / "ex")
    before = run_folders(fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.query_one(RunsTable).row_count == 11)
        read_only(monkeypatch, fixture_runs)
        read_only(monkeypatch, tmp_path / "ex")
        told = app.was_told
        await open_form(pilot, app, f_epochs="3")
        await pilot.press("enter")
        await until(pilot, lambda: told("not launched"), what="the launch refused")
        await pilot.press(position(app, "dddd"), "R")  # lost: resume, which must write its claim
        await until(pilot, lambda: told("resume of 20260101-000004-D-dddd failed"), what="the resume refused")
        await pilot.press("c")
        await until(pilot, lambda: "Cancel run" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: told("cancel of 20260101-000004-D-dddd failed"), what="the cancel refused")
        await pilot.press(position(app, "aaaa"), "e")
        await until(pilot, lambda: told("export of 20260101-000001-A-aaaa failed"), what="the export refused")
        assert app.is_running and not fake_trainers.started
    assert run_folders(fixture_runs) == before

async def test_a_trainer_that_cannot_start_fails_its_run_and_the_console_goes_on(runs_dir, monkeypatch):
    class Unstartable(local_launcher.TrainerProcess):
        def start(self):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_launcher, "TrainerProcess", Unstartable)
    app = RecordingConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, app, f_epochs="3")
        await pilot.press("enter")
        await until(pilot, lambda: app.was_told("did not start"))
        await until(pilot, lambda: [w.info.state for w in app.watcher.runs.values()] == ["failed"])
        assert app.is_running
