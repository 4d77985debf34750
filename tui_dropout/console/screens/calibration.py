"""`b`: the selected run's reliability diagram from its stored evaluation (no new passes): per confidence bin
the accuracy of the test images in it against the diagonal of perfect calibration, dropout off beside MC
dropout, each with its ECE, and the table beneath."""
from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ...safetext import safe
from ...store import RunInfo
from ..widgets.key_bar import KeyBar


def _pc(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def bins_table(off: list[dict], mc: list[dict]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), expand=False, show_edge=False)
    for header in ("confidence", "off n", "conf%", "acc%", "MC n", "conf%", "acc%"):
        table.add_column(header, justify="right", no_wrap=True)
    for d, m in zip(off, mc):
        lo, hi = d["bin"]
        table.add_row(f"{lo:.2f}-{hi:.2f}", str(d["count"]), _pc(d.get("confidence")), _pc(d.get("accuracy")),
                      str(m["count"]), _pc(m.get("confidence")), _pc(m.get("accuracy")))
    return table


class CalibrationScreen(Screen[None]):
    BINDINGS = [Binding("escape,q", "dismiss(None)", "Back", key_display="esc")]
    DEFAULT_CSS = """
    CalibrationScreen #cal-title { height: 1; background: $panel; }
    CalibrationScreen #cal-plots { height: 1fr; min-height: 10; }
    CalibrationScreen PlotextPlot { width: 1fr; }
    CalibrationScreen #cal-tables { height: auto; max-height: 45%; }
    """

    def __init__(self, info: RunInfo, data: dict[str, Any]):
        super().__init__()
        self.info = info
        self.data = data

    def compose(self) -> ComposeResult:
        yield Static("", id="cal-title")
        with Horizontal(id="cal-plots"):
            yield PlotextPlot(id="cal-off")
            yield PlotextPlot(id="cal-mc")
        with VerticalScroll(id="cal-tables"):
            yield Static("", id="cal-table")
        yield KeyBar(self.BINDINGS)

    def on_mount(self) -> None:
        det, mc = self.data.get("deterministic") or {}, self.data.get("mc") or {}
        passes = mc.get("passes") or self.data.get("mc_passes")
        self.query_one("#cal-title", Static).update(Text(
            f" reliability (accuracy by confidence) of {safe(self.info.label)}, epoch "
            f"{self.data.get('checkpoint_epoch')}, {self.data.get('test_size', '?')} test images"))
        self.drawn = [self.draw("#cal-off", det, "off"),
                      self.draw("#cal-mc", mc, f"MC x{passes}" if self.data.get("dropout", True) else "MC (= off)")]
        self.query_one("#cal-table", Static).update(bins_table(det.get("reliability") or [],
                                                               mc.get("reliability") or []))

    def draw(self, selector: str, figures: dict[str, Any], name: str) -> int:
        """Accuracy per bin as bars at the bins' centres, the diagonal dotted; returns the bins with images."""
        plt = self.query_one(selector, PlotextPlot).plt
        plt.clear_figure()
        rows = [r for r in figures.get("reliability") or [] if r.get("count")]
        centres = [(r["bin"][0] + r["bin"][1]) / 2 for r in rows]
        plt.bar(centres, [(r.get("accuracy") or 0.0) for r in rows], width=0.05, color="cyan")
        plt.plot([0, 1], [0, 1], color="gray", marker="dot")
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        plt.xticks([0, 0.25, 0.5, 0.75, 1], ["0", ".25", ".5", ".75", "1"])
        plt.yticks([0, 0.5, 1], ["0", ".5", "1"])
        ece = figures.get("ece")
        plt.title(f"{name}: ECE {_pc(ece)}%")  # short: plotext drops a title wider than the plot
        self.query_one(selector, PlotextPlot).refresh()
        return len(rows)
