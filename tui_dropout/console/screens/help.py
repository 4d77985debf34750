"""`?`: every key of the console, in one place; the main view's keys come from its table (actions.py)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..actions import help_lines

KEYS = "\n".join(help_lines()) + """

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
[b]Inside[/b]    left/right or \\[ ] the layer   f filters   y log counts
            escape back
[b]Inspector[/b] ctrl+t train/eval   ctrl+r new mask   ctrl+o ones/randn
            pgup/pgdn scroll the output   escape close

Escape closes a screen.
"""


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
