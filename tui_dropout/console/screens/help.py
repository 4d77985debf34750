"""`?`: every key of the console, in one place."""
from __future__ import annotations

import textwrap

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...charts import CHARTS

KEYS = """\
[b]Runs[/b] (the key bar shows these in this order, as many as fit)
  ?          this help            q      quit (runs keep training)
  n          new run (form)       space  mark / unmark a run, then next row
  /          filter as you type: text tag:T state:S preset:P study:ID
             p_fc>=0.3 test>55 gap<10 !word; enter keeps it, escape clears
  o          compare the marked   r      replay the marked (or selected)
  c          cancel the selected  R      resume a lost/cancelled/failed run
  e          export the selected run into ./exports/<run-id>/
  l          name, tags and note of the selected (or marked) runs
  v          evaluate in the background: dropout off vs MC dropout, ECE
  t / y      the chart each pane shows / log y scale; the charts (t):
CHART_NAMES
  z          accuracy charts: all of 0-100, or (again) the data's range
  w          the sweep of the selected run's study: a figure against the
             field it swept, each group's mean±std over seeds (f: figure)
  b          the selected run's reliability diagram (stored evaluation)
  L          the selected run's train.log; follows a live run (End/G)
  H          hyperparameter table: s next sort column, S flip, e CSV
  > / <      sort the list by the next column / flip the order
  g          go to a run: its number, or part of its id or name
  a / del    archive (runs/.archive) / delete the marked or selected runs
  d          dropout inspector    x      x-axis: epoch / wall time
  s / S      smoothing (EMA)      1-9    jump to run N
  m          mark (or unmark) every run of the selected run's study
  escape     clear the filter, then every mark
  up/down, j/k   move between runs (every row is numbered)
  A run is named by its name, else its label (D p_fc=0.3 seed=2); a run
  waiting in the queue reads "queued #3". The list's test% is the best test
  accuracy; the details give final and best, train and test. With an NVIDIA
  driver and the `gpu` extra, a panel shows each GPU and its runs.

[b]New-run form[/b]
  enter      launch, from any field   ctrl+l launch   escape close
  tab        next field               space / down   open a list
  "together with": more presets, each once, fused where they can be.
  A number field takes a list (0.1,0.3,0.5) or a range (0.1..0.7:0.2): a
  grid; seeds: a count N or a list. backend: local (trainers now) or queue
  (gpus auto|cpu|0,2,3, per gpu K). More than one run asks first.

[b]Compare[/b]   o overlay / side by side   g seed groups / each run
            x axis   s/S smoothing   t charts   y log y   escape back
[b]Replay[/b]    space pause   left/right step   home epoch 1   +/- speed
            t charts   y log y   escape back
[b]HParams[/b]   s sort by the next column   S flip   click a header: sort
            e ./exports/hparams.csv   enter go to the run   escape back
[b]Inspector[/b] ctrl+t train/eval   ctrl+r new mask   ctrl+o ones/randn
            pgup/pgdn scroll the output   escape close

ctrl+p: Textual's command palette (themes, quit); escape closes a screen.
"""

# the chart registry's names (tui_dropout/charts.py, from the metric registry): a new metric's chart is listed here too
KEYS = KEYS.replace("CHART_NAMES", textwrap.fill(", ".join(c.metric for c in CHARTS.values()), 76,
                                                 initial_indent=" " * 13, subsequent_indent=" " * 13))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape", "dismiss", "Close"), ("question_mark", "dismiss", "Close"), ("q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 100; max-width: 100%; height: auto; max-height: 100%;
                                  border: round $accent; background: $surface; padding: 0 0 0 1;
                                  scrollbar-size-vertical: 1; }  /* 76 columns of text inside 80 */
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(KEYS)
