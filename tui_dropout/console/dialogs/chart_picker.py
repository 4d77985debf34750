"""`t`: which chart of the registry (tui_dropout/charts.py) each of the two chart panes shows.

The choice is the console session's (widgets.charts.chart_choice): the main view, compare and replay all follow it.
Dismisses with True when it changed."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...charts import CHARTS, Chart
from ..widgets.charts import chart_choice

PANES = ("upper pane (left in compare)", "lower pane (right in compare)")


def prompt(spec: Chart, chosen: bool) -> str:
    unit = f" ({spec.unit})" if spec.unit and spec.unit not in spec.title else ""
    return ("● " if chosen else "  ") + spec.title + unit + (" · log scale possible (y)" if spec.log_ok else "")


class ChartPickerScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape,q,k", "close", "Close"), Binding("y", "log_scale", "Log y")]
    DEFAULT_CSS = """
    ChartPickerScreen { align: center middle; }
    ChartPickerScreen > Vertical { width: 76; max-width: 100%; height: auto; max-height: 100%;
                                   border: round $accent; background: $surface; padding: 0 1; }
    ChartPickerScreen Horizontal { height: auto; }
    ChartPickerScreen Horizontal > Vertical { width: 1fr; height: auto; }
    ChartPickerScreen OptionList { height: auto; max-height: 12; }
    ChartPickerScreen .pane-name { text-style: bold; }
    """

    def __init__(self):
        super().__init__()
        self.changed = False

    def compose(self) -> ComposeResult:
        choice = chart_choice(self.app)
        with Vertical():
            yield Static("Charts: enter picks one for a pane, tab the other pane, y log scale, escape closes")
            with Horizontal():
                for i, name in enumerate(PANES):
                    with Vertical():
                        yield Static(name, classes="pane-name")
                        yield OptionList(*[Option(prompt(spec, spec.key == choice.panes[i]), id=spec.key)
                                           for spec in CHARTS.values()], id=f"pane{i}")
            yield Static("", id="log-state")

    def on_mount(self) -> None:
        choice = chart_choice(self.app)
        for i, key in enumerate(choice.panes):
            options = self.query_one(f"#pane{i}", OptionList)
            options.highlighted = list(CHARTS).index(key) if key in CHARTS else 0
        self.query_one("#pane0", OptionList).focus()
        self.show_log()

    def show_log(self) -> None:
        log = chart_choice(self.app).log
        names = ", ".join(spec.title for spec in CHARTS.values() if spec.log_ok)
        self.query_one("#log-state", Static).update(f"log y scale {'on' if log else 'off'} for {names} (y)")

    def pick(self, pane: int, key: str) -> None:
        """Show chart `key` in pane `pane` (0 upper, 1 lower)."""
        choice = chart_choice(self.app)
        if choice.panes[pane] != key:
            choice.panes[pane] = key
            self.changed = True
        options = self.query_one(f"#pane{pane}", OptionList)
        for spec in CHARTS.values():
            options.replace_option_prompt(spec.key, prompt(spec, spec.key == key))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        pane = int((event.option_list.id or "pane0")[-1])
        self.pick(pane, event.option_id or "loss")

    def action_log_scale(self) -> None:
        choice = chart_choice(self.app)
        choice.log = not choice.log
        self.changed = True
        self.show_log()

    def action_close(self) -> None:
        self.dismiss(self.changed)
