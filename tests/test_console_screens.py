"""The console's other screens through the pilot: compare, replay and the dropout inspector."""
import io

from rich.console import Console

from console_helpers import position, text_of
from console_helpers import fixture_runs  # noqa: F401 (a fixture, used by name)
from conftest import until
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.screens.compare import CompareScreen, results_table
from tui_dropout.console.screens.inspector import InspectorScreen
from tui_dropout.console.screens.replay import ReplayScreen
from tui_dropout.console.widgets.charts import MetricChart


# ----- compare, replay, export -------------------------------------------------------------------------------------
async def test_compare_names_runs_of_one_preset_apart_with_final_and_best_and_what_differs(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"), "space", position(app, "eeee"), "space")  # both preset A
        await until(pilot, lambda: len(app.screen.marked) == 2)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        assert screen.mode == "overlay"
        await until(pilot, lambda: screen.query_one("#overlay .loss", MetricChart).points == 14)  # 10 + 4, one chart
        infos = [app.watcher.runs[r].info for r in screen.run_ids]
        out = io.StringIO()
        Console(file=out, width=80, color_system=None).print(results_table(infos))
        lines = out.getvalue().splitlines()
        assert all(len(line) <= 80 for line in lines) and not any("…" in line for line in lines)
        # both are labelled A (lone runs): told apart by their id tails
        rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in ("A·aaaa", "A·eeee")}
        assert set(rows) == {"A·aaaa", "A·eeee"}
        assert "95.0@10" in rows["A·aaaa"] and "60.0@8" in rows["A·aaaa"] and " 58.0 " in rows["A·aaaa"]
        assert "p_fc: 0.5 | 0.3" in text_of(screen.query_one("#diff"))  # what differs, in launch order
        await pilot.press("o")
        await until(pilot, lambda: screen.mode == "side-by-side" and screen.query_one("#side").display)
        assert sorted(c.points for c in screen.query("#side .loss")) == [4, 10]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, CompareScreen))

async def test_replay_plays_pauses_steps_and_changes_speed(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"), "space", position(app, "bbbb"), "space", "r")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        screen = app.screen
        assert screen.last == 10
        # home pauses at epoch 1 wherever it is (it may have played to the end already); then 2 epochs/s
        await pilot.press("home", "minus", "minus")
        assert screen.paused and screen.epoch == 1 and screen.speed_index == 1
        await pilot.press("space")
        await until(pilot, lambda: screen.epoch >= 2, what="the replay to play")  # five frames an epoch from here
        await pilot.press("space")
        paused_at, frames = screen.epoch, screen.frames
        await until(pilot, lambda: screen.frames >= frames + 3, what="three frames")
        assert screen.paused and screen.epoch == paused_at < 10
        await pilot.press("right")
        assert screen.epoch == paused_at + 1
        await pilot.press("left", "left")
        assert screen.epoch == max(1, paused_at - 1)
        await pilot.press("minus")
        assert screen.speed_index == 0
        assert screen.query_one("#loss", MetricChart).points == 2 * screen.epoch
        await pilot.press("space", *["plus"] * 7)  # play on to the end at 200 epochs/s
        await until(pilot, lambda: screen.epoch == 10 and screen.paused, what="the end")

async def test_compare_and_replay_smooth_their_own_charts(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        main = app.screen
        await pilot.press(position(app, "aaaa"), "space", position(app, "bbbb"), "space", "o")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.press("s", "s")
        assert app.screen.smoothing == 0.8 and main.smoothing == 0.0
        await pilot.press("S", "escape", "r")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.press("s")
        assert app.screen.smoothing == 0.5
        await pilot.press("n", "space", "e")  # main-view keys do nothing while replay is on top
        assert isinstance(app.screen, ReplayScreen) and len(main.marked) == 2

# ----- the dropout inspector ---------------------------------------------------------------------------------------
async def test_inspector_scrolls_redraws_only_the_mask_and_explains_bad_input(runs_dir):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, InspectorScreen))
        screen = app.screen
        out, scroll = screen.query_one("#out"), screen.query_one("#scroll")
        await until(pilot, lambda: screen.torch_ready and "zeroed" in text_of(out), timeout=60, what="torch")
        text = text_of(out)
        assert "1/(1-p) = 2.000" in text and "scaled by 2.000" in text
        # the default shape's output is taller than the screen: it scrolls, by keyboard too
        await until(pilot, lambda: scroll.max_scroll_y > 0)
        await pilot.press("pagedown")
        await until(pilot, lambda: scroll.scroll_y > 0, what="a scroll")
        # a new mask keeps the input
        await pilot.press("ctrl+o")  # randn input
        await until(pilot, lambda: "of randn" in text_of(out))
        before = text_of(out)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "mask #1" in text_of(out))
        after = text_of(out)
        part = lambda s, name: s.split(f"\n{name}\n")[1].split("\n\n")[0]  # noqa: E731
        assert part(before, "input") == part(after, "input") and part(before, "output") != part(after, "output")
        # an empty or bad p is explained, not a Python message
        screen.query_one("#p").value = ""
        await until(pilot, lambda: "p: enter a number in [0, 1]" in text_of(out))
        screen.query_one("#p").value = "0.5"
        screen.query_one("#shape").value = "2,a"
        await until(pilot, lambda: "shape: enter 1 to 5 positive whole sizes" in text_of(out))
        # Dropout2d on a 1-D input: torch 2.x warns, then refuses ("Feature dropout requires at least 2 dimensions")
        screen.query_one("#kind").value = "dropout2d"
        screen.query_one("#shape").value = "5"
        await until(pilot, lambda: "RuntimeError" in text_of(out))
        assert "at least 2 dimensions" in text_of(out)
        screen.query_one("#shape").value = "2,3,4,4"
        await until(pilot, lambda: "zeroed" in text_of(out))
        await pilot.press("ctrl+t")  # evaluation: identity
        await until(pilot, lambda: "zeroed: 0.0%" in text_of(out))
