"""`l`: name, tag and annotate the selected (or marked) runs; every value is checked as it is typed."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ...safetext import safe_markup
from ...store.notes import NotesError, check_name, check_note, check_tags


class LabelScreen(ModalScreen[dict | None]):
    """Dismisses with {"name", "tags", "note"} (each None when left alone), or None when escaped.

    With several runs the fields start empty and only what is typed is changed; tags are added (a leading `-`
    removes one: `-old`)."""

    BINDINGS = [("escape", "dismiss(None)", "Close")]
    DEFAULT_CSS = """
    LabelScreen { align: center middle; }
    LabelScreen > Vertical { width: 72; max-width: 100%; height: auto; border: round $accent;
                             background: $surface; padding: 0 1; }
    LabelScreen #label-error { color: $error; height: auto; }
    """

    def __init__(self, title: str, name: str = "", tags: list[str] | None = None, note: str = "",
                 several: bool = False):
        super().__init__()
        self.title_text, self.several = title, several
        self.start = {"name": name, "tags": " ".join(tags or []), "note": note}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_markup(self.title_text))
            yield Static("name")
            yield Input(self.start["name"], placeholder="(none)" if not self.several else "(leave as is)", id="name")
            yield Static("tags (space separated; -tag removes one)" if self.several else "tags (space separated)")
            yield Input(self.start["tags"], placeholder="e.g. best baseline", id="tags")
            yield Static("note")
            yield Input(self.start["note"], placeholder="(none)" if not self.several else "(leave as is)", id="note")
            yield Static("", id="label-error")
            yield Static("enter saves   escape closes", classes="dim")

    def values(self) -> dict:
        """The typed values, checked; NotesError names the first bad one."""
        name = self.query_one("#name", Input).value
        note = self.query_one("#note", Input).value
        words = self.query_one("#tags", Input).value.replace(",", " ").split()
        remove = [w[1:] for w in words if w.startswith("-")]
        add = [w for w in words if not w.startswith("-")]
        out = {"name": check_name(name), "note": check_note(note), "remove_tags": check_tags(remove)}
        if self.several:  # only what was typed changes
            out = {k: v for k, v in out.items() if v}
            out["add_tags"] = check_tags(add)
        else:
            out["tags"] = check_tags(add)
        return out

    def on_input_changed(self, event: Input.Changed) -> None:
        try:
            self.values()
        except NotesError as exc:
            self.query_one("#label-error", Static).update(str(exc))
        else:
            self.query_one("#label-error", Static).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            values = self.values()
        except NotesError as exc:
            self.query_one("#label-error", Static).update(str(exc))
            return
        self.dismiss(values)
