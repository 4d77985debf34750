"""What a fresh console opens on: the newest run with an epoch to draw, not a queued run's empty charts; and
the form's data reason in the form's own words."""
from __future__ import annotations

import time

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
