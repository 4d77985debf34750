"""`i`: what dropout did inside the network, for the marked runs (or the selected one) side by side, from each
run's inside.json (no new passes): the paper's figure 8 (each hidden unit's mean activation, and every activation,
on the fixed test batch) for one hidden layer at a time, and `f` its figure 7 (the first layer's filters)."""
from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ...filters import filter_images, mosaic, scale_for, zoomed
from ...safetext import safe
from ...store.inside import Filters, Histogram, Inside, Layer
from ..labels import fit_label
from ..widgets.key_bar import KeyBar
from ..widgets.pixels import half_blocks

MAX_RUNS = 4  # columns side by side; more would leave each histogram a few characters wide


def layer_at(inside: Inside, back: int) -> Layer | None:
    """The hidden layer `back` places from the last (1: the last hidden layer), clipped to the run's first."""
    layers = inside.layers
    return layers[max(0, len(layers) - back)] if layers else None


def _pc(value: Any) -> str:
    return f"{value * 100:.0f}%" if isinstance(value, (int, float)) and math.isfinite(value) else "-"


def _num(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) and math.isfinite(value) else "-"


def count_ticks(top: float) -> tuple[list[float], list[str]]:
    """At most six whole-number ticks from 0 to `top`, a step of 1, 2 or 5 x 10^k, written short (300k):
    plotext's own ticks are floats with a decimal (303237.0) and take a fifth of a narrow pane."""
    top = max(float(top), 1.0)
    step = next(m * 10 ** e for e in range(0, 16) for m in (1, 2, 5) if top / (m * 10 ** e) <= 5)
    ticks = [float(step * i) for i in range(int(top // step) + 1)]
    return ticks, [_count(t) for t in ticks]


def _count(n: float) -> str:
    for scale, unit, least in ((1e9, "G", 1e9), (1e6, "M", 1e6), (1e3, "k", 1e4)):
        if n >= least:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.0f}"


def value_ticks(low: float, high: float, n: int = 3) -> tuple[list[float], list[str]]:
    """`n` evenly spaced ticks over a histogram's range, to 3 significant digits: plotext's own print every
    digit of the float (0.0006614294601604343), wider than the tick's room."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low], [_num(low)]
    ticks = [low + (high - low) * i / (n - 1) for i in range(n)]
    return ticks, [_num(t) for t in ticks]


class FilterMosaic(Widget):
    """The first layer's filters as half blocks, zoomed and wrapped to the widget's width."""

    DEFAULT_CSS = "FilterMosaic { height: 1fr; }"

    def __init__(self, filters: Filters | None, **kwargs: Any):
        super().__init__(**kwargs)
        self.filters = filters

    def render(self) -> Text:
        if not self.filters:
            return Text("no filters recorded")
        images = filter_images(self.filters.shape, self.filters.values)
        if not images:
            return Text("no filters recorded")
        columns, lines = max(1, self.size.width), max(1, self.size.height - 1)
        zoom = scale_for(len(images[0][0]), len(images[0]), columns, lines, len(images))
        grid, _ = mosaic([zoomed(img, zoom) for img in images], columns)
        k, c, h, w = self.filters.shape
        head = Text(f"{safe(self.filters.layer)}: {k} filters {c}x{h}x{w}, x{zoom}\n")
        return head + half_blocks(grid[:lines * 2])  # what is below the fold is cut, never wrapped


class InsideScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "Back", key_display="esc"),
        Binding("left,left_square_bracket", "layer(1)", "Earlier layer", key_display="←"),
        Binding("right,right_square_bracket", "layer(-1)", "Later layer", key_display="→"),
        Binding("f", "filters", "Filters"),
        Binding("y", "log_counts", "Log counts"),
    ]
    DEFAULT_CSS = """
    InsideScreen #inside-title { height: 1; background: $panel; }
    InsideScreen #inside-note { height: auto; color: $text-muted; }
    InsideScreen #inside-cols { height: 1fr; }
    InsideScreen .inside-col { width: 1fr; height: 1fr; }
    InsideScreen .inside-head { height: 2; padding-right: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    InsideScreen PlotextPlot { height: 1fr; min-height: 5; }
    InsideScreen FilterMosaic { display: none; }
    InsideScreen.filters FilterMosaic { display: block; }
    InsideScreen.filters PlotextPlot { display: none; }
    """

    def __init__(self, runs: list[tuple[str, Inside]], missing: list[str]):
        super().__init__()
        self.runs = runs[:MAX_RUNS]
        self.missing = missing + [label for label, _ in runs[MAX_RUNS:]]
        self.back = 1  # which hidden layer, counted from the last
        self.log_counts = False
        self.drawn: list[str] = []  # the layer drawn in each column (tests read it)

    def compose(self) -> ComposeResult:
        yield Static("", id="inside-title")
        with Horizontal(id="inside-cols"):
            for i, (label, inside) in enumerate(self.runs):
                with Vertical(classes="inside-col"):
                    yield Static("", id=f"inside-head-{i}", classes="inside-head")
                    yield PlotextPlot(id=f"inside-means-{i}")
                    yield PlotextPlot(id=f"inside-acts-{i}")
                    yield FilterMosaic(inside.filters, id=f"inside-filters-{i}")
        yield Static("", id="inside-note")
        yield KeyBar(self.BINDINGS)

    def on_mount(self) -> None:
        if self.missing:
            shown = ", ".join(safe(m) for m in self.missing[:6]) + (" ..." if len(self.missing) > 6 else "")
            self.query_one("#inside-note", Static).update(Text(
                f" not shown ({len(self.missing)}): {shown} (no inside.json yet, or more than {MAX_RUNS} runs)"))
        self.draw()

    def on_resize(self) -> None:
        self.draw()  # the runs' names are fitted to the columns' width

    def label_width(self) -> int:
        """The cells a column's head has for a run's name (the columns share the screen; a cell of gap each)."""
        return max(8, self.size.width // max(1, len(self.runs)) - 1)

    def draw(self) -> None:
        figures = self.has_class("filters")
        epochs = sorted({inside.epoch for _, inside in self.runs})
        at = f"epoch {epochs[0]}" if len(epochs) == 1 else "epochs " + ", ".join(map(str, epochs))
        what = ("the first layer's filters" if figures else
                "dropout off: unit means (top), activations (below)")
        images = {inside.images for _, inside in self.runs}
        size = f" on {images.pop()} test images" if len(images) == 1 else ""
        self.query_one("#inside-title", Static).update(Text(f" {at}{size}, {what}"))
        self.drawn = []
        for i, (label, inside) in enumerate(self.runs):
            layer = layer_at(inside, self.back)
            head = self.query_one(f"#inside-head-{i}", Static)
            # a long name would wrap and push the layer's line (its zeros) out of the head: cut it as the list
            # does, keeping the grid fields that tell a study's runs apart (`…p_fc=0.75 seed=0`)
            label = fit_label(label, self.label_width())
            if layer is None:
                head.update(Text(f"{safe(label)}\nno hidden layer recorded"))
                self.drawn.append("")
                continue
            self.drawn.append(layer.name)
            if figures:
                head.update(Text(safe(label), no_wrap=True, overflow="ellipsis"))
                continue
            # the fraction of zeros first: figure 8's point, and what a narrow column keeps when it cuts the line
            head.update(Text(f"{safe(label)}\n{safe(layer.name)}: zero {_pc(layer.zero_fraction)}, mean "
                             f"{_num(layer.mean)}, |w| {_num(layer.weight_norm)}, {layer.units} units", no_wrap=True,
                             overflow="ellipsis"))
            self.histogram(f"#inside-means-{i}", layer.unit_mean_hist, "unit means", layer.mean)
            self.histogram(f"#inside-acts-{i}", layer.hist, "activations", None)

    def histogram(self, selector: str, hist: Histogram, name: str, mean: float) -> None:
        widget = self.query_one(selector, PlotextPlot)
        plt = widget.plt
        plt.clear_figure()
        edges, counts = hist.edges, hist.counts
        centres = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
        ys = [math.log10(1 + c) for c in counts] if self.log_counts else list(counts)
        plt.bar(centres, ys, width=(edges[-1] - edges[0]) / len(counts), color="cyan")
        if isinstance(mean, (int, float)) and math.isfinite(mean):
            plt.vline(mean, "red")
        top = max(ys) or 1
        if self.log_counts:
            ticks = list(range(0, math.ceil(top) + 1))
            plt.yticks(ticks, ["0" if t == 0 else f"1e{t}" for t in ticks])  # log10(1 + count): 0 is none
        else:
            plt.yticks(*count_ticks(top))
        plt.xlim(edges[0], edges[-1])  # the bins' own range, so the end ticks are on the axis
        plt.xticks(*value_ticks(edges[0], edges[-1]))
        plt.title(f"{name} ({'log ' if self.log_counts else ''}count)")
        widget.refresh()

    def action_layer(self, step: int) -> None:
        deepest = max((len(inside.layers) for _, inside in self.runs), default=1)
        self.back = max(1, min(deepest, self.back + step))
        self.draw()

    def action_filters(self) -> None:
        self.toggle_class("filters")
        self.draw()

    def action_log_counts(self) -> None:
        self.log_counts = not self.log_counts
        self.draw()
