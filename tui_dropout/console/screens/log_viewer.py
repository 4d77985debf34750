"""`L`: the selected run's train.log, scrollable, following a live run as lines are written.

Reads incrementally (store.tail.LogTail) on a timer; a large log shows its last LOG_VIEW_BYTES only and says so.
Following stops when the view is scrolled up (Textual's Log scrolls on new lines only while at the end) and
resumes with End or G."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Log, Static

from ...safetext import safe
from ...store import LOG, RunDir
from ...store.tail import LogTail
from ..widgets.key_bar import KeyBar

LOG_VIEW_BYTES = 4 << 20  # a longer log shows its last 4 MiB
POLL_SECONDS = 0.5  # how often the file is looked at for new lines


def size_text(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} bytes"


class LogViewerScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("end,G", "follow", "Follow", key_display="G"),
                Binding("home,g", "top", "Top", key_display="g"),
                Binding("q", "app.pop_screen", "Back", show=False)]
    DEFAULT_CSS = """
    LogViewerScreen #log-title { height: 1; background: $panel; padding: 0 1; }
    LogViewerScreen Log { height: 1fr; }
    """

    def __init__(self, run: RunDir, max_bytes: int | None = None):
        super().__init__()
        self.run = run
        self.tail = LogTail(run.file(LOG), max_bytes or LOG_VIEW_BYTES)
        self.polls = 0  # timer ticks seen: tests wait for a poll, never for time
        self._title = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="log-title")
        yield Log(highlight=False, auto_scroll=True)
        yield KeyBar(self.BINDINGS)

    def on_mount(self) -> None:
        self.poll()
        self.query_one(Log).focus()
        self.set_interval(POLL_SECONDS, self.poll)

    @property
    def view(self) -> Log:
        return self.query_one(Log)

    @property
    def following(self) -> bool:
        return self.view.is_vertical_scroll_end

    def poll(self) -> None:
        """New whole lines of the file, appended; a replaced or truncated file is shown again from its start."""
        self.polls += 1
        lines = self.tail.read_new()
        log = self.view
        if self.tail.take_reset():
            log.clear()
        if lines:
            log.write_lines([safe(line) or " " for line in lines])  # scrolls with them only while at the end
        self.show_title()

    def show_title(self) -> None:
        tail = self.tail
        if tail.problem and not self.view.line_count:
            what = tail.problem
        else:
            what = f"{self.view.line_count} lines"
            if tail.skipped:
                what += f", the last {size_text(tail.size - tail.skipped)} of {size_text(tail.size)}"
            what += " · following" if self.following else " · paused (End/G follows)"
        title = f"{self.run.run_id}/{LOG}: {what}"
        if title != self._title:
            self._title = title
            self.query_one("#log-title", Static).update(Text.assemble(("log ", "bold"), title))

    def action_follow(self) -> None:
        self.view.scroll_end(animate=False, immediate=True)
        self.call_after_refresh(self.show_title)

    def action_top(self) -> None:
        self.view.scroll_home(animate=False, immediate=True)
        self.call_after_refresh(self.show_title)
