"""The console app: runs list, live charts and details; keys open the form, comparison, replay and more."""
from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Static

from ..config import ConfigError
from ..export import export_folder
from ..fusion import fusable
from ..launcher import TrainerProcess, cancel, claim_group, resume_group
from ..preflight import preflight
from ..series import step_smoothing
from ..store import RunBusy, RunStore
from ..watch import RunsWatcher
from .messages import LaunchRequest
from .screens.compare import CompareScreen
from .screens.confirm import ConfirmScreen
from .screens.help import HelpScreen
from .screens.inspector import InspectorScreen
from .screens.new_run import NewRunScreen, config_from_form
from .screens.replay import ReplayScreen
from .widgets.charts import MetricChart
from .widgets.details import RunDetails
from .widgets.runs_table import RunsTable

# Keys that act on the main view's list; off (and out of the footer) while another screen is on top.
MAIN_VIEW_ACTIONS = {"new_run", "mark", "compare", "replay", "export", "cancel_run", "resume_run", "toggle_axis",
                     "smooth", "inspector", "jump"}
TICK_SECONDS = 0.5  # disk polling; new runs and state changes show within a tick
LIVE_REDRAW_SECONDS = 1.0  # progress (epochs, charts, details) of training runs; a key press redraws at once


class DropoutConsole(App):
    CSS_PATH = "app.tcss"
    TITLE = "dropout-tui"
    BINDINGS = [
        Binding("n", "new_run", "New"),
        Binding("space", "mark", "Mark"),
        Binding("o", "compare", "Compare"),
        Binding("r", "replay", "Replay"),
        Binding("e", "export", "Export"),
        Binding("c", "cancel_run", "Cancel"),
        Binding("R", "resume_run", "Resume"),
        Binding("x", "toggle_axis", "x-axis"),
        Binding("s", "smooth(1)", "Smooth+"),
        Binding("S", "smooth(-1)", "Smooth-"),
        Binding("d", "inspector", "Dropout"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("1", "jump(1)", "Jump", key_display="1-9"),
        *[Binding(str(i), f"jump({i})", show=False) for i in range(2, 10)],
    ]

    def __init__(self, runs_dir: Path | str | None = None, exports_dir: Path | str | None = None):
        super().__init__()
        self.store = RunStore(runs_dir)
        self.exports_dir = Path(exports_dir) if exports_dir else Path("exports")
        self.watcher = RunsWatcher(self.store)
        self.selected: str | None = None
        self.marked: set[str] = set()
        self.axis = "epoch"
        self.smoothing = 0.0
        self.processes: list[TrainerProcess] = []
        self.processes_lock = threading.Lock()  # the launch worker adds, the tick reaps
        self.form_values: tuple[str, dict[str, str]] | None = None
        self._drawn: tuple | None = None
        self._drawn_at = 0.0
        self._statusline = ""
        self._progress_pending = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield RunsTable(id="runs")
            with Vertical(id="right"):
                with Horizontal(id="charts"):
                    yield MetricChart("loss", id="loss")
                    yield MetricChart("accuracy", id="acc")
                yield RunDetails(id="details")
        yield Static("", id="statusline")
        yield Footer()

    def on_mount(self) -> None:
        self.watcher.refresh()
        infos = self.watcher.ordered()
        self.selected = infos[0].run_id if infos else None
        self.refresh_list()
        self.redraw(force=True)
        self.set_interval(TICK_SECONDS, self.tick)
        self.query_one(RunsTable).focus()
        self.screen.set_class(self.size.width < 100, "narrow")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        return not (action in MAIN_VIEW_ACTIONS and len(self.screen_stack) > 1)

    def on_resize(self, event) -> None:
        self.screen.set_class(event.size.width < 100, "narrow")

    # ----- the 2 Hz loop -----------------------------------------------------------------------
    def tick(self) -> None:
        with self.processes_lock:
            self.processes = [p for p in self.processes if p.poll() is None]  # reap finished trainers
        change = self.watcher.refresh()
        self._progress_pending |= change == "progress"
        if change == "structure":
            self.refresh_list()
            self.redraw(force=True)
        elif time.monotonic() - self._drawn_at >= LIVE_REDRAW_SECONDS:
            if self._progress_pending:
                self.refresh_list()
            self.redraw()

    def refresh_list(self) -> None:
        self._progress_pending = False
        infos = self.watcher.ordered()
        ids = [i.run_id for i in infos]
        if self.selected not in ids:
            self.selected = ids[0] if ids else None
        self.marked &= set(ids)
        self.query_one(RunsTable).show(infos, self.marked, self.selected)
        running = sum(i.state == "running" for i in infos)
        line = (f" ? help | {len(infos)} runs, {running} running, {len(self.marked)} marked | x-axis {self.axis} | "
                f"EMA {self.smoothing} | {self.store.root}")
        if line != self._statusline:
            self._statusline = line
            self.query_one("#statusline", Static).update(line)

    def redraw(self, force: bool = False) -> None:
        """Charts and details for the selected run, when its data or the view changed."""
        run_id = self.selected
        series = self.watcher.series(run_id) if run_id else None
        watched = self.watcher.runs.get(run_id) if run_id else None
        key = (run_id, len(series.epochs) if series else 0, self.axis, self.smoothing,
               watched.info.state if watched else None, watched.info.epoch if watched else None)
        self._drawn_at = time.monotonic()
        if not force and key == self._drawn:
            return
        self._drawn = key
        named = [(watched.info.preset, series)] if watched and series else []
        self.query_one("#loss", MetricChart).draw(named, self.axis, self.smoothing)
        self.query_one("#acc", MetricChart).draw(named, self.axis, self.smoothing, ylim=(0, 100))
        self.query_one(RunDetails).show(watched.run if watched else None, watched.info if watched else None)

    @on(DataTable.RowHighlighted, "#runs")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value != self.selected:
            self.selected = event.row_key.value
            self.redraw(force=True)

    # ----- keys ------------------------------------------------------------------------------------
    def action_jump(self, n: int) -> None:
        table = self.query_one(RunsTable)
        if n <= table.row_count:
            table.move_cursor(row=n - 1)

    def action_mark(self) -> None:
        if self.selected:
            self.marked ^= {self.selected}
            self.refresh_list()

    def chosen(self) -> list[str]:
        """The marked runs in list order, else the selected one."""
        order = [i.run_id for i in self.watcher.ordered()]
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
        self.push_screen(HelpScreen())

    def action_inspector(self) -> None:
        self.push_screen(InspectorScreen())

    def action_compare(self) -> None:
        runs = self.chosen()
        if len(runs) < 2:
            self.notify("mark two or more runs with space, then press o", severity="warning")
            return
        self.push_screen(CompareScreen(runs, self.watcher, self.axis, self.smoothing))

    def action_replay(self) -> None:
        runs = self.chosen()
        if not runs:
            self.notify("no run to replay", severity="warning")
            return
        self.push_screen(ReplayScreen(runs, self.watcher, self.axis, self.smoothing))

    def action_export(self) -> None:
        run = self.watcher.run(self.selected) if self.selected else None
        if run is None:
            return
        try:
            target = export_folder(run, self.exports_dir)
        except (OSError, ValueError) as exc:
            self.notify(f"export failed: {exc}", severity="error")
            return
        self.notify(f"exported {run.run_id} to {target.resolve()}", timeout=8)

    def action_cancel_run(self) -> None:
        run = self.watcher.run(self.selected) if self.selected else None
        if run is None:
            return
        info = self.watcher.runs[run.run_id].info
        if info.state not in ("running", "queued", "lost"):
            self.notify(f"{run.run_id} is {info.state}: nothing to cancel", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                try:
                    self.notify(f"{run.run_id}: {cancel(run)}")
                except ValueError as exc:
                    self.notify(str(exc), severity="error")

        partners = [r for r in info.status.get("group") or [] if r != run.run_id]
        also = (f"\nIt trains fused with {len(partners)} other run(s) in one process: they stop too."
                if partners else "")
        self.push_screen(ConfirmScreen(f"Cancel run {run.run_id}?\nIt stops after the current step and keeps a "
                                       f"checkpoint (R resumes it).{also}"), answered)

    def action_resume_run(self) -> None:
        run = self.watcher.run(self.selected) if self.selected else None
        if run is None:
            return
        try:
            group = resume_group(self.store, run)
            token = claim_group(group)
        except (ValueError, RunBusy, OSError) as exc:
            self.notify(str(exc), severity="error")
            return
        self.start_trainers([(group, True, token)])
        self.notify("resuming " + ", ".join(r.run_id for r in group))

    def action_new_run(self) -> None:
        preset, values = self.form_values or (None, None)
        self.push_screen(NewRunScreen(preset, values), self.launch_requested)

    # ----- launching ---------------------------------------------------------------------------------
    def launch_requested(self, request: LaunchRequest | None) -> None:
        if request is not None:
            self.form_values = (request.presets[0], request.overrides)
            self.launch(request)

    @work(thread=True, group="launch")
    def launch(self, request: LaunchRequest) -> None:
        """Check, create the run folders and start the trainer process(es), off the UI thread."""
        try:
            cfgs = []
            for preset in request.presets:
                cfg, errors = config_from_form(preset, request.overrides)
                if errors:
                    raise ConfigError(*next(iter(errors.items())))
                cfgs.append(preflight(cfg))  # may import torch (a cuda device is checked): fine off the UI thread
        except ConfigError as exc:
            self._from_thread(self.notify, f"not launched: {exc}", severity="error", timeout=10)
            return
        together = len(cfgs) > 1 and fusable(cfgs) is None
        groups = [cfgs] if together else [[c] for c in cfgs]
        batches = []
        for group in groups:
            token = secrets.token_hex(8)
            batches.append(([self.store.create(c.to_dict(), claim=token) for c in group], False, token))
        self.start_trainers(batches)
        ids = [r.run_id for runs, _, _ in batches for r in runs]
        how = "fused in one process" if together else "each in its own process"
        self._from_thread(self.launched, ids, how)

    def start_trainers(self, batches) -> None:
        for runs, resume, token in batches:
            process = TrainerProcess(runs, resume=resume, claim=token)
            process.start()
            with self.processes_lock:
                self.processes.append(process)

    def launched(self, ids: list[str], how: str) -> None:
        self.watcher.refresh()
        self.selected = ids[0]
        self.refresh_list()
        self.redraw(force=True)
        self.notify(f"launched {len(ids)} run(s), {how}: {', '.join(ids)}")

    def _from_thread(self, callback, *args, **kwargs) -> None:
        try:
            self.call_from_thread(callback, *args, **kwargs)
        except RuntimeError:  # the app stopped meanwhile; the runs are on disk and the next console finds them
            pass
