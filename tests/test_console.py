"""The console driven by key presses through Textual's pilot, on fixture folders and real trainer runs."""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import make_run_folder
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.screens.compare import CompareScreen
from tui_dropout.console.screens.inspector import InspectorScreen
from tui_dropout.console.screens.new_run import NewRunScreen
from tui_dropout.console.screens.replay import ReplayScreen
from tui_dropout.console.widgets.charts import MetricChart


def metrics(n, loss0=2.3, acc_every=2):
    rows = []
    for e in range(1, n + 1):
        row = {"epoch": e, "loss": loss0 / e, "lr": 0.01, "seconds": 0.5, "elapsed": 0.6 * e}
        if e % acc_every == 0 or e == n:
            row.update(train_acc=min(1.0, 0.1 * e), test_acc=min(0.9, 0.08 * e))
        rows.append(json.dumps(row))
    return "\n".join(rows) + "\n"


@pytest.fixture
def fixture_runs(runs_dir):
    """One folder for every state, plus damaged ones."""
    t = time.time()
    make_run_folder(runs_dir, "20260101-000001-A-aaaa", {"state": "finished", "epoch": 10, "best_test_acc": 0.6,
                                                        "created": t - 60}, metrics=metrics(10))
    make_run_folder(runs_dir, "20260101-000002-B-bbbb", {"state": "finished", "epoch": 10, "created": t - 50},
                    config={"preset": "B", "epochs": 10, "placement": "fc", "p_fc": 0.3, "dataset": "digits"},
                    metrics=metrics(10, loss0=2.0))
    make_run_folder(runs_dir, "20260101-000003-C-cccc", {"state": "failed", "error": "loss became nan at epoch 3",
                                                        "epoch": 3, "created": t - 40}, metrics=metrics(2))
    make_run_folder(runs_dir, "20260101-000004-D-dddd", {"state": "running", "pid": 999999, "pid_start": 1,
                                                        "host": os.uname().nodename, "created": t - 30})
    make_run_folder(runs_dir, "20260101-000005-A-eeee", {"state": "cancelled", "created": t - 20},
                    metrics=metrics(4) + '{"epoch": 5, "lo')
    bad = make_run_folder(runs_dir, "20260101-000006-A-ffff", None, metrics="not json\n")
    (bad / "status.json").write_text("{broken")
    make_run_folder(runs_dir, "20260101-000007-A-gggg", {"state": "queued", "created": t - 5}, config=False)
    return runs_dir


def position(app, suffix):
    """The 1-9 key that jumps to the run whose id ends with suffix."""
    ids = [i.run_id for i in app.watcher.ordered()]
    return str(next(n for n, run_id in enumerate(ids, 1) if run_id.endswith(suffix)))


async def open_form(pilot, app, **fields):
    """Press n and fill fields by id (f-epochs=..., together=...); returns the form."""
    await pilot.press("n")
    await pilot.pause(0.2)
    form = app.screen
    assert isinstance(form, NewRunScreen)
    for name, value in fields.items():
        form.query_one(f"#{name.replace('_', '-', 1) if name.startswith('f_') else name}").value = value
        await pilot.pause(0.1)
    return form


async def wait_until(pilot, predicate, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        await pilot.pause(0.1)
    return False


async def test_every_state_and_damaged_folder_is_listed_without_a_crash(fixture_runs, tmp_path):
    app = DropoutConsole(runs_dir=fixture_runs, exports_dir=tmp_path / "ex")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        states = {i.run_id[-4:]: (i.state, i.problem) for i in app.watcher.ordered()}
        assert states["aaaa"][0] == "finished" and states["cccc"][0] == "failed"
        assert states["dddd"][0] == "lost"  # running on paper, trainer gone
        assert states["eeee"][0] == "cancelled" and "corrupt" in states["ffff"][1]
        assert "config.json missing" in states["gggg"][1]
        assert app.query_one("#runs").row_count == 7
        # move to the failed run: its error is on screen
        await pilot.press(position(app, "cccc"))
        await pilot.pause(0.2)
        assert app.selected.endswith("cccc")
        assert "loss became nan" in app.query_one("#details").text.plain
        await pilot.press(position(app, "ffff"))  # the damaged folder: shown, no crash
        await pilot.pause(0.2)
        assert app.selected.endswith("ffff")


async def test_toggle_between_runs_redraws_the_charts(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(position(app, "aaaa"))
        await pilot.pause(0.2)
        assert app.selected.endswith("aaaa")
        assert app.query_one("#loss", MetricChart).points == 10
        await pilot.press("k")  # up: the next newer run
        await pilot.pause(0.2)
        assert app.selected.endswith("bbbb")
        await pilot.press("j", "up")
        await pilot.pause(0.2)
        assert app.selected.endswith("bbbb")
        await pilot.press("x")  # wall-time axis
        await pilot.pause(0.2)
        assert app.axis == "time"
        await pilot.press("s", "s")
        assert app.smoothing == 0.8


async def test_mark_two_runs_compare_overlay_then_side_by_side(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(position(app, "aaaa"), "space", position(app, "bbbb"), "space")
        assert {m[-4:] for m in app.marked} == {"aaaa", "bbbb"}
        await pilot.press("o")
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.mode == "overlay"
        assert screen.query_one(".loss", MetricChart).points == 20  # both runs on one chart
        assert screen.query_one("#results").row_count == 2
        assert "p_fc" in str(screen.query_one("#diff").render())
        await pilot.press("o")
        await pilot.pause(0.3)
        assert screen.mode == "side-by-side" and len(screen.query(".loss")) == 2
        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


async def test_replay_plays_pauses_steps_and_changes_speed(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(position(app, "aaaa"), "space", position(app, "bbbb"), "space", "r")
        await pilot.pause(0.1)
        screen = app.screen
        assert isinstance(screen, ReplayScreen) and screen.last == 10
        await wait_until(pilot, lambda: screen.epoch >= 3, timeout=5)
        await pilot.press("space")
        paused_at = screen.epoch
        await pilot.pause(0.4)
        assert screen.paused and screen.epoch == paused_at
        await pilot.press("right")
        assert screen.epoch == min(10, paused_at + 1)
        await pilot.press("left", "left")
        assert screen.epoch == max(1, paused_at - 1)
        speed = screen.speed_index
        await pilot.press("plus")
        assert screen.speed_index == speed + 1
        await pilot.press("minus", "minus")
        assert screen.speed_index == speed - 1
        assert screen.query_one("#loss", MetricChart).points == 2 * screen.epoch


async def test_export_writes_the_run_files(fixture_runs, tmp_path):
    app = DropoutConsole(runs_dir=fixture_runs, exports_dir=tmp_path / "ex")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(position(app, "aaaa"), "e")
        await pilot.pause(0.2)
    folder = tmp_path / "ex" / "20260101-000001-A-aaaa"
    assert (folder / "metrics.csv").read_text().count("\n") == 11
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 10
    assert (folder / "config.json").exists()


async def test_form_checks_as_you_type(runs_dir):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 50)) as pilot:
        form = await open_form(pilot, app)
        assert str(form.query_one("#preset").value) == "quick"  # runs here without any download
        form.query_one("#f-p_fc").value = "1.5"
        await pilot.pause(0.2)
        assert "[0, 1]" in str(form.query_one("#e-p_fc").render())
        assert form.query_one("#launch").disabled
        form.query_one("#f-p_fc").value = "0.4"
        form.query_one("#f-epochs").value = "zero"
        await pilot.pause(0.2)
        assert "not a whole number" in str(form.query_one("#e-epochs").render())
        form.query_one("#f-epochs").value = "3"
        await pilot.pause(0.2)
        assert not form.query_one("#launch").disabled
        await pilot.press("escape")
        assert not isinstance(app.screen, NewRunScreen)
    assert not runs_dir.exists() or not list(runs_dir.iterdir())


async def test_launch_from_the_form_watch_it_train_then_cancel_another(runs_dir):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 50)) as pilot:
        await open_form(pilot, app, f_epochs="3")
        await pilot.press("ctrl+l")
        assert await wait_until(pilot, lambda: app.selected is not None)
        run_id = app.selected
        assert await wait_until(pilot, lambda: len(app.watcher.series(run_id).epochs) == 3)
        assert await wait_until(pilot, lambda: app.watcher.runs[run_id].info.state == "finished")
        await pilot.pause(0.6)
        assert app.query_one("#acc", MetricChart).points > 0

        # a long one, cancelled from the keyboard after a confirmation
        await open_form(pilot, app, f_epochs="500")
        await pilot.press("ctrl+l")
        assert await wait_until(pilot, lambda: app.selected != run_id)
        long_id = app.selected
        assert await wait_until(pilot, lambda: app.watcher.runs[long_id].info.epoch >= 1)
        await pilot.press("c")
        await pilot.pause(0.1)
        await pilot.press("y")
        assert await wait_until(pilot, lambda: app.watcher.runs[long_id].info.state == "cancelled")
        assert (runs_dir / long_id / "checkpoint.pt").exists()
        # and R resumes it
        await pilot.press("R")
        assert await wait_until(pilot, lambda: app.watcher.runs[long_id].info.state == "running")
        await pilot.press("c")
        await pilot.pause(0.1)
        await pilot.press("y")
        assert await wait_until(pilot, lambda: app.watcher.runs[long_id].info.state == "cancelled")


async def test_presets_launched_together_keep_their_own_settings_plus_the_changes(runs_dir):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 50)) as pilot:
        await open_form(pilot, app, preset="A", together="B C D", f_dataset="digits", f_epochs="2",
                        f_train_limit="100")
        await pilot.press("ctrl+l")
        assert await wait_until(pilot, lambda: len(app.watcher.runs) == 4)
        assert await wait_until(pilot, lambda: all(w.info.state == "finished" for w in app.watcher.runs.values()))
    configs = {c["preset"]: c for c in (json.loads((p / "config.json").read_text()) for p in runs_dir.iterdir())}
    assert {k: c["placement"] for k, c in configs.items()} == {"A": "none", "B": "fc", "C": "conv", "D": "all"}
    assert all(c["epochs"] == 2 and c["dataset"] == "digits" for c in configs.values())
    groups = {tuple(json.loads((p / "status.json").read_text())["group"]) for p in runs_dir.iterdir()}
    assert len(groups) == 1 and len(next(iter(groups))) == 4  # fused: one trainer for the four
    losses = {json.loads((p / "metrics.jsonl").read_text().splitlines()[-1])["loss"] for p in runs_dir.iterdir()}
    assert len(losses) == 4


async def test_inspector_shows_the_seed_demonstrations(runs_dir):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, InspectorScreen)
        assert await wait_until(pilot, lambda: screen.torch_ready, timeout=30)
        await pilot.pause(0.2)
        text = str(screen.query_one("#out").render())
        assert "zeroed" in text and "1/(1-p) = 2.000" in text and "scaled by 2.000" in text
        screen.query_one("#kind").value = "dropout2d"
        screen.query_one("#shape").value = "5"
        await pilot.pause(0.2)
        assert "RuntimeError" in str(screen.query_one("#out").render()) or "zeroed" in str(
            screen.query_one("#out").render())
        screen.query_one("#shape").value = "2,3,4,4"
        await pilot.press("ctrl+t")  # evaluation: identity
        await pilot.pause(0.2)
        assert "zeroed: 0.0%" in str(screen.query_one("#out").render())


async def test_help_lists_the_keys(runs_dir):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        assert "replay" in str(app.screen.query_one("Static").render())


def test_console_starts_without_importing_torch(fixture_runs):
    code = ("import sys, asyncio\nfrom tui_dropout.console.app import DropoutConsole\n"
            "async def main():\n"
            f"    app = DropoutConsole(runs_dir={str(fixture_runs)!r})\n"
            "    async with app.run_test(size=(80, 24)) as pilot:\n"
            "        await pilot.pause(0.5)\n"
            "        await pilot.press('down', 'space', 'x')\n"
            "asyncio.run(main())\n"
            "assert 'torch' not in sys.modules, 'torch imported'\nprint('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


async def test_light_theme_and_small_terminal_redraw_without_error(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"))
        app.theme = "textual-light"
        await pilot.pause(0.3)
        assert app.query_one("#loss", MetricChart).points == 10
        assert app.screen.has_class("narrow")
        await pilot.resize_terminal(160, 50)
        await pilot.pause(0.3)
        assert not app.screen.has_class("narrow")


async def test_compare_and_replay_smooth_their_own_charts(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(position(app, "aaaa"), "space", position(app, "bbbb"), "space", "o", "s", "s")
        assert app.screen.smoothing == 0.8 and app.smoothing == 0.0
        await pilot.press("S", "escape", "r", "s")
        assert app.screen.smoothing == 0.5
        await pilot.press("n", "space", "e")  # main-view keys do nothing while replay is on top
        assert isinstance(app.screen, ReplayScreen) and len(app.marked) == 2
