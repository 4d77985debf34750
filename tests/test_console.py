"""The console's main view driven by key presses through Textual's pilot: the list, the details, the layout, the key
bar and help, and a start without torch.

Every wait is for a condition (`until`), never a fixed pause: a loaded 2-core machine only makes them slower."""
import json
import subprocess
import sys
import textwrap

from console_helpers import position, go_to, text_of, RecordingConsole
from console_helpers import fixture_runs  # noqa: F401 (a fixture, used by name)
from conftest import make_run_folder, until
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.screens.compare import CompareScreen
from tui_dropout.console.screens.replay import ReplayScreen
from tui_dropout.console.widgets.charts import MetricChart
from tui_dropout.console.widgets.key_bar import KeyBar
from tui_dropout.console.widgets.runs_table import RunsTable


# ----- the list, the details, the layout -----------------------------------------------------------------------
async def test_every_state_and_damaged_folder_is_listed_and_every_row_numbered(fixture_runs, tmp_path):
    app = DropoutConsole(runs_dir=fixture_runs, exports_dir=tmp_path / "ex")
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(RunsTable)
        await until(pilot, lambda: table.row_count == 11, what="eleven rows")
        states = {i.run_id[-4:]: (i.state, i.problem) for i in app.watcher.ordered()}
        assert states["aaaa"][0] == "finished" and states["cccc"][0] == "failed"
        assert states["dddd"][0] == "lost"  # running on paper, trainer gone
        assert states["eeee"][0] == "cancelled" and "corrupt" in states["ffff"][1]
        assert "config.json missing" in states["gggg"][1]
        # every row has its number, past 9 too
        assert [str(table.get_cell_at((row, 0))).strip() for row in range(11)] == [str(n) for n in range(1, 12)]
        # move to the failed run: its error is on screen
        await pilot.press(position(app, "cccc"))
        await until(pilot, lambda: app.screen.selected.endswith("cccc"))
        assert "loss became nan" in app.query_one("#details").text.plain
        # the damaged folder reads "corrupt" in the list and in the details alike
        await go_to(pilot, app, "ffff")
        row = table.get_row_at(int(position(app, "ffff")) - 1)
        assert str(row[1]).strip() == "corrupt"
        state_line = app.query_one("#details").text.plain.splitlines()[1]
        assert state_line.startswith("corrupt") and "failed" not in state_line

async def test_details_show_the_newest_log_lines_and_final_and_best_accuracy_at_80x24(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"))
        details = app.query_one("#details")
        await until(pilot, lambda: "aaaa" in details.text.plain)
        shown = text_of(details)
        assert "run finished" in shown  # the newest line, not an old one
        assert "epoch: 1 " not in shown
        assert "train 95.0% (best 95.0@10)" in shown and "test  58.0% (best 60.0@8)" in shown
        assert "loss  0.2300" in shown
        assert len(shown.splitlines()) <= details.content_size.height

async def test_details_name_the_network_and_the_optional_fields_that_are_set(runs_dir):
    base = {"preset": "mnist-mlp", "epochs": 10, "placement": "all", "p_conv": 0.2, "p_fc": 0.5, "dataset": "mnist"}
    make_run_folder(runs_dir, "20260101-000001-mnist-mlp-mmmm", {"state": "finished", "epoch": 10},
                    config={**base, "network": "mlp", "train_limit": 1500, "max_norm": 3.0})
    make_run_folder(runs_dir, "20260101-000002-B-nnnn", {"state": "finished", "epoch": 10},
                    config={**base, "network": "resnet18", "train_limit": None, "max_norm": None, "placement": "none"})
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        details = app.query_one("#details")
        await until(pilot, lambda: app.query_one(RunsTable).row_count == 2, what="two rows")
        await go_to(pilot, app, "mmmm")
        await until(pilot, lambda: "mmmm" in details.text.plain)
        shown = " ".join(text_of(details).split())
        assert "dataset=mnist network=mlp train_limit=1500 placement=all" in shown and "max_norm=3.0" in shown
        await go_to(pilot, app, "nnnn")
        await until(pilot, lambda: "nnnn" in details.text.plain)
        shown = " ".join(text_of(details).split())
        assert "network=resnet18" in shown and "None" not in shown and "max_norm" not in shown
        assert "fc_kind=" not in shown and "p_fc=0.5" not in shown  # placement none: no site uses them
        assert " 2 runs," in str(app.query_one("#statusline").content)


async def test_details_say_a_launch_name_that_ends_in_the_label_once(runs_dir):
    make_run_folder(runs_dir, "20260101-000001-D-oooo", {"state": "finished", "epoch": 10},
                    config={"preset": "D", "epochs": 10, "dataset": "digits", "label": "D p_fc=0.3 seed=1"})
    (runs_dir / "20260101-000001-D-oooo" / "notes.json").write_text(json.dumps({"name": "sweep D p_fc=0.3 seed=1"}))
    make_run_folder(runs_dir, "20260101-000002-D-pppp", {"state": "finished", "epoch": 10},
                    config={"preset": "D", "epochs": 10, "dataset": "digits", "label": "D p_fc=0.5 seed=1"})
    (runs_dir / "20260101-000002-D-pppp" / "notes.json").write_text(json.dumps({"name": "winner"}))
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        details = app.query_one("#details")
        await until(pilot, lambda: app.query_one(RunsTable).row_count == 2, what="two rows")
        await go_to(pilot, app, "oooo")
        await until(pilot, lambda: "oooo" in details.text.plain)
        assert details.text.plain.splitlines()[1] == "sweep D p_fc=0.3 seed=1"
        await go_to(pilot, app, "pppp")
        await until(pilot, lambda: "pppp" in details.text.plain)
        assert details.text.plain.splitlines()[1] == "winner · D p_fc=0.5 seed=1"  # another name: both

async def test_the_main_view_fits_80x24_and_uses_a_larger_terminal(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(RunsTable)
        await until(pilot, lambda: table.row_count == 11)
        assert app.screen.has_class("narrow")
        assert table.outer_size.width <= 38 and list(table.keys) == ["n", "state", "label", "epoch", "test"]
        columns = sum(table.column_width(k) for k in table.keys)
        assert columns <= table.content_size.width  # no column cut off
        loss, acc = app.query_one("#loss"), app.query_one("#acc")
        assert loss.size.width >= 42 and acc.size.width >= 42  # the charts get the rest, stacked
        assert loss.region.y < acc.region.y and loss.size.height >= 9
        assert app.query_one("#details").size.height >= 4
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: "started" in table.keys, what="the started column")
        assert not app.screen.has_class("narrow")
        assert loss.size.height >= 17 and app.query_one("#details").size.height >= 12
        await pilot.resize_terminal(160, 50)
        await until(pilot, lambda: loss.size.width >= 100, what="wider charts")

async def test_the_key_bar_leads_with_help_and_quit_and_shows_every_key_at_120_columns(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.screen.query_one(KeyBar)
        await until(pilot, lambda: bar.shown, what="the key bar")
        # what README says: at 80 columns the bar ends after R
        assert bar.shown == ["? Help", "q Quit", "n New", "space Mark", "/ Filter", "o Compare", "r Replay",
                             "c Cancel", "R Resume"]
        assert bar.region.bottom == 24 and len(" ".join(bar.shown)) <= 80
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: len(bar.shown) > 9)
        assert bar.shown[9:] == ["e Export", "l Label", "v Evaluate", "t Charts", "L Log"]

async def test_toggle_between_runs_redraws_the_charts_with_whole_epoch_ticks(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"))
        loss = app.query_one("#loss", MetricChart)
        await until(pilot, lambda: loss.points == 10 and loss.ticks, what="the loss chart")
        assert all(isinstance(t, int) for t in loss.ticks) and loss.ticks[0] >= 1 and loss.ticks[-1] == 10
        await pilot.press("k")  # up: the next newer run
        await until(pilot, lambda: app.screen.selected.endswith("bbbb"))
        await pilot.press("j", "up")
        await until(pilot, lambda: app.screen.selected.endswith("bbbb"))
        await pilot.press("x")  # wall-time axis
        await until(pilot, lambda: app.screen.axis == "time")
        await pilot.press("s", "s")
        await until(pilot, lambda: app.screen.smoothing == 0.8)

async def test_a_run_with_wrongly_typed_files_is_shown_not_fatal(fixture_runs, tmp_path):
    odd = make_run_folder(fixture_runs, "20260102-000000-A-odd0",
                          {"state": "finished", "epoch": "3", "best_test_acc": "high", "group": "abc", "error": 7},
                          config={"preset": 5, "epochs": "ten", "placement": ["fc"], "p_fc": "x", "seed": None},
                          metrics='{"epoch": "1", "loss": "x"}\n{"epoch": 2, "loss": 1.0, "test_acc": "0.5"}\n[1]\n'
                                  '{"epoch": 3, "loss": 0.5, "train_acc": 0.4, "test_acc": 0.3, "elapsed": "late"}\n')
    (odd / "summary.json").write_text('{"best_test_acc": [1], "wall_seconds": "long"}')
    (odd / "train.log").write_bytes(b"\xff\xfe binary \x00 log\n")
    app = RecordingConsole(runs_dir=fixture_runs, exports_dir=tmp_path / "ex")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "odd0"))
        await until(pilot, lambda: app.screen.selected.endswith("odd0"))
        await until(pilot, lambda: "corrupt" in app.query_one("#details").text.plain)
        await until(pilot, lambda: app.was_told("odd0 is damaged: corrupt run folder: config.json: preset is 5"))
        await pilot.press("x", "s", "e", "space", position(app, "aaaa"), "space", "o")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.press("escape", "r")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.press("escape", position(app, "odd0"), "c", "R")
        await until(pilot, lambda: app.was_told("nothing to cancel") and app.was_told("resume of"),
                    what=f"two warnings, not {app.told}")
        assert app.is_running

def test_a_crash_that_escapes_exits_non_zero_with_the_error_printed(fixture_runs):
    """Textual sets return_code 1 on an unhandled exception and prints it after leaving the screen; the CLI exits so."""
    driver = textwrap.dedent(f"""
        import sys
        from tui_dropout.console.app import DropoutConsole
        from tui_dropout.console.screens.main import MainScreen

        def boom(self):
            raise RuntimeError("boom from the test driver")

        async def press_help(pilot):
            await pilot.press("question_mark")

        MainScreen.action_help = boom
        run = DropoutConsole.run
        DropoutConsole.run = lambda self, **kw: run(self, headless=True, auto_pilot=press_help)
        sys.argv = ["dropout-tui", "--runs-dir", {str(fixture_runs)!r}]
        from tui_dropout.cli.main import run as cli
        cli()
    """)
    out = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, (out.returncode, out.stderr[-2000:])
    assert "boom from the test driver" in out.stderr

async def test_help_lists_the_keys(runs_dir):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: len(app.screen_stack) == 2)
        assert "replay" in text_of(app.screen.query_one("Static"))

def test_console_starts_without_importing_torch(fixture_runs):
    code = ("import sys, asyncio\nfrom tui_dropout.console.app import DropoutConsole\n"
            "async def main():\n"
            f"    app = DropoutConsole(runs_dir={str(fixture_runs)!r})\n"
            "    async with app.run_test(size=(80, 24)) as pilot:\n"
            "        await pilot.press('down', 'space', 'x')\n"
            "        assert app.screen.axis == 'time'\n"
            "asyncio.run(main())\n"
            "assert 'torch' not in sys.modules, 'torch imported'\nprint('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]

async def test_light_theme_and_small_terminal_redraw_without_error(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"))
        app.theme = "textual-light"
        await until(pilot, lambda: app.query_one("#loss", MetricChart).points == 10)
        await pilot.resize_terminal(160, 50)
        await until(pilot, lambda: not app.screen.has_class("narrow"))


async def test_the_status_line_counts_one_run_in_the_singular(runs_dir):
    make_run_folder(runs_dir, "20260101-000001-D-qqqq", {"state": "finished", "epoch": 10})
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        status = app.query_one("#statusline")
        await until(pilot, lambda: "run" in str(status.content), what="the status line")
        assert str(status.content).startswith(" 1 run, 0 running"), status.content
