"""`?`: every key of the console, in one place."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = """\
[b]Runs[/b]
  up/down, j/k   move between runs        1-9    jump to run N
  space          mark / unmark a run      n      new run (form)
  c              cancel the selected run  R      resume a lost/cancelled run
  e              export the selected run into ./exports/<run-id>/

[b]Charts[/b]
  x              x-axis: epoch / wall time (minutes)
  s / S          smoothing (EMA) up / down

[b]Compare and replay[/b]
  o              compare the marked runs (o again: overlay / side by side)
  r              replay the marked runs (or the selected one) from epoch 1
                 in replay: space pause, left/right step, +/- speed

[b]Other[/b]
  d              dropout inspector (the seed's demonstrations)
  ?              this help               escape  close a screen
  q              quit (runs keep training; reopen to find them live)
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape", "dismiss", "Close"), ("question_mark", "dismiss", "Close"), ("q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; max-width: 100%; height: auto; max-height: 100%;
                                  border: round $accent; background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(KEYS)
