"""`H`: the hyperparameter table of the listed (filtered) runs: the config fields that vary, then final and best
accuracy, the gap and the final loss. Sortable by any column, exportable as CSV, enter goes to a run."""
from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ...hparams import FIGURE_COLUMNS, cell_text, columns, csv_text, evaluations, value
from ...query import sort_by
from ...store import RunInfo
from ...store.files import write_text_atomic
from ..widgets.key_bar import KeyBar

DESCENDING = {key for key, _ in FIGURE_COLUMNS if key not in ("loss", "gap")} | {"det_acc", "mc_acc"}  # best first


class HParamsScreen(Screen[str | None]):
    """Dismisses with the run id enter was pressed on (the main view selects it), or None."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Back"),
        Binding("s", "sort", "Sort: next column"),
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
        self.cols = columns(self.infos, self.evaluated)
        self.sort_key = "test"
        self.descending = True

    def compose(self) -> ComposeResult:
        yield Static("", id="hp-title")
        yield DataTable(id="hparams", cursor_type="row", zebra_stripes=True)
        yield KeyBar(self.BINDINGS)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, header in self.cols:
            table.add_column(header, key=key)
        self.fill()
        table.focus()

    def sorted_infos(self) -> list[RunInfo]:
        return sort_by(self.infos, lambda info: value(info, self.sort_key, self.evaluated), self.descending)

    def fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for info in self.sorted_infos():
            table.add_row(*[cell_text(value(info, key, self.evaluated), key) for key, _ in self.cols],
                          key=info.run_id)
        header = dict(self.cols).get(self.sort_key, self.sort_key)
        self.query_one("#hp-title", Static).update(
            f" {len(self.infos)} runs{self.title_text} | sorted by {header} {'desc' if self.descending else 'asc'}"
            f" | fields that vary: {', '.join(h for k, h in self.cols if k.startswith('config.')) or 'none'}")

    def action_sort(self) -> None:
        """Sort by the next column, left to right (a click on a header sorts by that one)."""
        keys = [k for k, _ in self.cols]
        at = keys.index(self.sort_key) if self.sort_key in keys else -1
        self.sort_key = keys[(at + 1) % len(keys)]
        self.descending = self.sort_key in DESCENDING
        self.fill()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key == self.sort_key:
            self.descending = not self.descending
        else:
            self.sort_key, self.descending = key, key in DESCENDING
        self.fill()

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
        table = self.query_one(DataTable)
        if table.row_count:
            self.dismiss(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(str(event.row_key.value))
