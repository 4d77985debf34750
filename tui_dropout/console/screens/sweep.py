"""`w`: the study's answer for the selected run's study: the figure against the swept field, one point per group
with its spread over finished seeds (mean, mean±std fainter), the groups' table, and for two swept fields a
table of cells. `f` steps the figure (final test, best test, gap, ECE)."""
from __future__ import annotations

import json
from typing import Any

from rich import box
from rich.console import Group as RenderGroup
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ...charts import linear_axis, tick_label
from ...safetext import safe
from ...store import RunInfo
from ...sweep import SWEEP_FIGURES, Sweep, sweep
from ..widgets.key_bar import KeyBar


def _text(value: Any) -> str:
    return safe(json.dumps(value) if isinstance(value, (dict, list)) else value)


POINTS_TITLE = "each group over its finished seeds: mean±std (n finished/all)"
MOST_VALUE_TICKS = 10  # up to this many swept values, each gets its own x tick


def points_table(found: Sweep, figure: str) -> Table:
    # the titles are lines of their own above the tables (draw): a table's title wraps to the table's width
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), expand=False, show_edge=False)
    for axis in found.axes:
        table.add_column(Text(safe(axis)), no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    names = [n for n in SWEEP_FIGURES if n == figure or any(p.figures[n].n for p in found.points)]
    for name in names:
        table.add_column(SWEEP_FIGURES[name] + ("*" if name == figure else ""), justify="right", no_wrap=True)
    for p in found.points:
        table.add_row(*(Text(_text(p.values[a])) for a in found.axes), p.n_text,
                      *(p.figures[n].text() for n in names))
    return table


def cells_table(found: Sweep, figure: str) -> Table:
    rows, cols, cells = found.cells(figure)
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), expand=False, show_edge=False)
    table.add_column(Text(safe(found.axes[0])), no_wrap=True)
    for col in cols:
        table.add_column(Text(_text(col)), justify="right", no_wrap=True)
    for row in rows:
        out = []
        for col in cols:
            cell = cells.get((row, col))
            out.append("" if cell is None else "-" if cell.mean is None else f"{cell.text()} ({cell.n})")
        table.add_row(Text(_text(row)), *out)
    return table


def numeric(found: Sweep) -> bool:
    return bool(found.axes) and all(isinstance(p.values[found.axes[0]], (int, float))
                                    and not isinstance(p.values[found.axes[0]], bool) for p in found.points)


class SweepScreen(Screen[None]):
    BINDINGS = [Binding("escape,q", "dismiss(None)", "Back", key_display="esc"), Binding("f", "figure", "Figure")]
    DEFAULT_CSS = """
    SweepScreen #sweep-title { height: 1; background: $panel; }
    SweepScreen PlotextPlot { height: 1fr; min-height: 10; }
    SweepScreen #sweep-tables { height: auto; max-height: 50%; }
    """

    def __init__(self, infos: list[RunInfo], study: str):
        super().__init__()
        self.found = sweep(infos)
        self.study = study
        self.figure = "final_test_acc"

    def compose(self) -> ComposeResult:
        yield Static("", id="sweep-title")
        yield PlotextPlot(id="sweep-plot")
        with VerticalScroll(id="sweep-tables"):
            yield Static("", id="sweep-table")
        yield KeyBar(self.BINDINGS)

    def on_mount(self) -> None:
        self.draw()

    def action_figure(self) -> None:
        names = list(SWEEP_FIGURES)
        self.figure = names[(names.index(self.figure) + 1) % len(names)]
        self.draw()

    def draw(self) -> None:
        found, figure = self.found, self.figure
        axes = ", ".join(safe(a) for a in found.axes) or "nothing but the seed"
        self.query_one("#sweep-title", Static).update(
            Text(f" sweep of study {safe(self.study)}: {SWEEP_FIGURES[figure]} against {axes} (f: next figure)"))
        self.plotted = self.plot(found, figure)
        tables = [Text(POINTS_TITLE), points_table(found, figure)] if found.axes else [
            Text("the runs differ in their seed only")]
        if len(found.axes) == 2:
            tables += [Text(f"{SWEEP_FIGURES[figure]}: {safe(found.axes[0])} down, {safe(found.axes[1])} across"),
                       cells_table(found, figure)]
        self.query_one("#sweep-table", Static).update(RenderGroup(*tables))

    def plot(self, found: Sweep, figure: str) -> int:
        """The figure against the first swept field (its values' order, or their place when not numbers): the
        mean solid, mean±std fainter; one line per value of a second field. Returns the points drawn."""
        widget = self.query_one("#sweep-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_figure()
        points = [p for p in found.points if p.figures[figure].mean is not None]
        if not found.axes or not points:
            widget.display = False
            return 0
        widget.display = True
        x_axis, is_number = found.axes[0], numeric(found)
        categories = list(dict.fromkeys(_text(p.values[x_axis]) for p in points))
        lines: dict[str, list] = {}
        for p in points:
            lines.setdefault(", ".join(f"{safe(a)}={_text(p.values[a])}" for a in found.axes[1:]), []).append(p)
        ys_all: list[float] = []
        palette = ("cyan", "orange", "green", "magenta", "red", "blue")
        for i, (name, members) in enumerate(lines.items()):
            xs = [float(p.values[x_axis]) if is_number else categories.index(_text(p.values[x_axis])) + 1
                  for p in members]
            mean = [p.figures[figure].mean * 100 for p in members]
            std = [(p.figures[figure].std or 0.0) * 100 for p in members]
            color = palette[i % len(palette)]
            for sign in (1, -1):
                plt.plot(xs, [m + sign * s for m, s in zip(mean, std)], color="gray", marker="dot")
            plt.plot(xs, mean, color=color, marker="braille", label=name or None)
            plt.scatter(xs, mean, color=color, marker="●")
            ys_all += [m + s for m, s in zip(mean, std)] + [m - s for m, s in zip(mean, std)]
        (lo, hi), ticks = linear_axis(min(ys_all), max(ys_all), 5, (0, 100) if figure != "gap" else None)
        step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
        plt.yticks(ticks, [tick_label(t, step) for t in ticks])
        plt.ylim(lo, hi)
        if not is_number:
            plt.xticks(list(range(1, len(categories) + 1)), categories)
        else:  # ticks on the values swept, not plotext's even steps between them (0.12 for 0.125)
            values = sorted({float(p.values[x_axis]) for p in points})
            if len(values) <= MOST_VALUE_TICKS:
                plt.xticks(values, [f"{v:g}" for v in values])
        plt.title(f"{SWEEP_FIGURES[figure]} against {safe(x_axis)}: mean (solid), ±std (dotted)")
        widget.refresh()
        return len(points)
