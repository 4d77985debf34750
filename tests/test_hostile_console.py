"""The console over a hostile neighbour's run: every view a user opens on it shows the payload as visible escapes
and markup as typed, and none lets a raw control or bidi character reach the terminal."""
from __future__ import annotations

import html

import pytest

from conftest import until
from test_hostile import PAYLOAD, RAW, hostile_run

VISIBLE = "\\x1b]0;pwned\\x07"  # how the OSC title sequence must read on the screen


def screen_text(app) -> str:
    """What the terminal would show: the text of an SVG screenshot, with its XML escapes undone."""
    return html.unescape(app.export_screenshot())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_view_of_a_hostile_run_shows_escapes_and_markup_as_typed(tmp_path, size):
    from tui_dropout.console.app import DropoutConsole

    root = tmp_path / "runs"
    run, other = hostile_run(root), hostile_run(root)  # one study (its name is the payload too) of two runs
    app = DropoutConsole(runs_dir=root)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: {run.run_id, other.run_id} <= set(app.watcher.runs), what="the runs listed")
        app.screen.select(run.run_id)
        await pilot.press("m")  # both marked: compare shows them side by side
        await pilot.pause()
        seen = {"main": screen_text(app)}
        for key, name in (("L", "log"), ("l", "label"), ("o", "compare"), ("H", "hparams")):
            await pilot.press(key)
            await until(pilot, lambda: len(app.screen_stack) > 1, what=f"the {name} view")
            await pilot.pause()
            seen[name] = screen_text(app)
            await pilot.press("escape")
            await until(pilot, lambda: len(app.screen_stack) == 1, what=f"the {name} view closed")
        assert str(app.title) and not RAW.search(str(app.title)) and not RAW.search(str(app.sub_title))
    for name, text in seen.items():
        assert not RAW.search(text), (name, [c for c in text if RAW.match(c)])
    assert VISIBLE in seen["log"]  # the log line shows the sequence as text
    assert "[red]x[/][/]" in seen["log"]  # markup from run data prints as typed
    assert any("\\u202e" in text for text in seen.values())  # the bidi override is named, not obeyed
    assert PAYLOAD not in "".join(seen.values())


@pytest.mark.parametrize("name", ["train.log", "metrics.jsonl", "notes.json", "summary.json"])
async def test_the_console_never_shows_or_follows_a_link_in_a_run_folder(tmp_path, name):
    """A neighbour's link from a run's file to a readable file outside: the run reads corrupt, naming the file, and
    no view (list, details, log, compare, hparams) shows a line of the outside file."""
    import json
    import os

    from test_hostile import SECRET
    from tui_dropout.console.app import DropoutConsole
    from tui_dropout.store import RunStore

    outside = tmp_path / "outside.txt"
    outside.write_text(json.dumps({"epoch": 1, "loss": 1.0, "test_acc": 0.5, "name": SECRET}) + f"\n{SECRET}\n")
    before = outside.read_text()
    root = tmp_path / "runs"
    run = RunStore(root).create({"preset": "A", "epochs": 2})
    run.update_status(state="finished", pid=None, ended=1.0)
    run.file(name).unlink(missing_ok=True)
    os.symlink(outside, run.file(name))
    app = DropoutConsole(runs_dir=root)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: run.run_id in app.watcher.runs, what="the run listed")
        app.screen.select(run.run_id)
        await pilot.pause()
        seen = {"main": screen_text(app)}
        for key, view in (("L", "log"), ("o", "compare"), ("H", "hparams")):
            await pilot.press(key)
            await pilot.pause()
            seen[view] = screen_text(app)
            while len(app.screen_stack) > 1:
                await pilot.press("escape")
                await pilot.pause()
        assert app.watcher.runs[run.run_id].info.state == "corrupt"
    assert "corrupt" in seen["main"] and name in seen["main"], seen["main"]
    assert not any(SECRET in text for text in seen.values())
    assert outside.read_text() == before
