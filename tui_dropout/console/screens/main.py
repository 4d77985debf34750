"""The main view: the runs list, the selected run's charts and details, and the keys that act on them."""
from __future__ import annotations

import os
import time
from pathlib import Path

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from ... import evaluation
from ... import gpustats
from ...errors import DropoutTuiError
from .. import endings
from ...export import export_folder
from ...launch import Group, cancel, claim_group, resume_group
from ...query import SORTS, QueryError, matches, parse_filter, sort_runs
from ...states import State
from ...store import EVALUATION, RunBusy, RunDir, RunInfo
from ...store import prune
from ...store.notes import NotesError, update_notes
from ...series import step_smoothing
from ...watch import RunsWatcher
from ..widgets.charts import MetricChart, chart_choice
from ..widgets.details import RunDetails
from ..widgets.gpu_panel import GpuPanel
from ..widgets.key_bar import KeyBar
from ..labels import fit_label
from ..widgets.runs_table import FRAME, RunsTable
from .chart_picker import ChartPickerScreen
from .compare import CompareScreen
from .confirm import ConfirmScreen
from .help import HelpScreen
from .hparams import HParamsScreen
from .inspector import InspectorScreen
from .label import LabelScreen
from .log_viewer import LogViewerScreen
from .new_run import NewRunScreen
from .prompt import PromptScreen
from .replay import ReplayScreen

LIVE_REDRAW_SECONDS = 1.0  # progress (epochs, details) of training runs; a key press redraws at once
CHART_SECONDS = 2.0  # a live run's charts, at most this often
NARROW_COLUMNS = 100  # under this width the screen is "narrow" (a class for the stylesheet)
MIN_CHART_COLUMNS = 38  # the charts keep at least this; the runs list takes the rest its columns need
GPU_SECONDS = 2.0  # how often the GPU panel reads NVML (off the UI thread)
TALL_ROWS = 30  # from this height the GPU panel may use more than two rows
SMOOTH = Binding.Group("smooth")
# Key bar order: help and quit first, then by how often a key is used. At 80 columns the bar ends after `R`;
# README ("The console") says so, and `?` lists every key.
BINDINGS = [
    Binding("question_mark", "help", "Help", key_display="?"),
    Binding("q", "app.quit", "Quit"),
    Binding("n", "new_run", "New"),
    Binding("space", "mark", "Mark"),
    Binding("slash", "filter", "Filter", key_display="/"),
    Binding("o", "compare", "Compare"),
    Binding("r", "replay", "Replay"),
    Binding("c", "cancel_run", "Cancel"),
    Binding("R", "resume_run", "Resume"),
    Binding("e", "export", "Export"),
    Binding("l", "label", "Label"),
    Binding("v", "evaluate", "Evaluate"),
    Binding("t", "charts", "Charts"),
    Binding("L", "log", "Log"),
    Binding("H", "hparams", "HParams"),
    Binding("w", "sweep", "Sweep"),
    Binding("b", "calibration", "Calibration"),
    Binding("i", "inside", "Inside"),
    Binding("greater_than_sign", "sort(1)", "Sort", key_display=">"),
    Binding("less_than_sign", "sort(-1)", "Sort back", key_display="<", show=False),
    Binding("g", "go_to", "Go to"),
    Binding("a", "archive", "Archive"),
    Binding("delete", "delete_runs", "Delete", key_display="del"),
    Binding("d", "inspector", "Dropout"),
    Binding("x", "toggle_axis", "Axis"),
    Binding("s", "smooth(1)", "Smooth+", group=SMOOTH),
    Binding("S", "smooth(-1)", "Smooth-", group=SMOOTH),
    Binding("y", "log_scale", "Log y"),
    Binding("z", "full_range", "0-100"),
    Binding("1", "jump(1)", "Jump", key_display="1-9"),
    *[Binding(str(i), f"jump({i})", show=False) for i in range(2, 10)],
    Binding("m", "mark_study", "Mark study"),
]


class MainScreen(Screen):
    BINDINGS = BINDINGS

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
        self._reading_gpus = False
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
        self._gpu_timer = self.set_interval(GPU_SECONDS, self.poll_gpus)
        self.poll_gpus()

    def on_resize(self, event: events.Resize) -> None:
        self.layout_for(event.size.width)

    def layout_for(self, width: int) -> None:
        """The charts keep MIN_CHART_COLUMNS; the list gets the rest its columns need (refresh_list fits them)."""
        self.set_class(width < NARROW_COLUMNS, "narrow")
        room, self.room = self.room, width - MIN_CHART_COLUMNS - FRAME
        if self.is_mounted and room != self.room:  # a resize that leaves the width (the terminal's first few) costs
            self.refresh_list()  # nothing: listing 50,000 runs again is a few tenths of a second

    # ----- the GPU panel ---------------------------------------------------------------------------
    def poll_gpus(self) -> None:
        if not self._reading_gpus:  # a slow NVML call never piles up reads
            self._reading_gpus = True
            self.read_gpus()

    @work(thread=True, group="gpus", exit_on_error=False)
    def read_gpus(self) -> None:
        """NVML can block (a GPU in trouble): read it off the UI thread."""
        try:
            stats = gpustats.read_gpus()
        except Exception:  # gpustats says None for every NVML fault it knows; anything else hides the panel too
            stats = None
        try:
            self.app.call_from_thread(self.gpus_read, stats)
        except RuntimeError:  # the app stopped meanwhile
            pass

    def gpus_read(self, stats: list[gpustats.GpuStat] | None) -> None:
        self._reading_gpus = False
        if stats is None and gpustats.unavailable():  # no NVML here at all: stop asking
            self._gpu_timer.stop()
        rows = 2 if self.app.size.height < TALL_ROWS else 8
        self.query_one(GpuPanel).show(stats, [w.info for w in self.watcher.runs.values()], rows)

    # ----- what the app's tick reports ------------------------------------------------------------
    def runs_changed(self, change: str) -> None:
        """The watcher saw "structure" (runs came, went, changed state), "progress" or nothing ("")."""
        if not self.is_attached or not self.query(RunsTable):  # quitting: the widgets are gone, a tick may still come
            return
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

    def listed(self) -> list[RunInfo]:
        """The runs the list shows: those that match the filter, in the chosen order."""
        infos = self.watcher.ordered()
        if self._terms:
            infos = [info for info in infos if matches(info, self._terms)]
        return sort_runs(infos, self.sort_by, self.sort_reverse) if self.sort_by != "newest" or self.sort_reverse \
            else infos

    def refresh_list(self) -> None:
        self._progress_pending = False
        every = {run_id for run_id in self.watcher.runs}
        infos = self.shown = self.listed()
        ids = [i.run_id for i in infos]
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
        count = f"{len(infos)} of {len(every)} runs" if self._terms else f"{len(infos)} runs"
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
            self.refresh_list()
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
        self.refresh_list()

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
        self.refresh_list()
        self.redraw(force=True)

    def action_smooth(self, delta: int) -> None:
        self.smoothing = step_smoothing(self.smoothing, delta)
        self.refresh_list()
        self.redraw(force=True)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_charts(self) -> None:
        """Pick the chart each pane shows (the registry: tui_dropout/charts.py)."""
        self.app.push_screen(ChartPickerScreen(), lambda changed: changed and self.redraw(force=True))

    def action_log_scale(self) -> None:
        choice = chart_choice(self.app)
        choice.log = not choice.log
        if not any(spec.log_ok for spec in choice.charts()):
            self.notify(f"log y scale {'on' if choice.log else 'off'}: it applies to loss and learning rate charts "
                        "(t picks the charts)")
        self.redraw(force=True)

    def action_full_range(self) -> None:
        """Accuracy charts: the data's range (the default) or all of 0-100."""
        choice = chart_choice(self.app)
        choice.full = not choice.full
        self.redraw(force=True)

    def action_log(self) -> None:
        run = self.watcher.run(self.selected) if self.selected else None
        if run is None:
            self.notify("no run selected", severity="warning")
            return
        self.app.push_screen(LogViewerScreen(run))

    def on_screen_resume(self) -> None:
        if self._charts_stamp and chart_choice(self.app).stamp() != self._charts_stamp:
            self.redraw(force=True)  # charts were picked on another screen (compare, replay)

    def action_inspector(self) -> None:
        self.app.push_screen(InspectorScreen())

    def action_compare(self) -> None:
        runs = self.chosen()
        if len(runs) < 2:
            self.notify("mark two or more runs with space, then press o", severity="warning")
            return
        self.app.push_screen(CompareScreen(runs, self.watcher, self.axis, self.smoothing))

    def action_replay(self) -> None:
        runs = self.chosen()
        if not runs:
            self.notify("no run to replay", severity="warning")
            return
        self.app.push_screen(ReplayScreen(runs, self.watcher, self.axis, self.smoothing))

    def action_new_run(self) -> None:
        self.app.push_screen(NewRunScreen(self.app.form), self.app.launch_requested)

    def action_export(self) -> None:
        run = self.watcher.run(self.selected) if self.selected else None
        if run is None:
            return

        def write(yes: bool | None = True) -> None:
            if not yes:
                return
            try:
                target = export_folder(run, self.app.exports_dir)
            except (OSError, ValueError) as exc:
                self.notify(f"export of {run.run_id} failed: {exc}", severity="error", timeout=10)
                return
            self.notify(f"exported {run.run_id} to {target.resolve()}", timeout=8)

        earlier = Path(self.app.exports_dir) / run.run_id
        if earlier.exists() or earlier.is_symlink():  # as the CLI refuses without --force: asked, not overwritten
            self.app.push_screen(ConfirmScreen(f"Replace the earlier export of {run.run_id}?\n{earlier.resolve()}"),
                                 write)
            return
        write()

    def action_cancel_run(self) -> None:
        run = self.watcher.run(self.selected) if self.selected else None
        if run is None:
            return
        info = self.watcher.runs[run.run_id].info
        if info.state not in (State.RUNNING, State.QUEUED, State.LOST):
            self.notify(f"{run.run_id} is {info.state}: nothing to cancel", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                try:
                    self.notify(f"{run.run_id}: {cancel(run)}")
                except (OSError, DropoutTuiError) as exc:
                    self.notify(f"cancel of {run.run_id} failed: {exc}", severity="error", timeout=10)
                self.watcher.touch(run.run_id)

        name = f"{run.run_id} ({info.label})" if info.label != info.preset else run.run_id
        if info.state == State.QUEUED and not info.status.get("pid"):
            where = "the queue" if info.status.get("backend") == "queue" else "its launch"
            self.app.push_screen(ConfirmScreen(f"Cancel run {name}?\nIt is waiting for {where}: it leaves it and "
                                               "never starts (R would start it from epoch 1)."), answered)
            return
        group = info.status.get("group")
        partners = [r for r in group if r != run.run_id] if isinstance(group, list) else []
        also = (f"\nIt trains fused with {len(partners)} other run(s) in one process: they stop too."
                if partners else "")
        self.app.push_screen(ConfirmScreen(f"Cancel run {name}?\nIt stops after the current step and keeps a "
                                           f"checkpoint (R resumes it).{also}"), answered)

    def action_evaluate(self) -> None:
        """Evaluate the marked runs (or the selected one) in the background: dropout off vs MC dropout."""
        if not hasattr(self, "_evaluations"):
            self._evaluations: list = []  # background evaluations, reaped as they end
            self.set_interval(1.0, self._reap_evaluations)
        started = []
        for run_id in self.chosen():
            run = self.watcher.run(run_id)
            if run is None:
                continue
            try:
                self._evaluations.append(evaluation.start(run, evaluation.DEFAULT_PASSES))
            except (evaluation.Refused, OSError) as exc:
                self.notify(f"cannot evaluate: {exc}", severity="warning", timeout=8)
                continue
            started.append(run_id)
            self.watcher.touch(run_id)
        if started:
            listed = {i.run_id for i in self.shown}
            hidden = sum(run_id not in listed for run_id in started)
            self.notify(f"evaluating {', '.join(started)} in the background (dropout off and MC dropout "
                        f"x{evaluation.DEFAULT_PASSES}); the results show in each run's details"
                        + (f" ({hidden} marked but hidden by the filter)" if hidden else ""), timeout=8)

    def _reap_evaluations(self) -> None:
        self._evaluations = [proc for proc in self._evaluations if proc.poll() is None]

    def action_resume_run(self) -> None:
        run = self.watcher.run(self.selected) if self.selected else None
        if run is None:
            return
        try:
            group = resume_group(self.app.store, run)
            token = claim_group(group)
        except (OSError, DropoutTuiError) as exc:
            self.notify(f"resume of {run.run_id} failed: {exc}", severity="error", timeout=10)
            return
        if self.app.start_groups([Group(group, token)], resume=True):
            self.notify("resuming " + ", ".join(r.run_id for r in group))
        for member in group:
            self.watcher.touch(member.run_id)

    # ----- finding, naming and pruning runs -----------------------------------------------------------
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
        self.refresh_list()
        self.redraw(force=True)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.input.display = bool(self._terms)  # an active filter stays in sight
        self.query_one(RunsTable).focus()

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and not (box.has_focus or self._terms) and self.marked:
            event.stop()
            self.notify(f"unmarked {len(self.marked)} run{'s' * (len(self.marked) > 1)}", timeout=3)
            self.marked = set()
            self.refresh_list()
            return
        if event.key == "escape" and (box.has_focus or self._terms):
            event.stop()
            box.value = ""
            self.filter_text, self._terms = "", []
            box.display = False
            self.query_one(RunsTable).focus()
            self.refresh_list()
            self.redraw(force=True)

    def action_sort(self, step: int) -> None:
        """`>` orders the list by the next column, `<` flips the order."""
        if step < 0:
            self.sort_reverse = not self.sort_reverse
        else:
            keys = list(SORTS)
            self.sort_by, self.sort_reverse = keys[(keys.index(self.sort_by) + 1) % len(keys)], False
        self.notify(f"sorted by {SORTS[self.sort_by][0]}{', reversed' if self.sort_reverse else ''}", timeout=3)
        self.refresh_list()  # the cursor stays on the selected run, wherever the order puts it

    def action_go_to(self) -> None:
        """Jump to any run: its number in the list, or part of its id or name."""
        def answered(text: str | None) -> None:
            text = (text or "").strip()
            if not text:
                return
            table = self.query_one(RunsTable)
            if text.isdigit():
                if 1 <= int(text) <= len(self.shown):
                    table.move_cursor(int(text) - 1)
                    return
                self.notify(f"no run {text}: the list has {len(self.shown)}", severity="warning")
                return
            needle = text.lower()
            rows = [row for row, info in enumerate(self.shown)
                    if needle in info.run_id.lower() or needle in info.label.lower()]
            if not rows:
                self.notify(f"no listed run's id or name holds {text!r}", severity="warning")
                return
            table.move_cursor(rows[0])
            if len(rows) > 1:
                self.notify(f"the first of {len(rows)} runs that hold {text!r} (/ filters to them all)", timeout=4)

        self.app.push_screen(PromptScreen("Go to run: its number, or part of its id or name"), answered)

    def action_label(self) -> None:
        """Name, tag and annotate the marked runs, or the selected one."""
        run_ids = self.chosen()
        infos = [self.watcher.runs[r].info for r in run_ids if r in self.watcher.runs]
        if not infos:
            self.notify("no run to label", severity="warning")
            return
        several = len(infos) > 1
        one = infos[0]
        title = f"Label {len(infos)} marked runs" if several else f"Label {one.run_id} ({one.study_label})"

        def answered(values: dict | None) -> None:
            if values is None:
                return
            done = []
            for info in infos:
                try:
                    update_notes(info.path, **values)
                except (NotesError, OSError) as exc:
                    self.notify(f"cannot label {info.run_id}: {exc}", severity="error", timeout=10)
                    continue
                done.append(info.run_id)
                self.watcher.touch(info.run_id)
            if done:
                self.notify(f"labelled {len(done)} run{'s' * (len(done) > 1)}")
                self.app.watcher.refresh()
                self.refresh_list()
                self.redraw(force=True)

        self.app.push_screen(LabelScreen(title, "" if several else one.name, [] if several else one.tags,
                                         "" if several else one.note, several), answered)

    def action_sweep(self) -> None:
        """The study's answer: the selected run's study, its figure against the field it swept."""
        from .sweep import SweepScreen

        watched = self.watcher.runs.get(self.selected) if self.selected else None
        study = watched.info.config.get("study") if watched else None
        if not isinstance(study, str) or not study:
            self.notify("the selected run belongs to no study (a study launched with a grid or seeds has a sweep)",
                        severity="warning")
            return
        infos = [i for i in reversed(self.watcher.ordered()) if i.config.get("study") == study]  # launch order
        self.app.push_screen(SweepScreen(infos, study))

    def action_calibration(self) -> None:
        """The selected run's reliability diagram from its stored evaluation: dropout off beside MC dropout."""
        from .calibration import CalibrationScreen

        watched = self.watcher.runs.get(self.selected) if self.selected else None
        data = evaluation.read(watched.run.path) if watched else None
        if not data or evaluation.columns(data)["det_acc"] is None:
            self.notify("no finished evaluation for this run: v evaluates it (dropout off and MC dropout)",
                        severity="warning")
            return
        self.app.push_screen(CalibrationScreen(watched.info, data))

    def action_inside(self) -> None:
        """What dropout did inside the network, for the marked runs (or the selected one), from their inside.json."""
        from ...safetext import safe
        from ...store.inside import load_inside
        from ..labels import run_names
        from .inside import InsideScreen

        watched = [self.watcher.runs[r] for r in self.chosen() if r in self.watcher.runs]
        names = run_names([w.info for w in watched])
        runs, missing = [], []
        for w in watched:
            data, problem = load_inside(w.run.path)
            name = names[w.info.run_id]
            (runs.append((name, data)) if data else missing.append(f"{name} ({problem})" if problem else name))
        if not runs:
            damaged = [m for m in missing if m.endswith(")")]
            self.notify(safe(damaged[0]) if damaged else "no activations recorded for this run: they are recorded "
                        "at each evaluated epoch (runs trained before this version have none)", severity="warning")
            return
        self.app.push_screen(InsideScreen(runs, missing))

    def action_hparams(self) -> None:
        """The hyperparameter table of the listed runs."""
        infos = [info for info in self.shown if not info.damaged]
        if not infos:
            self.notify("no runs to tabulate", severity="warning")
            return

        def chosen(run_id: str | None) -> None:
            if run_id and any(i.run_id == run_id for i in self.shown):
                self.select(run_id)
                self.query_one(RunsTable).move_cursor([i.run_id for i in self.shown].index(run_id), announce=False)

        title = f" (filter: {self.filter_text})" if self._terms else ""
        self.app.push_screen(HParamsScreen(infos, self.app.exports_dir, title), chosen)

    def _prune(self, verb: str, act, question: str, default: bool) -> None:
        """Ask, then archive or delete the marked runs (or the selected one); a running run is refused."""
        infos = [self.watcher.runs[r].info for r in self.chosen() if r in self.watcher.runs]
        if not infos:
            self.notify("no run selected", severity="warning")
            return
        listed = {i.run_id for i in self.shown}
        hidden = sum(i.run_id not in listed for i in infos)
        busy = [i for i in infos if i.state in (State.RUNNING, State.QUEUED)]
        if busy:
            self.notify(f"{busy[0].run_id} is {busy[0].state}: cancel it first (nothing was {verb})",
                        severity="warning", timeout=8)
            return
        room = max(4, self.app.size.height - 12)  # the dialog's other rows, and a margin
        shown = infos if len(infos) <= room else infos[:room - 1]
        names = "\n".join(f"  {i.run_id}  {i.state:9} {fit_label(i.label, 32)}" for i in shown)
        more = f"\n  and {len(infos) - len(shown)} more" if len(infos) > len(shown) else ""
        if hidden:
            more += f"\n  ({hidden} of them marked but hidden by the filter)"

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            done = 0
            for info in infos:
                try:
                    act(info)
                    done += 1
                except (RunBusy, OSError) as exc:
                    self.notify(f"{info.run_id} not {verb}: {exc}", severity="error", timeout=10)
            self.marked -= {i.run_id for i in infos}
            if done:
                self.notify(f"{verb} {done} run{'s' * (done > 1)}")
            self.watcher.refresh()
            self.refresh_list()
            self.redraw(force=True)

        runs = f"{len(infos)} run{'s' * (len(infos) > 1)}"
        self.app.push_screen(ConfirmScreen(question.format(runs=runs) + f"\n{names}{more}", default), answered)

    def action_archive(self) -> None:
        root = self.app.store.root
        self._prune("archived", lambda info: prune.archive(root, RunDir(info.path)),
                    "Archive {runs}? (moved to runs/.archive; `dropout-tui unarchive` brings them back)", True)

    def action_delete_runs(self) -> None:
        self._prune("deleted", lambda info: prune.remove(RunDir(info.path)),
                    "Delete {runs} for good, with every file? (Enter: no)", False)


def _mtime(path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None
