"""What a fresh console opens on: the newest run with an epoch to draw, not a queued run's empty charts; and
the form's data reason in the form's own words."""
from __future__ import annotations

import time
from pathlib import Path

from conftest import until
from tui_dropout.store import RunStore


async def test_a_fresh_console_opens_on_the_newest_run_with_data(tmp_path):
    from tui_dropout.console.app import DropoutConsole

    store = RunStore(tmp_path / "runs")
    done = store.create({"preset": "quick", "epochs": 2})
    done.append_metric({"epoch": 1, "loss": 1.0, "lr": 0.01, "seconds": 1.0, "test_acc": 0.5})
    done.update_status(state="finished", pid=None, epoch=1, ended=time.time(), created=time.time() - 60)
    waiting = store.create({"preset": "quick", "epochs": 2})
    waiting.update_status(state="failed", pid=None, epoch=0, created=time.time())  # newer, nothing to draw
    app = DropoutConsole(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: {done.run_id, waiting.run_id} <= set(app.watcher.runs), what="the runs")
        assert app.screen.listed()[0].run_id == waiting.run_id  # the list still starts with the newest
        assert app.screen.selected == done.run_id


def test_the_form_words_a_missing_data_folder_as_a_field_to_fill():
    from tui_dropout.console.study import in_form_words

    text = "CIFAR-10 not found in /d/cifar-10-batches-py; run `dropout-tui data fetch cifar10 --data-dir /d` or pass --data-dir"
    assert in_form_words(text).endswith("or fill in data_dir") and "data fetch cifar10 --data-dir /d" in in_form_words(text)


async def test_help_at_80x24_wraps_no_line(tmp_path):
    import html

    from tui_dropout.console.app import DropoutConsole
    from tui_dropout.console.screens.help import KEYS, HelpScreen

    app = DropoutConsole(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        await pilot.pause()
        shown = html.unescape(app.export_screenshot()).replace("\xa0", " ")
    for line in KEYS.splitlines()[1:12]:  # the lines on screen at 24 rows, each whole on its row
        assert line.strip() in shown, line


def test_exporting_a_running_run_writes_its_figures_so_far_as_a_partial_summary(tmp_path):
    import json

    from tui_dropout.export import export_folder

    run = RunStore(tmp_path / "runs").create({"preset": "quick", "epochs": 5})
    run.append_metric({"epoch": 1, "loss": 1.0, "lr": 0.01, "seconds": 1.0, "test_acc": 0.5})
    run.update_status(state="running", epoch=1, best_test_acc=0.5, best_test_epoch=1)
    folder = export_folder(run, tmp_path / "exports")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["partial"] is True and summary["state"] == "running" and summary["best_test_acc"] == 0.5


async def test_the_console_asks_before_replacing_an_earlier_export(tmp_path, monkeypatch):
    from tui_dropout.console.app import DropoutConsole
    from tui_dropout.console.dialogs.confirm import ConfirmScreen

    monkeypatch.chdir(tmp_path)
    run = RunStore(tmp_path / "runs").create({"preset": "quick", "epochs": 5})
    run.update_status(state="failed", pid=None, epoch=0)
    app = DropoutConsole(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: run.run_id in app.watcher.runs, what="the run")
        earlier = Path(app.exports_dir) / run.run_id
        await pilot.press("e")
        await until(pilot, lambda: (earlier / "config.json").exists(), what="the first export")
        (earlier / "mine.txt").write_text("kept until asked")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("escape")  # no: the earlier export stays as it was
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the answer")
        assert (earlier / "mine.txt").exists()
