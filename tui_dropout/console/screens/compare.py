"""`o`: the marked runs compared: overlaid on one chart per metric, or side by side on the same axes."""
from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...export import config_differences, pct, results_row, seconds_text
from ...series import RunSeries, step_smoothing
from ...watch import RunsWatcher
from ..widgets.charts import MetricChart


def shared_limits(series: list[RunSeries], axis: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """One x range and one loss range for every pane, so side-by-side panes compare by eye."""
    xs = [x for s in series for x in s.x(axis)] or [1.0]
    losses = [v for s in series for v in s.loss if math.isfinite(v)] or [0.0, 1.0]
    lo, hi = min(losses), max(losses)
    return (min(xs), max(max(xs), min(xs) + 1)), (lo, hi if hi > lo else lo + 1)


class CompareScreen(Screen):
    BINDINGS = [("escape", "app.pop_screen", "Back"), ("o", "toggle_mode", "Overlay/side"),
                ("x", "toggle_axis", "x-axis"), ("s", "smooth(1)", "Smooth+"), ("S", "smooth(-1)", "Smooth-"),
                ("q", "app.pop_screen", "Back")]
    DEFAULT_CSS = """
    CompareScreen #charts { height: 1fr; }
    CompareScreen #charts Vertical { width: 1fr; }
    CompareScreen #lower { height: auto; max-height: 12; }
    CompareScreen #results { width: 2fr; height: auto; max-height: 12; }
    CompareScreen #diff { width: 1fr; padding: 0 1; }
    """

    def __init__(self, run_ids: list[str], watcher: RunsWatcher, axis: str = "epoch", smoothing: float = 0.0,
                 mode: str = "overlay"):
        super().__init__()
        self.run_ids = run_ids
        self.watcher = watcher
        self.axis = axis
        self.smoothing = smoothing
        self.mode = mode

    def compose(self) -> ComposeResult:
        yield Static("", id="title")
        yield Horizontal(id="charts")
        with Horizontal(id="lower"):
            yield DataTable(id="results", cursor_type="none")
            yield Static("", id="diff")
        yield Footer()

    async def on_mount(self) -> None:
        table = self.query_one("#results", DataTable)
        table.add_columns("network", "dropout", "state", "epochs", "best train", "best test", "final loss", "time")
        await self.build_charts()
        self.refresh_tables()
        self.set_interval(1.0, self.tick)

    async def build_charts(self) -> None:
        box = self.query_one("#charts", Horizontal)
        await box.remove_children()
        if self.mode == "overlay":
            await box.mount(MetricChart("loss", classes="loss"), MetricChart("accuracy", classes="acc"))
        else:
            panes = [Vertical(MetricChart("loss", classes="loss"), MetricChart("accuracy", classes="acc"))
                     for _ in self.run_ids]
            await box.mount(*panes)
        self.draw()

    def named(self) -> list[tuple[str, RunSeries]]:
        out = []
        for run_id in self.run_ids:
            watched = self.watcher.runs.get(run_id)
            name = watched.info.preset if watched else run_id
            out.append((f"{name}·{run_id[-4:]}", self.watcher.series(run_id)))
        return out

    def draw(self) -> None:
        named = self.named()
        self.query_one("#title", Static).update(
            f"[b]compare[/b] {len(named)} runs, {self.mode.replace('-', ' ')}; o switches, x: {self.axis}, esc back")
        if self.mode == "overlay":
            self.query_one(".loss", MetricChart).draw(named, self.axis, self.smoothing)
            self.query_one(".acc", MetricChart).draw(named, self.axis, self.smoothing)
            return
        xlim, loss_lim = shared_limits([s for _, s in named], self.axis)
        for i, ((name, series), loss, acc) in enumerate(zip(named, self.query(".loss"), self.query(".acc"))):
            loss.draw([(name, series)], self.axis, self.smoothing, xlim, loss_lim, title=f"{name} loss",
                      palette_start=i)
            acc.draw([(name, series)], self.axis, self.smoothing, xlim, (0, 100), title=f"{name} accuracy %",
                     palette_start=i)

    def refresh_tables(self) -> None:
        infos = [w.info for w in (self.watcher.runs.get(i) for i in self.run_ids) if w is not None]
        table = self.query_one("#results", DataTable)
        table.clear()
        for row in map(results_row, infos):
            loss = row["final_loss"]
            table.add_row(row["preset"], row["placement"], row["state"], f"{row['epoch']}/{row['epochs']}",
                          pct(row["best_train_acc"]), pct(row["best_test_acc"]),
                          "-" if loss is None else f"{loss:.4f}", seconds_text(row["wall_seconds"]))
        diffs = config_differences(infos)
        lines = ["[b]config fields that differ[/b]"] + [
            f"{k}: " + " | ".join(str(v) for v in values) for k, values in diffs.items()]
        self.query_one("#diff", Static).update("\n".join(lines) if diffs else "configs are identical")

    def tick(self) -> None:
        self.draw()
        self.refresh_tables()

    async def action_toggle_mode(self) -> None:
        self.mode = "side-by-side" if self.mode == "overlay" else "overlay"
        await self.build_charts()

    def action_toggle_axis(self) -> None:
        self.axis = "time" if self.axis == "epoch" else "epoch"
        self.draw()

    def action_smooth(self, delta: int) -> None:
        self.smoothing = step_smoothing(self.smoothing, delta)
        self.draw()
