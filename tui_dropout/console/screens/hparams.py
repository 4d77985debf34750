"""`H`: the hyperparameter table of the listed (filtered) runs: the config fields that vary, then final and best
accuracy, the gap and the final loss. Sortable by any column, exportable as CSV, enter goes to a run."""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ...hparams import FIGURE_COLUMNS, cell_text, columns, csv_text, evaluations, value
from ...query import sort_by
from ...safetext import safe, safe_markup
from ...store import RunInfo
from ...store.files import write_text_atomic
from ..widgets.key_bar import KeyBar

DESCENDING = {key for key, _ in FIGURE_COLUMNS if key not in ("loss", "gap")} | {"det_acc", "mc_acc"}  # best first


class HParamsScreen(Screen[str | None]):
    """Dismisses with the run id enter was pressed on (the main view selects it), or None."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Back"),
        Binding("s", "sort", "Sort by this column"),
        Binding("S", "reverse", "Reverse"),
        Binding("e", "export", "CSV"),
        Binding("enter", "go", "Go to run", show=False),
    ]
    DEFAULT_CSS = """
    HParamsScreen DataTable { height: 1fr; }
    HParamsScreen #hp-title { height: 1; background: $panel; }
    """

    def __init__(self, infos: list[RunInfo], exports_dir: Path, title: str = ""):
        super().__init__()
        self.infos = list(infos)
        self.exports_dir = exports_dir
        self.title_text = title
        self.evaluated = evaluations(self.infos)
        self.cols = columns(self.infos, self.evaluated, figures_first=True)  # at 80 columns the figures show
        self.sort_key = "test"
        self.descending = True

    def compose(self) -> ComposeResult:
        yield Static("", id="hp-title")
        # left/right walk the columns; the name stays pinned while they scroll
        yield DataTable(id="hparams", cursor_type="cell", zebra_stripes=True, fixed_columns=1)
        yield KeyBar(self.BINDINGS)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, header in self.cols:
            table.add_column(Text(safe(header)), key=key)  # a config key is run-folder text
        self.fill()
        table.focus()

    def sorted_infos(self) -> list[RunInfo]:
        return sort_by(self.infos, lambda info: value(info, self.sort_key, self.evaluated), self.descending)

    def fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for info in self.sorted_infos():
            table.add_row(*[Text(cell_text(value(info, key, self.evaluated), key)) for key, _ in self.cols],
                          key=info.run_id)
        header = dict(self.cols).get(self.sort_key, self.sort_key)
        self.query_one("#hp-title", Static).update(
            f" {len(self.infos)} runs{safe_markup(self.title_text)} | sorted by {safe_markup(header)} {'desc' if self.descending else 'asc'}"
            f" | left/right: columns")

    def action_sort(self) -> None:
        """Sort by the column under the cursor (again: the other way); a click on a header does the same."""
        table = self.query_one(DataTable)
        key = self.cols[table.cursor_column][0] if self.cols else self.sort_key
        self._sort_by(key)

    def _sort_by(self, key: str) -> None:
        if key == self.sort_key:
            self.descending = not self.descending
        else:
            self.sort_key, self.descending = key, key in DESCENDING
        table = self.query_one(DataTable)
        column, row_key = table.cursor_column, self._row_key()
        self.fill()
        rows = [info.run_id for info in self.sorted_infos()]
        if row_key in rows:  # the cursor stays on its run and column
            table.move_cursor(row=rows.index(row_key), column=column, animate=False)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self._sort_by(str(event.column_key.value))

    def _row_key(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self.fill()

    def action_export(self) -> None:
        path = self.exports_dir / "hparams.csv"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, csv_text(self.sorted_infos()))
        except OSError as exc:
            self.notify(f"cannot write {path}: {exc.strerror or exc}", severity="error", timeout=10)
            return
        self.notify(f"wrote {path.resolve()}")

    def action_go(self) -> None:
        if self._row_key():
            self.dismiss(self._row_key())

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        self.dismiss(str(event.cell_key.row_key.value))
