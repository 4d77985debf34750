"""A one-line question (`g`: go to a run); dismisses with the text, or None when escaped."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ...safetext import safe_markup


class PromptScreen(ModalScreen[str | None]):
    BINDINGS = [("escape", "dismiss(None)", "Close")]
    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 64; max-width: 100%; height: auto; border: round $accent;
                              background: $surface; padding: 0 1; }
    """

    def __init__(self, question: str, value: str = "", placeholder: str = ""):
        super().__init__()
        self.question, self.value, self.placeholder = question, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_markup(self.question, keep_lines=True))
            yield Input(self.value, placeholder=self.placeholder, id="answer")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)
