"""The main view: the runs list, the selected run's charts and details, and the keys that change what they show.
The keys that act on runs are in run_actions.py, those that open other screens in open_actions.py, the key table
in ../actions.py."""
from __future__ import annotations

import os
import time

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from ...query import SORTS, QueryError, matches, parse_filter, sort_runs
from ...series import step_smoothing
from ...states import State
from ...store import EVALUATION, RunInfo
from ...watch import RunsWatcher
from .. import endings
from ..actions import BINDINGS
from ..commands import MainActions
from ..messages import ListChanged
from ..widgets.charts import MetricChart, chart_choice
from ..widgets.details import RunDetails
from ..widgets.gpu_panel import GpuPanel
from ..widgets.key_bar import KeyBar
from ..widgets.runs_table import FRAME, RunsTable
from .open_actions import OpenActions
from .run_actions import RunActions

LIVE_REDRAW_SECONDS = 1.0  # progress (epochs, details) of training runs; a key press redraws at once
CHART_SECONDS = 2.0  # a live run's charts, at most this often
NARROW_COLUMNS = 100  # under this width the screen is "narrow" (a class for the stylesheet)
MIN_CHART_COLUMNS = 38  # the charts keep at least this; the runs list takes the rest its columns need


class MainScreen(RunActions, OpenActions, Screen):
    """The view's state (selection, marks, filter, order, axis, smoothing) and its drawing. A change to what the
    list shows posts ListChanged (or arrives from the watcher as RunsRefreshed): the list is drawn once for it."""

    BINDINGS = BINDINGS  # the key table: actions.py
    COMMANDS = {MainActions}

    def __init__(self):
        super().__init__()
        self.selected: str | None = None
        self.marked: set[str] = set()
        self.axis = "epoch"
        self.smoothing = 0.0
        self._drawn: tuple | None = None
        self._drawn_at = 0.0
        self._charts_at = 0.0
        self._charts_stamp: tuple = ()  # the chart choice the panes were drawn with
        self._statusline = ""
        self._progress_pending = False
        self._unreadable: set[str] = set()  # runs whose files are damaged or could not be shown; told once each
        self.room = 0  # cells the runs list may use, its frame left out
        self._select_when_listed: str | None = None  # a run just launched: selected once the watcher lists it
        self.filter_text = ""  # `/`: only the runs that match are listed
        self._terms: list = []
        self.sort_by = "newest"  # `>` / `<`: the list's order
        self.sort_reverse = False
        self.shown: list[RunInfo] = []  # the runs listed, in list order
        self._endings = endings.Endings()

    @property
    def watcher(self) -> RunsWatcher:
        return self.app.watcher

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield RunsTable(id="runs")
                yield RunDetails(id="details")
            with Vertical(id="charts"):  # the panes show the session's chart choice (t), loss over accuracy at first
                upper, lower = chart_choice(self.app).panes
                yield MetricChart(upper, id="loss")
                yield MetricChart(lower, id="acc")
        yield GpuPanel(id="gpus")
        yield Input(placeholder="text tag:T state:S preset:P p_fc>=0.3 test>50 (enter, escape)", id="filter")
        yield Static("", id="statusline")
        yield KeyBar(self.BINDINGS)

    def on_mount(self) -> None:
        self.layout_for(self.app.size.width)
        infos = self.watcher.ordered()
        self._endings.news(infos)  # what has ended already is no news
        # the newest run with an epoch to draw: a fresh console does not open on a queued run's empty charts
        first = next((i for i in infos if i.epoch), infos[0] if infos else None)
        self.selected = first.run_id if first else None
        self.refresh_list()
        self.redraw(force=True)
        self.query_one(RunsTable).focus()

    def on_resize(self, event: events.Resize) -> None:
        self.layout_for(event.size.width)

    def layout_for(self, width: int) -> None:
        """The charts keep MIN_CHART_COLUMNS; the list gets the rest its columns need (refresh_list fits them)."""
        self.set_class(width < NARROW_COLUMNS, "narrow")
        room, self.room = self.room, width - MIN_CHART_COLUMNS - FRAME
        if self.is_mounted and room != self.room:  # a resize that leaves the width (the terminal's first few) costs
            self.list_changed()  # nothing: listing 50,000 runs again is a few tenths of a second

    # ----- what changed: the watcher's reports and the view's own changes -------------------------------------
    def runs_changed(self, change: str) -> None:
        """The watcher saw "structure" (runs came, went, changed state), "progress" or nothing ("")."""
        if not self.is_attached or not self.query(RunsTable) or not self.query("#statusline"):
            return  # quitting: the widgets are going (one by one, between messages), a tick may still come
        self._progress_pending |= change == "progress"
        if change == "structure":
            self.tell_endings()
            self.refresh_list()
            self.redraw(force=True)
        elif time.monotonic() - self._drawn_at >= LIVE_REDRAW_SECONDS:
            if self._progress_pending:
                self.refresh_list()
            self.redraw()

    def tell_endings(self) -> None:
        """A run this console watched ended: a notification (one per state reached), and the bell."""
        bell = False
        for title, text, severity, rings in endings.messages(self._endings.news(self.watcher.ordered())):
            self.notify(text, title=title, severity=severity, timeout=15 if severity == "information" else 30)
            bell |= rings
        if bell and self.app.bell_on:
            self.app.bell()

    def select(self, run_id: str) -> None:
        self.selected = run_id
        self.refresh_list()
        self.redraw(force=True)

    def list_changed(self) -> None:
        """The marks, filter, order or view changed: the list and charts are drawn again, once for every change
        waiting."""
        self.post_message(ListChanged())

    def charts_changed(self) -> None:
        """What the charts show changed (not the list): they are drawn again."""
        self.post_message(ListChanged(listing=False))

    @on(ListChanged)
    def _list_changed(self, message: ListChanged) -> None:
        if message.select is not None:
            self._select_when_listed = message.select
        if not self.is_attached or not self.query(RunsTable):
            return
        if message.listing:
            self.refresh_list()
        self.redraw(force=True)

    def listed(self) -> list[RunInfo]:
        """The runs the list shows: those that match the filter, in the chosen order."""
        infos = self.watcher.ordered()
        if self._terms:
            infos = [info for info in infos if matches(info, self._terms)]
        return sort_runs(infos, self.sort_by, self.sort_reverse) if self.sort_by != "newest" or self.sort_reverse \
            else infos

    def refresh_list(self) -> None:
        self._progress_pending = False
        every = set(self.watcher.runs)
        infos = self.shown = self.listed()
        ids = [i.run_id for i in infos]
        if self._select_when_listed in ids:
            self.selected, self._select_when_listed = self._select_when_listed, None
        if self.selected not in ids:  # gone (deleted, archived, filtered out): the run now on the cursor's row
            row = self.query_one(RunsTable).cursor_row
            self.selected = ids[min(row, len(ids) - 1)] if ids else None
        self.marked &= every  # a mark outlives a filter that hides its run
        self.watcher.watch = self.marked | ({self.selected} if self.selected else set())  # looked at every tick
        table = self.query_one(RunsTable)
        table.sorted_by(self.sort_by, SORTS[self.sort_by][2] == self.sort_reverse)
        if table.fit(self.room, infos):
            self.query_one("#left").styles.width = table.pane_width
        table.show(infos, self.marked, self.selected)
        running = sum(i.state == State.RUNNING for i in infos)
        noun = "run" if len(every if self._terms else infos) == 1 else "runs"
        count = f"{len(infos)} of {len(every)} {noun}" if self._terms else f"{len(infos)} {noun}"
        view = (f" | filter {self.filter_text}" if self._terms else "") + \
            (f" | sort {self.sort_by}{' reversed' if self.sort_reverse else ''}"
             if self.sort_by != "newest" or self.sort_reverse else "")
        line = (f" {count}, {running} running, {len(self.marked)} marked{view} | x-axis {self.axis} | "
                f"EMA {self.smoothing} | {self.app.store.root}")
        if line != self._statusline:
            self._statusline = line
            self.query_one("#statusline", Static).update(line)

    def redraw(self, force: bool = False) -> None:
        """Charts and details for the selected run, when its data or the view changed."""
        run_id = self.selected
        watched = self.watcher.runs.get(run_id) if run_id else None
        self._drawn_at = time.monotonic()
        try:
            series = self.watcher.series(run_id) if run_id else None
            # the last epoch held: a long series thins itself and may keep its length as it grows
            last = (series.epochs[-1] if series.epochs else 0, len(series.acc_epochs)) if series else (0, 0)
            key = (run_id, len(series.epochs) if series else 0, self.axis, self.smoothing,
                   watched.info.state if watched else None, watched.info.epoch if watched else None,
                   _mtime(watched.run.file(EVALUATION)) if watched else None,  # an evaluation's progress
                   last, bool(run_id and self.watcher.loading(run_id)))
            if not force and key == self._drawn:
                return
            # a live run's charts follow its epochs every CHART_SECONDS (a plotext build is the console's
            # dearest work); its details every tick; anything else (a key, another run, the end of a
            # background read of its metrics) at once
            view = (key[0], key[2], key[3], key[4], key[8])  # run, axis, smoothing, state, loading: not the epochs
            choice = chart_choice(self.app)
            charts = force or self._drawn is None or view != (self._drawn[0], *self._drawn[2:5], self._drawn[8]) or \
                time.monotonic() - self._charts_at >= CHART_SECONDS or choice.stamp() != self._charts_stamp
            self._drawn = key
            if charts:
                self._charts_at = time.monotonic()
                self._charts_stamp = choice.stamp()
                named = [(watched.info.preset, series)] if watched and series else []
                for pane, key in zip(self.query(MetricChart), choice.panes):
                    pane.metric = key
                    pane.draw(named, self.axis, self.smoothing, log=choice.log)
            self.query_one(RunDetails).show(watched.run if watched else None, watched.info if watched else None,
                                            empty="no run matches the filter: escape clears it" if self._terms
                                            else None)
            if watched and watched.info.damaged and run_id not in self._unreadable:
                self._unreadable.add(run_id)
                self.notify(f"{run_id} is damaged: {watched.info.problem}", severity="warning", timeout=10)
        except Exception as exc:  # a run folder's files are outside our control: say so, keep the console up
            self._drawn = None
            if run_id not in self._unreadable:
                self._unreadable.add(run_id)
                self.notify(f"cannot show {run_id}: {type(exc).__name__}: {exc}", severity="error", timeout=10)

    @on(RunsTable.RowHighlighted, "#runs")
    def _row_highlighted(self, event: RunsTable.RowHighlighted) -> None:
        if event.run_id != self.selected:
            self.selected = event.run_id
            self.watcher.watch = self.marked | {self.selected}
            self.redraw(force=True)

    # ----- keys ------------------------------------------------------------------------------------
    def action_jump(self, n: int) -> None:
        table = self.query_one(RunsTable)
        if n <= table.row_count:
            table.move_cursor(row=n - 1)

    def action_mark(self) -> None:
        """Mark or unmark the selected run and move to the next one (space space space marks a run of rows)."""
        if self.selected:
            self.marked ^= {self.selected}
            self.refresh_list()  # now, before the cursor moves on: the row it leaves shows its mark
            self.query_one(RunsTable).action_cursor_down()

    def action_mark_study(self) -> None:
        """Mark every run launched in the selected run's study (unmark them when all are marked)."""
        watched = self.watcher.runs.get(self.selected) if self.selected else None
        if watched is None:
            self.notify("no run selected", severity="warning")
            return
        study = watched.info.config.get("study")
        if not study:
            self.notify("this run was launched alone, not in a study: space marks it", severity="warning")
            return
        runs = {w.info.run_id for w in self.watcher.runs.values() if w.info.config.get("study") == study}
        self.marked = self.marked - runs if runs <= self.marked else self.marked | runs
        self.list_changed()

    def chosen(self) -> list[str]:
        """The marked runs in list order, else the selected one."""
        order = [i.run_id for i in self.watcher.ordered()]
        if self.shown:
            listed = [i.run_id for i in self.shown]
            order = listed + [r for r in order if r not in set(listed)]
        marked = [r for r in order if r in self.marked]
        return marked or ([self.selected] if self.selected else [])

    def action_toggle_axis(self) -> None:
        self.axis = "time" if self.axis == "epoch" else "epoch"
        self.list_changed()  # the status line names the axis

    def action_smooth(self, delta: int) -> None:
        self.smoothing = step_smoothing(self.smoothing, delta)
        self.list_changed()  # the status line names the smoothing

    def action_log_scale(self) -> None:
        choice = chart_choice(self.app)
        choice.log = not choice.log
        if not any(spec.log_ok for spec in choice.charts()):
            self.notify(f"log y scale {'on' if choice.log else 'off'}: it applies to loss and learning rate charts "
                        "(t picks the charts)")
        self.charts_changed()

    def action_full_range(self) -> None:
        """Accuracy charts: the data's range (the default) or all of 0-100."""
        choice = chart_choice(self.app)
        choice.full = not choice.full
        self.charts_changed()

    def on_screen_resume(self) -> None:
        if self._charts_stamp and chart_choice(self.app).stamp() != self._charts_stamp:
            self.charts_changed()  # charts were picked on another screen (compare, replay)

    # ----- finding runs -------------------------------------------------------------------------------------
    def action_filter(self) -> None:
        """Show the filter line and type into it; the list follows each key typed."""
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        try:
            terms = parse_filter(event.value)
        except QueryError as exc:  # half-typed (`p_fc>`): keep the last good filter and say what is wrong
            event.input.border_subtitle = str(exc).removeprefix("filter: ")
            event.input.add_class("-invalid")
            return
        event.input.border_subtitle = ""
        event.input.remove_class("-invalid")
        self.filter_text, self._terms = event.value.strip(), terms
        self.list_changed()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.input.display = bool(self._terms)  # an active filter stays in sight
        self.query_one(RunsTable).focus()

    def action_clear(self) -> None:
        """Escape: the filter first (typed or kept), then every mark."""
        box = self.query_one("#filter", Input)
        if box.has_focus or self._terms:
            box.value = ""
            self.filter_text, self._terms = "", []
            box.display = False
            self.query_one(RunsTable).focus()
            self.list_changed()
        elif self.marked:
            self.notify(f"unmarked {len(self.marked)} run{'s' * (len(self.marked) > 1)}", timeout=3)
            self.marked = set()
            self.list_changed()

    def action_sort(self, step: int) -> None:
        """`>` orders the list by the next column, `<` flips the order."""
        if step < 0:
            self.sort_reverse = not self.sort_reverse
        else:
            keys = list(SORTS)
            self.sort_by, self.sort_reverse = keys[(keys.index(self.sort_by) + 1) % len(keys)], False
        self.notify(f"sorted by {SORTS[self.sort_by][0]}{', reversed' if self.sort_reverse else ''}", timeout=3)
        self.list_changed()  # the cursor stays on the selected run, wherever the order puts it

def _mtime(path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None
