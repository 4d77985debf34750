"""`?`: every key of the console, in one place."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = """\
[b]Runs[/b]  (the key bar at the bottom shows these in this order, as many as fit)
  ?              this help                q      quit (runs keep training)
  n              new run (form)           space  mark / unmark a run, then the next row
  m              mark (or unmark) every run of the selected run's study
  o              compare the marked runs  r      replay the marked (or selected) runs
  e              export the selected run into ./exports/<run-id>/
  c              cancel the selected run  R      resume a lost/cancelled/failed run
  d              dropout inspector        x      x-axis: epoch / wall time (minutes)
  s / S          smoothing (EMA) up/down  1-9    jump to run N
  t              the chart each pane shows (loss, accuracy, gap, lr, epoch time)   y  log y
  L              the selected run's train.log: follows a live run (End/G), g top, escape closes
  up/down, j/k   move between runs (rows past 9 are numbered too)   g  go to a run: number, id or name part
  /              filter as you type: text  tag:T  state:S  preset:P  study:ID  p_fc>=0.3  test>55  gap<10  !word
                 enter keeps it, escape clears it          > / <  sort by the next column / flip the order
  l              name, tags, note of the selected (or marked) runs        H  hyperparameter table (s/S sort, e CSV)
  a / del        archive (runs/.archive) / delete the marked or selected runs, after a confirmation
  v              evaluate in the background: dropout off vs Monte-Carlo dropout, calibration (ECE)
  The list names each run by its label (D p_fc=0.3 seed=2); a run waiting in the queue reads "queued #3".
  The list's test% is each run's best test accuracy; the details give final and best, train and test.
  With an NVIDIA driver and the `gpu` extra, a panel above the status line shows each GPU and its runs.

[b]New-run form[/b]
  enter          launch, from any field   ctrl+l launch   escape close
  tab            next field               space / down   open a list
  "together with" other presets launches them too (each once), fused where they can share a process
  a number field takes a list (0.1,0.3,0.5) or a range (0.1..0.7:0.2): a grid; seeds: a count N or a list
  backend: local (trainer processes now) or queue (gpus auto|cpu|0,2,3, per gpu K); more than one run asks first

[b]Compare[/b]   o overlay / side by side   g seed groups (mean ±std) / each run   x axis   s/S smoothing
                 t charts   y log y   esc back
[b]Replay[/b]    space pause   left/right step   home epoch 1   +/- speed   t charts   y log   escape back
[b]HParams[/b]   s sort by the cursor's column (again: the next)   S flip   e ./exports/hparams.csv   enter go to run
[b]Inspector[/b] ctrl+t train/eval   ctrl+r new mask (same input)   ctrl+o ones/randn
                 pgup/pgdn scroll the output (tab to it: up/down too)   escape close

ctrl+p opens Textual's command palette (themes, quit); escape closes any screen.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape", "dismiss", "Close"), ("question_mark", "dismiss", "Close"), ("q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 100; max-width: 100%; height: auto; max-height: 100%;
                                  border: round $accent; background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(KEYS)
