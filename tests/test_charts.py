"""The chart registry: every chart from a run's series (lr, epoch time, gap included), seed groups for every chart,
log scale, "no <metric> recorded", and the `k` picker whose choice the main view, compare and replay share."""
import json
import math
import time

import pytest

from conftest import make_run_folder, until
from tui_dropout import charts as registry
from tui_dropout.charts import CHARTS, Chart, ChartChoice, Line, chart, log_ticks, log_values
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.group_series import band
from tui_dropout.console.dialogs.chart_picker import ChartPickerScreen
from tui_dropout.console.screens.compare import CompareScreen
from tui_dropout.console.screens.replay import ReplayScreen
from tui_dropout.console.widgets.charts import MetricChart, chart_choice, value_range
from tui_dropout.series import RunSeries

NAN = math.nan


def rows(n, lr=True, acc_every=2, loss0=2.0):
    out = []
    for e in range(1, n + 1):
        row = {"epoch": e, "loss": loss0 / e, "seconds": 0.5 + e / 10, "elapsed": 0.6 * e}
        if lr:
            row["lr"] = 0.1 if e <= n // 2 else 0.01
        if e % acc_every == 0 or e == n:
            row.update(train_acc=min(1.0, 0.1 * e), test_acc=min(0.9, 0.08 * e))
            row.update({"act_mean.conv1": 0.5 / e, "act_mean.fc1": 1.0 / e, "sparsity.conv1": 0.4,
                        "sparsity.fc1": 0.5 + 0.01 * e, "wnorm.conv1": 3.0 + e, "wnorm.fc1": 5.0 + e})
        out.append(row)
    return out


def series_of(*batches):
    s = RunSeries()
    for batch in batches:
        s.add(batch)
    return s


# ----- the registry and the series it draws from -------------------------------------------------------------
def test_every_chart_draws_lists_a_run_series_has_and_the_defaults_exist():
    s = series_of(rows(6))
    for spec in CHARTS.values():
        assert spec.lines_for(s) and spec.metric and spec.title
        for line in spec.lines_for(s):
            assert len(line.xs(s, "epoch")) == len(line.ys(s)) == len(line.xs(s, "time")) > 0, spec.key
        assert spec.has_data(s), spec.key
    assert set(registry.DEFAULT_PANES) <= set(CHARTS)
    assert chart("no-such-chart").key == "loss"  # an unknown saved choice falls back, never a crash


def test_lr_seconds_and_gap_follow_the_rows():
    s = series_of(rows(4))
    assert s.lr == [0.1, 0.1, 0.01, 0.01] and s.seconds == pytest.approx([0.6, 0.7, 0.8, 0.9])
    assert s.acc_epochs == [2, 4]
    assert s.gap == pytest.approx([(0.2 - 0.16) * 100, (0.4 - 0.32) * 100])  # train minus test, points
    # one accuracy alone: the row is kept, its gap is a gap
    t = series_of([{"epoch": 1, "loss": 1.0, "train_acc": 0.5}, {"epoch": 2, "loss": 1.0, "lr": None}])
    assert t.acc_epochs == [1] and math.isnan(t.gap[0]) and t.train_acc == [50.0] and math.isnan(t.lr[1])


def test_a_resume_replaces_every_list_from_its_epoch_and_upto_cuts_them_all():
    s = series_of(rows(6), rows(6, loss0=9.0)[3:])  # back to epoch 4
    assert s.epochs == [1, 2, 3, 4, 5, 6] and len(s.lr) == len(s.seconds) == 6 and s.loss[3] == 9.0 / 4
    assert s.acc_epochs == [2, 4, 6] and len(s.gap) == len(s.train_acc) == 3
    frame = s.upto(3)
    assert frame.epochs == [1, 2, 3] and frame.lr == s.lr[:3] and frame.seconds == s.seconds[:3]
    assert frame.acc_epochs == [2] and frame.gap == s.gap[:1]
    frame.lr.append(1.0)
    assert len(s.lr) == 6  # a copy
    s.clear()
    assert s.lr == [] and s.gap == [] and s.seconds == []


def test_a_seed_group_has_a_mean_and_spread_for_every_chart():
    a, b = series_of(rows(4)), series_of(rows(4, loss0=4.0))
    b.seconds[:] = [v + 1 for v in b.seconds]
    g = band([a, b])
    for spec in CHARTS.values():
        first = spec.lines_for(g.mean)[0]
        mean = first.ys(g.mean)
        assert len(mean) == len(first.xs(g.mean, "epoch")) > 0, spec.key
        want = [(x + y) / 2 for x, y in zip(first.ys(a), first.ys(b))]
        assert mean == pytest.approx(want), spec.key
    assert g.high.seconds[0] - g.low.seconds[0] == pytest.approx(2 * math.sqrt(0.5))  # ±1 std of {0.6, 1.6}


def test_log_values_and_ticks_in_real_units():
    assert [v if math.isfinite(v) else None for v in log_values([10.0, 0.0, -2.0, NAN, 0.01])] == [1.0, None, None,
                                                                                                None, -2.0]
    # over four decades: the powers of ten
    assert [label for _, label in log_ticks(math.log10(0.0003), math.log10(2.0))] == ["0.001", "0.01", "0.1", "1"]
    # within a decade and a bit: 1-2-5 steps, at their log10 positions
    ticks = log_ticks(math.log10(0.15), math.log10(2.3))
    assert [label for _, label in ticks] == ["0.2", "0.5", "1", "2"]
    assert ticks[1][0] == pytest.approx(math.log10(0.5))
    assert len(log_ticks(-30, 30)) <= 6 and log_ticks(NAN, 1.0) == []
    assert [label for _, label in log_ticks(0.1, 0.2)] == ["1.26", "1.58"]  # between two steps: the ends


def test_value_ranges():
    a, b = series_of(rows(4)), series_of(rows(2, loss0=8.0))
    assert value_range([("a", a), ("b", b)], chart("loss")) == (0.5, 8.0)
    assert value_range([("a", a)], chart("accuracy")) == (16.0, 40.0)  # the data's range
    assert value_range([("a", a)], chart("accuracy"), full=True) == (0, 100)  # z: the whole range
    assert value_range([("a", RunSeries())], chart("gap")) is None
    assert ChartChoice().stamp() != ChartChoice(log=True).stamp()


# ----- the widget -------------------------------------------------------------------------------------------
async def test_a_chart_no_run_recorded_says_so_in_one_line_and_log_scale_draws_zeros_as_gaps(runs_dir):
    from textual.app import App

    class One(App):
        def compose(self):
            yield MetricChart("lr", id="c")

    app = One()
    async with app.run_test(size=(60, 16)) as pilot:
        c = app.query_one("#c", MetricChart)
        c.draw([("a", series_of(rows(6, lr=False)))])
        await pilot.pause()
        assert c.empty == "no learning rate recorded" and str(c.render()) == "no learning rate recorded"
        c.draw([("a", series_of(rows(6)))], log=True)
        await pilot.pause()
        assert c.empty == "" and c.points == 6 and c.log_scale
        shown = str(c.render())
        assert "learning rate by epoch, log" in shown and "0.01" in shown and "0.1" in shown  # real-unit ticks
        assert str(c.render()) == shown  # a second render draws the same (plotext's own log scale would not)
        c.metric = "loss"
        zero = series_of([{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.0}, {"epoch": 3, "loss": 0.5}])
        c.draw([("a", zero)], log=True, ylim=(0.0, 1.0))  # log(0) would fail plotext: a gap instead
        await pilot.pause()
        ticks = [line.split("┤")[0].strip() for line in str(c.render()).splitlines() if "┤" in line]
        assert ticks == ["1", "0.5"] and c.points == 3  # the 0 is a gap, not a crash
        c.metric = "gap"  # a chart that allows no log scale ignores it
        c.draw([("a", series_of(rows(6)))], log=True)
        assert not c.log_scale and c.points == 3


async def test_a_new_registry_entry_is_drawn_with_no_other_change(runs_dir, monkeypatch):
    from textual.app import App

    spec = Chart("loss_x10", "loss x10", "", "tenfold loss", (Line(lambda s: [10 * v for v in s.loss], base="epoch"),))
    monkeypatch.setitem(CHARTS, spec.key, spec)

    class One(App):
        def compose(self):
            yield MetricChart("loss_x10", id="c")

    async with One().run_test(size=(60, 16)) as pilot:
        c = pilot.app.query_one("#c", MetricChart)
        c.draw([("a", series_of(rows(5))), ("b", series_of(rows(3)))])
        await pilot.pause()
        assert c.points == 8 and "tenfold" not in str(c.render())
        group = band([series_of(rows(5)), series_of(rows(5, loss0=4.0))])
        c.draw([("g", group)])
        assert c.points == 15  # the mean and its two spread lines


# ----- the console ------------------------------------------------------------------------------------------
POLL = 0.02




@pytest.fixture
def two_runs(runs_dir):
    t = time.time()
    make_run_folder(runs_dir, "20260101-000001-A-aaaa", {"state": "finished", "epoch": 10, "created": t - 60},
                    metrics="".join(json.dumps(r) + "\n" for r in rows(10)))
    make_run_folder(runs_dir, "20260101-000002-B-bbbb", {"state": "finished", "epoch": 6, "created": t - 50},
                    config={"preset": "B", "epochs": 6, "placement": "fc", "p_fc": 0.3, "dataset": "digits"},
                    metrics="".join(json.dumps(r) + "\n" for r in rows(6, lr=False)))
    return runs_dir


def panes(screen, selector="MetricChart"):
    return list(screen.query(selector).results(MetricChart))


def position(app, suffix):
    """The 1-9 key of the run whose id ends with suffix."""
    return str(next(n for n, i in enumerate(app.watcher.ordered(), 1) if i.run_id.endswith(suffix)))


async def test_t_picks_the_charts_that_main_compare_and_replay_all_show(two_runs):
    app = DropoutConsole(runs_dir=two_runs)
    async with app.run_test(size=(100, 30)) as pilot:
        main = app.screen
        upper, lower = panes(main)
        await pilot.press(position(app, "aaaa"))
        await until(pilot, lambda: main.selected.endswith("aaaa") and upper.points == 10, what="the loss chart")
        assert (upper.metric, lower.metric) == ("loss", "accuracy")
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ChartPickerScreen), what="the picker")
        picker = app.screen
        keys = list(CHARTS)
        # upper pane: learning rate; tab to the lower pane: the generalisation gap
        await pilot.press(*["down"] * (keys.index("lr") - keys.index("loss")), "enter")
        await pilot.press("tab", *["down"] * (keys.index("gap") - keys.index("accuracy")), "enter")
        assert chart_choice(app).panes == ["lr", "gap"]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main, what="back to the main view")
        assert picker.changed
        await until(pilot, lambda: (upper.metric, lower.metric) == ("lr", "gap") and lower.points == 5,
                    what="the panes redrawn")
        assert upper.points == 10 and "learning rate" in str(upper.render())
        # the run without lr says so in one line
        await pilot.press(position(app, "bbbb"))
        await until(pilot, lambda: main.selected.endswith("bbbb"))
        await until(pilot, lambda: upper.empty == "no learning rate recorded", what="the no-lr line")
        assert lower.points == 3 and not lower.empty
        # compare and replay draw the same charts
        await pilot.press("space", position(app, "aaaa"), "space", "o")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        compare = app.screen
        overlay = panes(compare, "#overlay MetricChart")
        await until(pilot, lambda: overlay[1].points == 8, what="the overlaid gaps")
        assert [c.metric for c in overlay] == ["lr", "gap"] and overlay[0].points == 10  # one run has lr
        await pilot.press("o")
        await until(pilot, lambda: sorted(c.points for c in panes(compare, "#side .acc")) == [3, 5])
        assert sorted(c.empty for c in panes(compare, "#side .loss")) == ["", "no learning rate recorded"]
        await pilot.press("t")  # the picker from compare: its choice is the session's
        await until(pilot, lambda: isinstance(app.screen, ChartPickerScreen))
        await pilot.press("home", "enter", "escape")  # upper pane back to loss
        await until(pilot, lambda: app.screen is compare and all(c.metric == "loss"
                                                                 for c in panes(compare, "#side .loss")))
        await until(pilot, lambda: sorted(c.points for c in panes(compare, "#side .loss")) == [6, 10])
        await pilot.press("escape", "r")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen), what="replay")
        replay = app.screen
        assert [c.metric for c in panes(replay)] == ["loss", "gap"]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main and upper.metric == "loss", what="main follows the choice")


async def test_y_puts_the_loss_chart_on_a_log_scale_everywhere(two_runs):
    app = DropoutConsole(runs_dir=two_runs)
    async with app.run_test(size=(100, 30)) as pilot:
        main = app.screen
        upper, lower = panes(main)
        await until(pilot, lambda: upper.points > 0, what="the charts")
        await pilot.press("y")
        await until(pilot, lambda: upper.log_scale, what="a log loss chart")
        assert not lower.log_scale  # accuracy has a fixed 0-100 scale
        assert "log" in str(upper.render()).split("\n", 1)[0]  # the title says so
        await pilot.press("space", position(app, "aaaa"), "space", "o")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await until(pilot, lambda: panes(app.screen, "#overlay .loss")[0].log_scale)
        await pilot.press("y")  # off again, for the whole session
        await until(pilot, lambda: not panes(app.screen, "#overlay .loss")[0].log_scale)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main and not upper.log_scale)


def test_a_linear_axis_follows_the_data_with_evenly_spaced_ticks():
    (lo, hi), ticks = registry.linear_axis(10.0, 24.0, 4, (0, 100))
    assert (lo, hi) == (10, 25) and ticks == [10, 15, 20, 25]
    (lo, hi), ticks = registry.linear_axis(0.04, 2.30, 5)
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1 and lo <= 0.04 and hi >= 2.30  # one step, the data inside
    assert registry.linear_axis(97.5, 100.0, 5, (0, 100))[0][1] == 100  # never past the bound


async def test_accuracy_follows_the_data_and_z_shows_all_of_0_to_100_everywhere(runs_dir):
    climb = [{"epoch": e, "loss": 2.3 - e / 10, "train_acc": 0.10 + e / 100, "test_acc": 0.10 + e / 150}
             for e in range(1, 21)]  # 11% to 30%: one or two rows of a 0-100 axis
    make_run_folder(runs_dir, "20260101-000001-A-aaaa", {"state": "finished", "epoch": 20},
                    metrics="".join(json.dumps(r) + "\n" for r in climb))
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        upper, lower = panes(app.screen)
        await until(pilot, lambda: lower.points > 0, what="the charts")
        assert lower.y_ticks[0] >= 10 and lower.y_ticks[-1] <= 35  # the climb fills the pane
        steps = {round(b - a, 6) for a, b in zip(lower.y_ticks, lower.y_ticks[1:])}
        assert len(steps) == 1
        labels = [line.split("┤")[0].strip() for line in str(lower.render()).splitlines() if "┤" in line]
        assert labels and all(label.isdigit() for label in labels)  # whole percentages, no 2.30 / 1.93
        await pilot.press("z")
        await until(pilot, lambda: lower.y_ticks and lower.y_ticks[-1] == 100 and lower.y_ticks[0] == 0,
                    what="0-100")
        await pilot.press("z")
        await until(pilot, lambda: lower.y_ticks and lower.y_ticks[-1] <= 35, what="the data's range again")
