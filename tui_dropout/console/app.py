"""The console app: watches the runs folder, launches and reaps trainers; the main view is screens/main.py."""
from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

from textual import work
from textual.app import App

from ..config import ConfigError
from ..errors import DropoutTuiError
from ..launch import Group, Launcher, LocalLauncher, prepare
from ..launch.queue import QueueLauncher
from ..safetext import safe, safe_lines
from ..states import State
from ..store import RunDir, RunStore
from ..watch import RunsWatcher
from .messages import LaunchRequest
from .screens.main import MainScreen
from .study import plan_problems, read_form

TICK_SECONDS = 0.5  # disk polling; new runs and state changes show within a tick
PROBLEMS_TOLD = 3  # a study's problems named in one notification (the rest are counted)
# What launching, resuming, cancelling and exporting may raise on a bad folder or value: told, never fatal.
EXPECTED_ERRORS = (OSError, DropoutTuiError)


class DropoutConsole(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses (tests) live elsewhere
    TITLE = "dropout-tui"

    def __init__(self, runs_dir: Path | str | None = None, exports_dir: Path | str | None = None,
                 bell: bool | None = None):
        super().__init__()
        # the terminal bell when a run ends (`--no-bell`, or DROPOUT_TUI_BELL=0, turns it off)
        self.bell_on = bell if bell is not None else os.environ.get("DROPOUT_TUI_BELL", "1") not in ("0", "off", "no")
        self.store = RunStore(runs_dir)
        self.exports_dir = Path(exports_dir) if exports_dir else Path("exports")
        self.watcher = RunsWatcher(self.store)
        self.launcher = LocalLauncher()  # the one launch path (tui_dropout/launch); its processes are reaped here
        self.processes_lock = threading.Lock()  # the launch worker adds processes, the tick reaps them
        self.form: dict[str, str] = {}  # the new-run form as last launched: it reopens so

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every notification: its text often names run-folder text (a name, a damaged file's error), so it is shown
        with escapes visible and no markup read from it."""
        super().notify(safe_lines(message), title=safe(title), severity=severity, timeout=timeout, markup=False)

    def get_default_screen(self) -> MainScreen:
        self.watcher.refresh()
        gc.freeze()  # see on_mount: the first listing's objects, before the screen is built on them
        return MainScreen()

    @property
    def main(self) -> MainScreen:
        return self.default_screen

    def on_mount(self) -> None:
        self.set_interval(TICK_SECONDS, self.tick)
        # the listing's objects (a RunInfo and its tables per run: millions at 50,000 runs) live as long as the
        # console; out of the collector's generations, its full passes stop walking them every few seconds
        self.call_after_refresh(gc.freeze)

    # ----- the 2 Hz loop -----------------------------------------------------------------------
    def tick(self) -> None:
        with self.processes_lock:  # reap finished trainers (else they linger as zombies that look alive)
            self.launcher.processes[:] = [p for p in self.launcher.processes if p.poll() is None]
        self.main.runs_changed(self.watcher.refresh())

    # ----- launching ---------------------------------------------------------------------------------
    def launch_requested(self, request: LaunchRequest | None) -> None:
        if request is not None:
            self.form = {**request.form, "name": "", "note": ""}  # tags carry over; a name and note belong to one launch
            self.launch(request)

    @work(thread=True, group="launch")
    def launch(self, request: LaunchRequest) -> None:
        """Check every run, create the run folders and start them (trainer processes or the queue), off the UI
        thread: the same plan, labels and checks as `dropout-tui study`."""
        reading = read_form(request.presets, request.overrides, request.launch, grid_limit=None)
        problems = [f"{field}: {reason}" for field, reason in reading.errors.items()]
        plan = reading.plan
        try:
            cfgs = plan.configs() if plan is not None and not problems else []
        except ConfigError as exc:
            problems.append(str(exc))
        problems += plan_problems(cfgs)
        if problems or plan is None:
            more = f"; and {len(problems) - PROBLEMS_TOLD} more" if len(problems) > PROBLEMS_TOLD else ""
            self._from_thread(self.notify, "not launched: " + "; ".join(problems[:PROBLEMS_TOLD]) + more,
                              severity="error", timeout=10)
            return
        launcher = self.launcher if plan.backend == "local" else QueueLauncher(plan.queue)
        try:  # run folders, grouped to train fused where the launcher wants groups, claimed
            groups = prepare(self.store, cfgs, fuse=launcher.groups_runs, max_members=plan.fuse_members,
                             notes=request.notes)
        except EXPECTED_ERRORS as exc:
            self._from_thread(self.notify, f"not launched: {exc}", severity="error", timeout=10)
            return
        failed: list[str] = []
        started = self.start_groups(groups, from_thread=True, launcher=launcher, failed=failed)
        if launcher is not self.launcher:
            with self.processes_lock:  # a queue holder this console started is reaped by its tick too
                self.launcher.processes += launcher.processes
        if started:
            ids = [r.run_id for group in groups for r in group.runs if r.run_id not in failed]
            what = plan.describe() if not failed else f"{len(ids)} of {plan.describe()}"
            self._from_thread(self.launched, ids, what, cfgs[0].study)

    def start_groups(self, groups: list[Group], resume: bool = False, from_thread: bool = False,
                     launcher: Launcher | None = None, failed: list[str] | None = None) -> list[str]:
        """Start the groups with the launcher (this app's local one by default). A group that cannot start fails
        its runs (with the reason; their ids go in `failed`) and is told; the others start all the same.

        Returns the launcher's notes for the groups that started."""
        launcher = launcher or self.launcher
        if not launcher.groups_runs and len(groups) > 1:
            # the queue: one hand-off, so its holder sees the whole study at once and packs what can fuse
            try:
                return [launcher.start(self.store, groups, resume=resume)]
            except EXPECTED_ERRORS:
                groups = [g for g in groups if not all(_handed_to_queue(r) for r in g.runs)]  # then one by one
        notes = []
        for group in groups:
            try:
                with self.processes_lock:
                    notes.append(launcher.start(self.store, [group], resume=resume))
            except EXPECTED_ERRORS as exc:
                if failed is not None:
                    failed += [run.run_id for run in group.runs]
                for run in group.runs:
                    try:
                        run.update_status(state=State.FAILED, error=f"trainer did not start: {exc}", pid=None)
                    except EXPECTED_ERRORS:
                        pass  # the folder takes no writes either: it reads as lost once this console is gone
                message = f"trainer for {', '.join(r.run_id for r in group.runs)} did not start: {exc}"
                if from_thread:
                    self._from_thread(self.notify, message, severity="error", timeout=10)
                else:
                    self.notify(message, severity="error", timeout=10)
        return notes

    def launched(self, ids: list[str], what: str, study: str) -> None:
        """Select the newest of the runs just launched (the top of the list) and say what was launched."""
        self.watcher.refresh()
        self.main.select(ids[-1])
        name = f" (study {study})" if study else f": {ids[0]}" if len(ids) == 1 else ""
        self.notify(f"launched {what}{name}", timeout=8)

    def _from_thread(self, callback, *args, **kwargs) -> None:
        try:
            self.call_from_thread(callback, *args, **kwargs)
        except RuntimeError:  # the app stopped meanwhile; the runs are on disk and the next console finds them
            pass


def _handed_to_queue(run: RunDir) -> bool:
    """Whether the queue took this run before a hand-off failed (its status names the queue, no trainer yet)."""
    try:
        status = run.read_status()
    except EXPECTED_ERRORS:
        return False
    return status.get("backend") == "queue" and status.get("state") == State.QUEUED and not status.get("pid")
