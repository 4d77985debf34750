"""The runs list: number and mark, state, preset, epoch/total and best test accuracy; when wide, when it started."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ...store import RunInfo
from ..labels import acc, epochs_text, started_text, state_text

# (key, header, width, right-aligned). Cells carry their own gap (no cell padding), so 80 columns keep room for charts.
COLUMNS = (("n", "#", 4, False), ("state", "state", 10, False), ("preset", "preset", 6, False),
           ("epoch", "epoch", 7, True), ("test", "test%", 6, True), ("run", " started", 17, False))
COLUMN_KEYS = tuple(c[0] for c in COLUMNS)
NARROW_KEYS = COLUMN_KEYS[:-1]
NARROW_WIDTH = sum(c[2] for c in COLUMNS if c[0] in NARROW_KEYS) + 3  # + border and a 1-cell scrollbar
WIDE_WIDTH = sum(c[2] for c in COLUMNS) + 3


class RunsTable(DataTable):
    """Every row numbered (1-9 jump there); a mark is the * before the number."""

    BINDINGS = [Binding("j", "cursor_down", "Down", show=False), Binding("k", "cursor_up", "Up", show=False)]

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=0, **kwargs)
        self._ids: list[str] = []
        self.keys: tuple[str, ...] = ()

    def set_wide(self, wide: bool) -> bool:
        """The narrow set of columns, or all of them (the start time too); True when that changed the columns.

        The rows come back on the next show()."""
        keys = COLUMN_KEYS if wide else NARROW_KEYS
        if keys == self.keys:
            return False
        self.keys = keys
        self.clear(columns=True)
        self._ids = []
        for key, header, width, right in COLUMNS:
            if key in keys:
                self.add_column(Text(header, justify="right" if right else "left"), key=key, width=width)
        return True

    def show(self, infos: list[RunInfo], marked: set[str], selected: str | None) -> None:
        """Update cells in place while the same runs are listed (no layout pass); rebuild when the set changes."""
        ids = [i.run_id for i in infos]
        rows = {info.run_id: dict(zip(COLUMN_KEYS, self._cells(n, info, marked))) for n, info in enumerate(infos, 1)}
        if ids == self._ids:
            for run_id, cells in rows.items():
                for key in self.keys:
                    if str(self.get_cell(run_id, key)) != str(cells[key]):
                        self.update_cell(run_id, key, cells[key])
            return
        self._ids = ids
        self.clear()
        for run_id, cells in rows.items():
            self.add_row(*(cells[k] for k in self.keys), key=run_id)
        if selected in ids:
            self.move_cursor(row=ids.index(selected), animate=False)

    @staticmethod
    def _cells(n: int, info: RunInfo, marked: set[str]) -> tuple:
        """Every column's cell for the run listed n-th, in COLUMN_KEYS order."""
        mark = "*" if info.run_id in marked else " "
        return (f"{mark}{n:>2}", state_text(info), info.preset[:5],
                Text(epochs_text(info.epoch, info.epochs), justify="right"),
                Text(acc(info.best_test_acc), justify="right"), " " + started_text(info.run_id))

    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key((self.cursor_row, 0))
        return row_key.value
