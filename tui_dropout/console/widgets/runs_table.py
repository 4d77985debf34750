"""The runs list: number and mark, state (`queued #3`), the run's label (`D p_fc=0.3 seed=2`), epoch/total, best
test accuracy and when it started; as many of these as the width allows, in that order of need."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ...store import RunInfo
from ..labels import acc, epochs_text, fit_label, started_text, state_text

# key -> (header, width, right-aligned). Cells carry their own gap (no cell padding). The label's width follows the
# labels listed (LABEL_MIN..LABEL_MAX).
COLUMNS = {"n": ("#", 4, False), "state": ("state", 11, False), "label": ("run", 0, False),
           "epoch": ("epoch", 7, True), "test": ("test%", 6, True), "started": (" started", 17, False)}
ORDER = tuple(COLUMNS)  # left to right
ALWAYS = ("n", "state", "label", "test")  # then, room allowing, epoch and the start time
OPTIONAL = ("epoch", "started")
LABEL_MIN, LABEL_MAX = 7, 31  # "D" .. a label of two grid fields and a seed, with its gap
FRAME = 3  # the border and a 1-cell scrollbar


def fit_columns(room: int, label_want: int) -> tuple[tuple[str, ...], int]:
    """The columns that fit in `room` cells and the label's width: the label as wide as it wants (cut short
    when even the columns that always show leave it less), then epoch and start time while they fit."""
    used = sum(COLUMNS[k][1] for k in ALWAYS)
    label = max(LABEL_MIN, min(label_want, room - used))
    used += label
    keys = set(ALWAYS)
    for key in OPTIONAL:
        if used + COLUMNS[key][1] <= room:
            keys.add(key)
            used += COLUMNS[key][1]
    return tuple(k for k in ORDER if k in keys), label


class RunsTable(DataTable):
    """Every row numbered (1-9 jump there); a mark is the * before the number."""

    BINDINGS = [Binding("j", "cursor_down", "Down", show=False), Binding("k", "cursor_up", "Up", show=False)]

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=0, **kwargs)
        self._ids: list[str] = []
        self.keys: tuple[str, ...] = ()
        self.label_width = 0

    @property
    def pane_width(self) -> int:
        """The width the list needs for its columns, frame included."""
        return sum(self.label_width if k == "label" else COLUMNS[k][1] for k in self.keys) + FRAME

    def fit(self, room: int, infos: list[RunInfo]) -> bool:
        """Choose the columns for `room` cells (the pane's width less its frame) and the labels listed; True when
        that changed the columns (the rows come back on the next show())."""
        want = min(LABEL_MAX, max((len(i.label) for i in infos), default=0) + 1)
        keys, label = fit_columns(room, want)
        if (keys, label) == (self.keys, self.label_width):
            return False
        self.keys, self.label_width = keys, label
        self.clear(columns=True)
        self._ids = []
        for key in keys:
            header, width, right = COLUMNS[key]
            self.add_column(Text(header, justify="right" if right else "left"), key=key,
                            width=label if key == "label" else width)
        return True

    def show(self, infos: list[RunInfo], marked: set[str], selected: str | None) -> None:
        """Update cells in place while the same runs are listed (no layout pass); rebuild when the set changes."""
        ids = [i.run_id for i in infos]
        rows = {info.run_id: self._cells(n, info, marked) for n, info in enumerate(infos, 1)}
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

    def _cells(self, n: int, info: RunInfo, marked: set[str]) -> dict[str, object]:
        """Every column's cell for the run listed n-th."""
        mark = "*" if info.run_id in marked else " "
        return {"n": f"{mark}{n:>2}", "state": state_text(info), "label": fit_label(info.label, self.label_width - 1),
                "epoch": Text(epochs_text(info.epoch, info.epochs), justify="right"),
                "test": Text(acc(info.best_test_acc), justify="right"), "started": " " + started_text(info.run_id)}

    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key((self.cursor_row, 0))
        return row_key.value
