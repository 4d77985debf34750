"""The runs list: state, preset, epoch/total and best test accuracy; marks shown in the first column."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ...export import pct
from ...store import RunInfo

STATE_STYLES = {"running": "bold green", "queued": "cyan", "finished": "blue", "failed": "bold red",
                "cancelled": "yellow", "lost": "bold magenta"}


def short_id(run_id: str) -> str:
    """20261126-093012-D-3f9c -> 09:30:12 3f9c (the day is in the details pane)."""
    parts = run_id.split("-")
    if len(parts) >= 4 and len(parts[1]) == 6:
        t = parts[1]
        return f"{t[:2]}:{t[2:4]}:{t[4:]} {parts[-1]}"[:13]
    return run_id[-13:]


class RunsTable(DataTable):
    BINDINGS = [("j", "cursor_down", "Down"), ("k", "cursor_up", "Up")]

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_column("", key="mark", width=1)
        self.add_column("#", key="n", width=1)
        self.add_column("state", key="state", width=9)
        self.add_column("preset", key="preset", width=6)
        self.add_column("epoch", key="epoch", width=9)
        self.add_column("test", key="test", width=6)
        self.add_column("started", key="run", width=13)

    def show(self, infos: list[RunInfo], marked: set[str], selected: str | None) -> None:
        """Rebuild the rows (cheap at list sizes) and keep the cursor on the selected run."""
        self.clear()
        for i, info in enumerate(infos, 1):
            state = "corrupt" if info.problem and info.problem.startswith("corrupt") else info.state
            self.add_row("*" if info.run_id in marked else " ", str(i) if i < 10 else " ",
                         Text(state, style=STATE_STYLES.get(info.state, "")), info.preset[:8],
                         f"{info.epoch}/{info.epochs}", pct(info.best_test_acc), short_id(info.run_id), key=info.run_id)
        ids = [i.run_id for i in infos]
        if selected in ids:
            self.move_cursor(row=ids.index(selected), animate=False)

    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key((self.cursor_row, 0))
        return row_key.value
