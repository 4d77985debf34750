"""The runs list: number and mark, state (`queued #3`), the run's label (`D p_fc=0.3 seed=2`), epoch/total, a
figure (best test accuracy, or the one the list is sorted by) and when it started; as many of these as the width
allows, in that order of need. The header marks the column the list is sorted by.

It draws only the rows on screen (Textual's line API), so a runs folder of thousands costs no more to show or
move through than one of ten: the rows are plain cells, laid out once, and a line is built when it is drawn."""
from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from operator import attrgetter
from typing import Callable

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...export import number_text
from ...query import gap
from ...store import RunInfo
from ..labels import STATE_STYLES, acc, epochs_text, fit_label, started_text

# key -> (header, width, right-aligned). Cells carry their own gap (no cell padding). The label's width follows the
# labels listed (LABEL_MIN..LABEL_MAX).
COLUMNS = {"n": ("#", 4, False), "state": ("state", 11, False), "label": ("run", 0, False),
           "epoch": ("epoch", 7, True), "test": ("test%", 6, True), "started": (" started", 17, False)}
ORDER = tuple(COLUMNS)  # left to right
ALWAYS = ("n", "state", "label", "test")  # then, room allowing, epoch and the start time
OPTIONAL = ("epoch", "started")
LABEL_MIN, LABEL_MAX = 7, 31  # "D" .. a label of two grid fields and a seed, with its gap
FRAME = 3  # the border and a 1-cell scrollbar
LABEL = attrgetter("label")
# A sort of query.SORTS -> the column that shows its key: a sort by a figure puts that figure in the figure column
# (header, value), so the order can be read off the list; the others mark their own column.
FIGURE_COLUMNS = {"best": ("best%", lambda i: acc(i.best_test_acc)),
                  "test": ("fin%", lambda i: acc(i.final_test_acc)),
                  "loss": ("loss", lambda i: number_text(i.final_loss, ".3f")),
                  "gap": ("gap", lambda i: "-" if gap(i) is None else f"{gap(i):.1f}")}
SORT_COLUMNS = {"newest": "started", "name": "label", "state": "state", **{k: "test" for k in FIGURE_COLUMNS}}


def number_width(count: int) -> int:
    """The number column's width for `count` rows: " 12", "*123", " 4999", the mark, the number, a gap."""
    return max(COLUMNS["n"][1], len(str(count)) + 2)


def fit_columns(room: int, label_want: int, n_width: int = COLUMNS["n"][1]) -> tuple[tuple[str, ...], int]:
    """The columns that fit in `room` cells and the label's width: the label as wide as it wants (cut short
    when even the columns that always show leave it less), then epoch and start time while they fit. The number
    column takes `n_width` (wider past 99 runs)."""
    used = sum(COLUMNS[k][1] for k in ALWAYS) - COLUMNS["n"][1] + n_width
    label = max(LABEL_MIN, min(label_want, room - used))
    used += label
    keys = set(ALWAYS)
    for key in OPTIONAL:
        if used + COLUMNS[key][1] <= room:
            keys.add(key)
            used += COLUMNS[key][1]
    return tuple(k for k in ORDER if k in keys), label


class Row:
    """One listed run. Its cells are made when first read (a row drawn or asked for): listing 50,000 runs costs a
    row object each, and only the rows on screen are ever formatted."""

    __slots__ = ("run_id", "state", "_make", "_cells")

    def __init__(self, run_id: str, state: str, make: Callable[[], dict[str, str]]):
        self.run_id, self.state = run_id, state  # the state for its cell's colour
        self._make, self._cells = make, None

    @property
    def cells(self) -> dict[str, str]:
        if self._cells is None:
            self._cells, self._make = self._make(), None
        return self._cells


class Rows(Sequence):
    """The listed runs as rows, each made when first asked for: showing 50,000 runs makes the rows on screen, not
    an object a run."""

    def __init__(self, infos: list[RunInfo], make: Callable[[int, RunInfo], dict[str, str]]):
        self._infos, self._make, self._made = infos, make, {}

    def __len__(self) -> int:
        return len(self._infos)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self._infos)))]
        if i < 0:
            i += len(self._infos)
            if i < 0:
                raise IndexError("row index out of range")
        row = self._made.get(i)
        if row is None:
            info = self._infos[i]  # IndexError past the end, as a list
            row = self._made[i] = Row(info.run_id, info.state, partial(self._make, i + 1, info))
        return row


class RunsTable(ScrollView, can_focus=True):
    """Every row numbered (1-9 jump there); a mark is the * before the number. A header line stays on top."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False), Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False), Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False), Binding("end", "last", "Last", show=False),
    ]
    DEFAULT_CSS = """
    RunsTable { background: $surface; }
    RunsTable > .runs-table--header { text-style: bold; background: $panel; }
    RunsTable > .runs-table--cursor { background: $accent 60%; }
    RunsTable:focus > .runs-table--cursor { background: $accent; }
    RunsTable > .runs-table--odd { background: $boost; }
    """
    COMPONENT_CLASSES = {"runs-table--header", "runs-table--cursor", "runs-table--odd"}

    class RowHighlighted(Message):
        """The cursor moved to the row of `run_id`."""

        def __init__(self, table: "RunsTable", run_id: str) -> None:
            super().__init__()
            self.table = table
            self.run_id = run_id

        @property
        def control(self) -> "RunsTable":
            return self.table

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows: Sequence[Row] = []
        self._index: dict[str, int] = {}
        self._ids: list[str] = []
        self._labels_of: list[RunInfo] | None = None  # the list whose labels `_label_want` was measured on
        self._label_want = 0
        self.cursor_row = 0
        self.keys: tuple[str, ...] = ()
        self.label_width = 0
        self.n_width = COLUMNS["n"][1]  # the number column's: wider past 99 runs (fit sets it for the runs listed)
        self.sort: tuple[str, bool] = ("newest", False)  # the list's order: a SORTS key, and whether ascending

    def sorted_by(self, by: str, ascending: bool) -> None:
        """The order the rows come in (the next show() fills the figure column for it)."""
        self.sort = (by, ascending)

    def header(self, key: str) -> str:
        """A column's header; the sorted one ends in ▲ (ascending down the list) or ▼."""
        by, ascending = self.sort
        name = FIGURE_COLUMNS[by][0] if key == "test" and by in FIGURE_COLUMNS else COLUMNS[key][0]
        if SORT_COLUMNS.get(by) == key:
            name = name.rstrip() + ("▲" if ascending else "▼")
        return name

    # ----- layout --------------------------------------------------------------------------------
    @property
    def pane_width(self) -> int:
        """The width the list needs for its columns, frame included."""
        return sum(self.column_width(k) for k in self.keys) + FRAME

    def column_width(self, key: str) -> int:
        if key == "label":
            return self.label_width
        if key == "n":
            return self.n_width
        return COLUMNS[key][1]

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def fit(self, room: int, infos: list[RunInfo]) -> bool:
        """Choose the columns for `room` cells (the pane's width less its frame) and the labels listed; True when
        that changed the columns."""
        if infos is not self._labels_of:  # the watcher hands out the same list until a run changes
            self._labels_of, self._label_want = infos, min(LABEL_MAX, max(map(len, map(LABEL, infos)), default=0) + 1)
        want, n_width = self._label_want, number_width(len(infos))
        keys, label = fit_columns(room, want, n_width)
        if (keys, label, n_width) == (self.keys, self.label_width, self.n_width):
            return False
        self.keys, self.label_width, self.n_width = keys, label, n_width
        self.rows = []  # cells are cut to the columns: made again on the next show()
        self._index, self._ids = {}, []
        return True

    def show(self, infos: list[RunInfo], marked: set[str], selected: str | None) -> None:
        """The rows for `infos`, the cursor on `selected` when the set of runs changed."""
        ids = [i.run_id for i in infos]
        same = ids == self._ids
        marks = set(marked)  # as it is now: the caller's set changes later
        self.rows = Rows(infos, partial(self._cells, marked=marks))  # cells made lazily, after the count (the number's width)
        self._ids, self._index = ids, dict(zip(ids, range(len(ids))))
        self.virtual_size = Size(sum(self.column_width(k) for k in self.keys), len(self.rows) + 1)
        if not same and selected in self._index:
            self.move_cursor(row=self._index[selected], announce=False)
        else:
            self.cursor_row = min(self.cursor_row, max(0, len(self.rows) - 1))
        self.refresh()

    def _cells(self, n: int, info: RunInfo, marked: set[str]) -> dict[str, str]:
        """Every column's cell for the run listed n-th."""
        mark = "*" if info.run_id in marked else " "
        return {"n": f"{mark}{n:>{self.column_width('n') - 2}}", "state": info.state_text, "label": fit_label(info.label, self.label_width - 1),
                "epoch": epochs_text(info.epoch, info.epochs),
                "test": FIGURE_COLUMNS[self.sort[0]][1](info) if self.sort[0] in FIGURE_COLUMNS else acc(info.best_test_acc),
                "started": " " + started_text(info.run_id)}

    # ----- reading it back (the screen and tests) -------------------------------------------------
    def selected_id(self) -> str | None:
        return self.rows[self.cursor_row].run_id if self.rows else None

    def get_cell(self, run_id: str, key: str) -> str:
        return self.rows[self._index[run_id]].cells[key]

    def get_row_at(self, row: int) -> list[str]:
        return [self.rows[row].cells[k] for k in self.keys]

    def get_cell_at(self, coordinate: tuple[int, int]) -> str:
        row, column = coordinate
        return self.get_row_at(row)[column]

    # ----- the cursor -----------------------------------------------------------------------------
    def move_cursor(self, row: int, announce: bool = True) -> None:
        if not self.rows:
            return
        row = max(0, min(row, len(self.rows) - 1))
        moved = row != self.cursor_row
        self.cursor_row = row
        self._scroll_to_cursor()
        self.refresh()
        if announce and moved:
            self.post_message(self.RowHighlighted(self, self.rows[row].run_id))

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.scrollable_content_region.height - 1)  # less the header
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - max(1, self.scrollable_content_region.height - 2))

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + max(1, self.scrollable_content_region.height - 2))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self.rows) - 1)

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:  # below the header
            self.move_cursor(int(self.scroll_offset.y) + event.y - 1)

    # ----- drawing: only the lines on screen ------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            style = self.get_component_rich_style("runs-table--header")
            text = "".join(_fit(self.header(k), self.column_width(k), COLUMNS[k][2]) for k in self.keys)
            return Strip([Segment(_fit(text, width, False), style)], width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        row = self.rows[index]
        base = self.rich_style
        if index == self.cursor_row:
            base = base + self.get_component_rich_style("runs-table--cursor")
        elif index % 2:
            base = base + self.get_component_rich_style("runs-table--odd")
        segments, used = [], 0
        for key in self.keys:
            cell = _fit(row.cells[key], self.column_width(key), COLUMNS[key][2])
            style = base + Style.parse(STATE_STYLES.get(row.state, "")) if key == "state" else base
            segments.append(Segment(cell, style))
            used += len(cell)
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        return Strip(segments, width).crop(0, width)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.refresh()


def _fit(text: str, width: int, right: bool) -> str:
    """`text` in exactly `width` cells: padded, or cut (a cell never spills into the next column)."""
    text = text[:width]
    return text.rjust(width) if right else text.ljust(width)
