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


COLUMN_KEYS = ("mark", "n", "state", "preset", "epoch", "test", "run")


class RunsTable(DataTable):
    BINDINGS = [("j", "cursor_down", "Down"), ("k", "cursor_up", "Up")]
    _ids: list[str] = []

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
        """Update cells in place while the same runs are listed (no layout pass); rebuild when the set changes."""
        ids = [i.run_id for i in infos]
        rows = {info.run_id: self._cells(i, info, marked) for i, info in enumerate(infos, 1)}
        if ids == self._ids:
            for run_id, cells in rows.items():
                for column, value in zip(COLUMN_KEYS, cells):
                    if str(self.get_cell(run_id, column)) != str(value):
                        self.update_cell(run_id, column, value)
            return
        self._ids = ids
        self.clear()
        for run_id, cells in rows.items():
            self.add_row(*cells, key=run_id)
        if selected in ids:
            self.move_cursor(row=ids.index(selected), animate=False)

    @staticmethod
    def _cells(i: int, info: RunInfo, marked: set[str]) -> tuple:
        state = "corrupt" if info.problem and info.problem.startswith("corrupt") else info.state
        return ("*" if info.run_id in marked else " ", str(i) if i < 10 else " ",
                Text(state, style=STATE_STYLES.get(info.state, "")), info.preset[:8], f"{info.epoch}/{info.epochs}",
                pct(info.best_test_acc), short_id(info.run_id))

    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key((self.cursor_row, 0))
        return row_key.value
