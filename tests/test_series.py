"""Chart series: EMA with bias correction, downsampling, the x-axis, replay (upto), resumed runs and NaN rows."""
from __future__ import annotations

import math

import plotext
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_dropout.series import (MAX_POINTS, SMOOTHING_LEVELS, RunSeries, downsample, ema, plottable,
                                step_smoothing)

NAN = math.nan


def rows(epochs, acc_every=2, loss=lambda e: 2.0 / e, seconds=1.5, elapsed=True):
    out = []
    for e in epochs:
        row = {"epoch": e, "loss": loss(e), "lr": 0.01, "seconds": seconds}
        if elapsed:
            row["elapsed"] = 2.0 * e
        if e % acc_every == 0:
            row.update(train_acc=0.05 * e, test_acc=0.04 * e)
        out.append(row)
    return out


def series_of(*batches) -> RunSeries:
    s = RunSeries()
    for batch in batches:
        s.add(batch)
    return s


# ----- EMA -----------------------------------------------------------------------------------------------------
def test_ema_is_bias_corrected():
    # without the correction the first point would be (1 - alpha) * v: a curve that starts near zero
    assert ema([4.0], 0.9) == [pytest.approx(4.0)]
    assert ema([5.0] * 50, 0.99) == pytest.approx([5.0] * 50)
    a, xs = 0.8, [1.0, 3.0, 2.0]
    acc, weight, expected = 0.0, 0.0, []
    for x in xs:
        acc, weight = a * acc + (1 - a) * x, a * weight + (1 - a)
        expected.append(acc / weight)
    assert ema(xs, a) == pytest.approx(expected)
    assert expected[1] == pytest.approx((0.8 * 0.2 * 1 + 0.2 * 3) / (0.8 * 0.2 + 0.2))


def test_ema_zero_is_the_raw_values_and_nothing_is_lost():
    xs = [3.0, 1.0, 2.0]
    assert ema(xs, 0.0) == xs and ema(xs, 0.0) is not xs
    assert ema([], 0.9) == []
    assert ema(xs, 1.0) == xs  # all weight on a past that does not exist: shown raw rather than divided by 0


def test_ema_keeps_a_nan_as_a_gap_without_poisoning_what_follows():
    out = ema([1.0, NAN, 3.0, math.inf, 5.0], 0.5)
    assert out[0] == 1.0 and math.isnan(out[1]) and math.isinf(out[3])
    assert out[2] == pytest.approx((0.5 * 0.5 * 1 + 0.5 * 3) / 0.75) and math.isfinite(out[4])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6) | st.just(NAN), max_size=40), st.sampled_from(SMOOTHING_LEVELS))
def test_ema_stays_within_the_range_of_its_inputs(values, alpha):
    out = ema(values, alpha)
    assert len(out) == len(values)
    finite = [v for v in values if math.isfinite(v)]
    for v, o in zip(values, out):
        assert math.isnan(o) == math.isnan(v)
        if finite and math.isfinite(o):
            assert min(finite) - 1e-6 <= o <= max(finite) + 1e-6


def test_step_smoothing_walks_the_levels_and_stops_at_the_ends():
    assert step_smoothing(0.0, 1) == 0.5 and step_smoothing(0.5, -1) == 0.0
    assert step_smoothing(0.0, -1) == 0.0 and step_smoothing(0.99, 1) == 0.99
    assert step_smoothing(0.93, 1) == 0.95 and step_smoothing(0.93, -1) == 0.9  # from between two levels
    assert step_smoothing(0.93, 0) == 0.95


# ----- downsampling --------------------------------------------------------------------------------------------
def test_downsample_leaves_short_series_alone():
    xs, ys = [1, 2, 3], [4.0, 5.0, 6.0]
    assert downsample(xs, ys, 3) == (xs, ys)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 5000), st.integers(1, 1200))
def test_downsample_keeps_first_and_last_and_at_most_n(n, limit):
    xs = list(range(n))
    ys = [float(x) * 2 for x in xs]
    dx, dy = downsample(xs, ys, limit)
    assert len(dx) == len(dy) == min(n, limit)
    assert dy == [2.0 * x for x in dx]  # pairs stay together
    assert dx == sorted(set(dx))  # a subset, in order, no repeats
    if n:
        assert dx[-1] == n - 1 and (dx[0] == 0 or limit == 1)


def test_downsample_is_evenly_strided():
    dx, _ = downsample(list(range(10_001)), [0.0] * 10_001, 101)
    assert dx == list(range(0, 10_001, 100))
    assert len(downsample(list(range(1500)), [0.0] * 1500)[0]) == MAX_POINTS  # 1001 before the fix
    assert downsample([1, 2, 3], [1.0, 2.0, 3.0], 1) == ([3], [3.0])
    assert downsample([1, 2, 3], [1.0, 2.0, 3.0], 0) == ([], [])


# ----- the series ----------------------------------------------------------------------------------------------
def test_x_axis_is_epochs_or_minutes():
    s = series_of(rows(range(1, 5)))
    assert s.x("epoch") == [1, 2, 3, 4] and s.acc_x("epoch") == [2, 4]
    assert s.x("time") == pytest.approx([2 / 60, 4 / 60, 6 / 60, 8 / 60])
    assert s.acc_x("time") == pytest.approx([4 / 60, 8 / 60])
    assert s.train_acc == pytest.approx([10.0, 20.0]) and s.test_acc == pytest.approx([8.0, 16.0])  # percent


def test_time_without_elapsed_adds_up_each_epochs_seconds():
    s = series_of(rows(range(1, 4), elapsed=False, seconds=30.0))
    assert s.elapsed == [30.0, 60.0, 90.0] and s.x("time") == [0.5, 1.0, 1.5]
    s.add([{"epoch": 4, "loss": 1.0, "elapsed": None, "seconds": NAN}, {"epoch": 5, "loss": 1.0, "seconds": -3}])
    assert s.elapsed[-2:] == [90.0, 90.0]  # never NaN, never backwards: the time axis has no holes


def test_upto_is_the_series_as_it_stood_at_an_epoch():
    s = series_of(rows(range(1, 11)))
    assert s.upto(0).epochs == [] and s.upto(0).acc_epochs == []
    mid = s.upto(5)
    assert mid.epochs == [1, 2, 3, 4, 5] and mid.acc_epochs == [2, 4]
    assert mid.loss == s.loss[:5] and mid.elapsed == s.elapsed[:5] and mid.test_acc == s.test_acc[:2]
    assert s.upto(99).epochs == s.epochs
    mid.loss.append(0.0)
    assert len(s.loss) == 10  # a copy: replay frames never change the series


def test_rows_of_a_resumed_run_replace_rather_than_duplicate():
    s = series_of(rows(range(1, 7)))  # epochs 1..6 written, then a resume from the checkpoint at epoch 4
    s.add(rows(range(5, 9), loss=lambda e: 10.0 + e))
    assert s.epochs == [1, 2, 3, 4, 5, 6, 7, 8]
    assert s.loss[4:] == [15.0, 16.0, 17.0, 18.0] and s.loss[:4] == [2.0, 1.0, 2 / 3, 0.5]
    assert s.acc_epochs == [2, 4, 6, 8] and len(s.test_acc) == len(s.train_acc) == len(s.acc_elapsed) == 4
    s.add(rows([3]))  # back further than any acc point
    assert s.epochs == [1, 2, 3] and s.acc_epochs == [2]
    s.add(rows([3, 4]))  # the same rows again: still one of each
    assert s.epochs == [1, 2, 3, 4] and s.acc_epochs == [2, 4]


def test_nan_rows_are_gaps_and_missing_accuracies_are_not_zero():
    s = series_of([{"epoch": 1, "loss": NAN, "elapsed": 1.0},
                   {"epoch": 2, "loss": None, "elapsed": 2.0, "test_acc": 0.5},  # train_acc missing
                   {"epoch": 3, "loss": math.inf, "elapsed": 3.0, "train_acc": NAN, "test_acc": None},
                   {"epoch": 4, "loss": 1.0, "elapsed": 4.0}])
    assert s.epochs == [1, 2, 3, 4]
    assert [math.isnan(v) for v in s.loss] == [True, True, True, False]
    assert s.acc_epochs == [2] and math.isnan(s.train_acc[0]) and s.test_acc == [50.0]


def test_rows_that_are_not_metric_rows_are_skipped():
    s = series_of([{"epoch": "3", "loss": 1.0}, {"epoch": 1, "loss": "1.0"}, {"epoch": True}, {"epoch": 0},
                   {"loss": 1.0}, ["epoch", 1], None, {"epoch": 2.0}, {"epoch": 1, "loss": 10**400},
                   {"epoch": 2, "loss": 1.0}])
    assert s.epochs == [2] and s.loss == [1.0]


def test_values_a_chart_cannot_draw_become_gaps():
    assert math.isnan(plottable(1e308)) and math.isnan(plottable(-1e305)) and math.isnan(plottable(10**400))
    assert plottable(1e-310) == 0.0 and plottable(5e-324) == 0.0 and plottable(-0.25) == -0.25
    assert math.isnan(plottable("1")) and math.isnan(plottable(True)) and math.isnan(plottable(None))
    s = series_of([{"epoch": 1, "loss": 1e308, "elapsed": 1e308, "test_acc": 1e299}])  # 1e301 as percent
    assert math.isnan(s.loss[0]) and s.elapsed == [0.0] and math.isnan(s.test_acc[0])


def test_clear_empties_every_list():
    s = series_of(rows(range(1, 5)))
    s.clear()
    assert all(v == [] for v in vars(s).values() if isinstance(v, list)) and s.width == s.acc_width == 1


number = st.one_of(st.none(), st.floats(), st.integers(-10**6, 10**6), st.sampled_from([10**400, "x", True]))
any_row = st.one_of(
    st.fixed_dictionaries({"epoch": st.integers(-2, 30)},
                          optional={k: number for k in ("loss", "train_acc", "test_acc", "elapsed", "seconds")}),
    st.dictionaries(st.sampled_from(["epoch", "loss", "test_acc"]), number | st.text(max_size=3), max_size=3),
    st.none(), st.integers(), st.text(max_size=5),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(any_row, max_size=12), max_size=4), st.sampled_from(SMOOTHING_LEVELS),
       st.sampled_from(["epoch", "time"]), st.integers(0, 40))
def test_any_rows_give_a_series_every_chart_can_draw(batches, alpha, axis, replay_at):
    s = series_of(*batches)
    assert s.epochs == sorted(set(s.epochs)) and s.acc_epochs == sorted(set(s.acc_epochs))
    assert set(s.acc_epochs) <= set(s.epochs)
    assert len(s.epochs) == len(s.elapsed) == len(s.loss)
    assert len(s.acc_epochs) == len(s.acc_elapsed) == len(s.train_acc) == len(s.test_acc)
    assert all(math.isfinite(t) for t in s.elapsed) and s.elapsed == sorted(s.elapsed) or any(
        isinstance(r, dict) and "elapsed" in r for b in batches for r in b)  # a row's own elapsed is trusted
    frame = s.upto(replay_at)
    for xs, ys in ((frame.x(axis), frame.loss), (frame.acc_x(axis), frame.test_acc),
                   (frame.acc_x(axis), frame.train_acc)):
        xs, ys = downsample(xs, ema(ys, alpha), 40)
        plotext.clear_figure()
        if xs:
            plotext.plot(xs, ys)
        plotext.plotsize(40, 10)
        plotext.build()
