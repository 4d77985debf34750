"""The main view's keys as one table: each row gives a binding, its word on the key bar, its line in the help (`?`)
and its entry in the command palette (ctrl+p). A new key is one row here and one `action_` method on the screen."""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

from textual.binding import Binding

from ..charts import CHARTS

SMOOTH = Binding.Group("smooth")
HELP_WIDTH = 76  # the help's text inside its frame at 80 columns
KEY_COLUMN = 11


@dataclass(frozen=True)
class Action:
    key: str  # Textual's key name
    action: str  # the screen's action, as Textual writes it: "sort(1)"
    word: str  # its name on the key bar and in the palette
    help: str  # what it does, for the help and the palette
    display: str | None = None  # the key as shown, when Textual's name for it is not ("question_mark": "?")
    bar: bool = True  # on the key bar (in this order, as many as fit)
    group: Binding.Group | None = None  # keys that share one entry on the key bar ("sS Smooth")
    also: tuple[str, ...] = ()  # more keys of the same kind, bound but never shown: jump(2) .. jump(9)

    @property
    def shown_key(self) -> str:
        return self.display or self.key

    def bindings(self) -> list[Binding]:
        first = Binding(self.key, self.action, self.word, key_display=self.display, show=self.bar, group=self.group)
        return [first, *(Binding(key, f"{self.action.split('(')[0]}({key})", self.word, show=False)
                         for key in self.also)]


# Key bar order: help and quit first, then by how often a key is used. At 80 columns the bar ends after `R`;
# README ("The console") says so, and `?` lists every key.
ACTIONS = (
    Action("question_mark", "help", "Help", "this help", display="?"),
    Action("q", "app.quit", "Quit", "quit (runs keep training)"),
    Action("n", "new_run", "New", "new run: the form (presets, every field, a grid, seeds, the backend)"),
    Action("space", "mark", "Mark", "mark or unmark the selected run, then go to the next row"),
    Action("slash", "filter", "Filter", "filter as you type: text tag:T state:S preset:P study:ID p_fc>=0.3 "
           "test>55 gap<10 !word; enter keeps it, escape clears it", display="/"),
    Action("o", "compare", "Compare", "compare the marked runs: charts overlaid or side by side, results table"),
    Action("r", "replay", "Replay", "replay the marked (or selected) runs epoch by epoch"),
    Action("c", "cancel_run", "Cancel", "cancel the selected run (asks first; it keeps a checkpoint)"),
    Action("R", "resume_run", "Resume", "resume a lost, cancelled or failed run from its checkpoint"),
    Action("e", "export", "Export", "export the selected run into ./exports/<run-id>/"),
    Action("l", "label", "Label", "name, tags and note of the marked runs (or the selected one)"),
    Action("v", "evaluate", "Evaluate", "evaluate in the background: dropout off vs MC dropout, ECE"),
    Action("t", "charts", "Charts", "the chart each pane shows: " + ", ".join(c.metric for c in CHARTS.values())),
    Action("L", "log", "Log", "the selected run's train.log; follows a live run (End/G)"),
    Action("H", "hparams", "HParams", "hyperparameter table of the listed runs: s next sort column, S flip, "
           "e CSV, enter go to the run"),
    Action("w", "sweep", "Sweep", "the sweep of the selected run's study: a figure against the field it swept, "
           "each group's mean±std over seeds (f: figure)"),
    Action("b", "calibration", "Calibration", "the selected run's reliability diagram (its stored evaluation)"),
    Action("i", "inside", "Inside", "inside the network, marked runs side by side: each hidden layer's unit means "
           "and activations (left/right: layer), f the first layer's filters"),
    Action("greater_than_sign", "sort(1)", "Sort", "sort the list by the next column", display=">"),
    Action("less_than_sign", "sort(-1)", "Sort back", "flip the list's order", display="<", bar=False),
    Action("g", "go_to", "Go to", "go to a run: its number, or part of its id or name"),
    Action("a", "archive", "Archive", "archive the marked or selected runs (runs/.archive)"),
    Action("delete", "delete_runs", "Delete", "delete the marked or selected runs, with every file", display="del"),
    Action("d", "inspector", "Dropout", "dropout inspector: a layer's mask and output on a tensor you shape"),
    Action("x", "toggle_axis", "Axis", "x-axis: epoch or wall time"),
    Action("s", "smooth(1)", "Smooth+", "more smoothing (EMA) of the charts", group=SMOOTH),
    Action("S", "smooth(-1)", "Smooth-", "less smoothing", group=SMOOTH),
    Action("y", "log_scale", "Log y", "log y scale (loss and learning rate charts)"),
    Action("z", "full_range", "0-100", "accuracy charts: all of 0-100, or (again) the data's range"),
    Action("1", "jump(1)", "Jump", "jump to run N of the list", display="1-9",
           also=tuple(str(i) for i in range(2, 10))),
    Action("m", "mark_study", "Mark study", "mark (or unmark) every run of the selected run's study"),
    Action("escape", "clear", "Clear", "clear the filter, then every mark", bar=False),
)

BINDINGS = [binding for action in ACTIONS for binding in action.bindings()]

HELP_HEAD = "[b]Runs[/b] (the key bar shows these in this order, as many as fit)"
HELP_TAIL = """\
  up/down, j/k  move between runs (every row is numbered)
  A run is named by its name, else its label (D p_fc=0.3 seed=2); a run
  waiting in the queue reads "queued #3". The list's test% is the best test
  accuracy; the details give final and best, train and test. With an NVIDIA
  driver and the `gpu` extra, a panel shows each GPU and its runs.
  ctrl+p: the command palette: every key above by name (and Textual's own:
  themes, quit)."""


def help_lines() -> list[str]:
    """The main view's part of the help: one entry per row of ACTIONS, wrapped to HELP_WIDTH."""
    lines = [HELP_HEAD]
    for action in ACTIONS:
        key = action.shown_key.replace("[", r"\[")
        lines += textwrap.wrap(action.help, HELP_WIDTH, initial_indent=f"  {key:<{KEY_COLUMN - 2}}",
                               subsequent_indent=" " * KEY_COLUMN, break_on_hyphens=False)
    return lines + HELP_TAIL.splitlines()
