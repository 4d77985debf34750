"""`o`: the marked runs compared: overlaid on one chart per metric, or side by side on the same axes."""
from __future__ import annotations

import math

from rich import box
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from ...export import config_differences, number_text, results_row, seconds_text
from ...series import RunSeries, step_smoothing
from ...store import RunInfo
from ...watch import RunsWatcher
from ..labels import acc, acc_at, epochs_text, short_ids, state_text
from ..widgets.charts import MetricChart
from ..widgets.key_bar import KeyBar


SMOOTH = Binding.Group("smooth")


def shared_limits(series: list[RunSeries], axis: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """One x range and one loss range for every pane, so side-by-side panes compare by eye."""
    xs = [x for s in series for x in s.x(axis)] or [1.0]
    losses = [v for s in series for v in s.loss if math.isfinite(v)] or [0.0, 1.0]
    lo, hi = min(losses), max(losses)
    return (min(xs), max(max(xs), min(xs) + 1)), (lo, hi if hi > lo else lo + 1)


def results_table(infos: list[RunInfo]) -> Table:
    """The seed's table, one row per run: final and best (with its epoch) accuracy, final loss, time.

    Runs are named by the shortest id tail that tells them apart; two-line headers keep it within 80 columns."""
    names = short_ids([i.run_id for i in infos])
    # no padding: the box puts one space between columns
    table = Table(box=box.SIMPLE_HEAD, padding=0, expand=False, show_edge=False)
    for header in ("run", "preset", "state", "epoch"):
        table.add_column(header, no_wrap=True)
    for header in ("final\ntrain%", "best\ntrain%", "final\ntest%", "best\ntest%", "final\nloss", "time"):
        table.add_column(header, justify="right", no_wrap=True)
    for info in infos:
        row = results_row(info)
        table.add_row(names[info.run_id], str(row["preset"]), state_text(info),
                      epochs_text(row["epoch"], row["epochs"]),
                      acc(row["final_train_acc"]), acc_at(row["best_train_acc"], row["best_train_epoch"]),
                      acc(row["final_test_acc"]), acc_at(row["best_test_acc"], row["best_test_epoch"]),
                      number_text(row["final_loss"], ".4f"), seconds_text(row["wall_seconds"]))
    return table


class CompareScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("o", "toggle_mode", "Overlay/side"),
                Binding("x", "toggle_axis", "Axis"), Binding("s", "smooth(1)", "Smooth+", group=SMOOTH),
                Binding("S", "smooth(-1)", "Smooth-", group=SMOOTH), Binding("q", "app.pop_screen", "Back", show=False)]
    DEFAULT_CSS = """
    CompareScreen .charts { height: 1fr; min-height: 8; }
    CompareScreen .charts Vertical { width: 1fr; }
    CompareScreen #lower { height: auto; max-height: 40%; }
    CompareScreen #results { height: auto; }
    CompareScreen #diff { height: auto; padding: 0 1; }
    """

    def __init__(self, run_ids: list[str], watcher: RunsWatcher, axis: str = "epoch", smoothing: float = 0.0,
                 mode: str = "overlay"):
        super().__init__()
        self.run_ids = run_ids
        self.watcher = watcher
        self.axis = axis
        self.smoothing = smoothing
        self.mode = mode
        self._seen: tuple | None = None

    def compose(self) -> ComposeResult:
        # both layouts are built once and one is shown: switching mounts nothing, so a quick o o o cannot race
        yield Static("", id="title")
        with Horizontal(id="overlay", classes="charts"):
            yield MetricChart("loss", classes="loss")
            yield MetricChart("accuracy", classes="acc")
        with Horizontal(id="side", classes="charts"):
            for _ in self.run_ids:
                with Vertical():
                    yield MetricChart("loss", classes="loss")
                    yield MetricChart("accuracy", classes="acc")
        with VerticalScroll(id="lower"):  # the table, then the differing fields: scrolls when they are many
            yield Static("", id="results")
            yield Static("", id="diff")
        yield KeyBar(self.BINDINGS)

    def on_mount(self) -> None:
        self.show_mode()
        self.refresh_tables()
        self._seen = self.progress()
        self.set_interval(1.0, self.tick)

    def show_mode(self) -> None:
        self.query_one("#overlay").display = self.mode == "overlay"
        self.query_one("#side").display = self.mode != "overlay"
        self.draw()

    def named(self) -> list[tuple[str, RunSeries]]:
        out = []
        names = short_ids(self.run_ids)
        for run_id in self.run_ids:
            watched = self.watcher.runs.get(run_id)
            out.append((f"{watched.info.preset}·{names[run_id]}" if watched else run_id, self.watcher.series(run_id)))
        return out

    def draw(self) -> None:
        named = self.named()
        self.query_one("#title", Static).update(
            f"[b]compare[/b] {len(named)} runs, {self.mode.replace('-', ' ')}; o switches, x: {self.axis}, esc back")
        if self.mode == "overlay":
            self.query_one("#overlay .loss", MetricChart).draw(named, self.axis, self.smoothing)
            self.query_one("#overlay .acc", MetricChart).draw(named, self.axis, self.smoothing)
            return
        xlim, loss_lim = shared_limits([s for _, s in named], self.axis)
        panes = zip(named, self.query("#side .loss"), self.query("#side .acc"))
        for i, ((name, series), loss, acc) in enumerate(panes):
            loss.draw([(name, series)], self.axis, self.smoothing, xlim, loss_lim, title=f"{name} loss",
                      palette_start=i)
            acc.draw([(name, series)], self.axis, self.smoothing, xlim, (0, 100), title=f"{name} accuracy %",
                     palette_start=i)

    def refresh_tables(self) -> None:
        infos = [w.info for w in (self.watcher.runs.get(i) for i in self.run_ids) if w is not None]
        self.query_one("#results", Static).update(results_table(infos))
        diffs = config_differences(infos)
        lines = ["[b]config fields that differ[/b]"] + [
            f"{k}: " + " | ".join(str(v) for v in values) for k, values in diffs.items()]
        self.query_one("#diff", Static).update("\n".join(lines) if diffs else "configs are identical")

    def progress(self) -> tuple:
        return tuple((len(s.epochs), w.info.state, w.info.epoch) if w else None
                     for w, s in ((self.watcher.runs.get(r), self.watcher.series(r)) for r in self.run_ids))

    def tick(self) -> None:
        """Redraw when a run moved on (charts are costly to build; most compared runs have ended)."""
        seen = self.progress()
        if seen != self._seen:
            self._seen = seen
            self.draw()
            self.refresh_tables()

    def action_toggle_mode(self) -> None:
        self.mode = "side-by-side" if self.mode == "overlay" else "overlay"
        self.show_mode()

    def action_toggle_axis(self) -> None:
        self.axis = "time" if self.axis == "epoch" else "epoch"
        self.draw()

    def action_smooth(self, delta: int) -> None:
        self.smoothing = step_smoothing(self.smoothing, delta)
        self.draw()
