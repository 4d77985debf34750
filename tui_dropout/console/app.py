"""The console app: watches the runs folder, launches and reaps trainers; the main view is screens/main.py."""
from __future__ import annotations

import gc
import os
from pathlib import Path

from textual import work
from textual.app import App

from ..config import ConfigError
from ..errors import DropoutTuiError
from ..launch import Children, Group, Launched, LocalLauncher, start, start_groups
from ..safetext import safe, safe_lines
from ..store import RunDir, RunStore
from ..watch import RunsWatcher
from . import form_memory
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
        self.processes = Children()  # every trainer and queue holder this console started: its tick reaps them
        self.launcher = LocalLauncher(self.processes)  # resumes (R) start here
        self.form: dict[str, str] = form_memory.load()  # the new-run form as last launched: it reopens so

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
        self.processes.reap()  # finished trainers (else they linger as zombies that look alive)
        self.main.runs_changed(self.watcher.refresh())

    # ----- launching ---------------------------------------------------------------------------------
    def launch_requested(self, request: LaunchRequest | None) -> None:
        if request is not None:
            self.form = {**request.form, "name": "", "note": ""}  # tags carry over; a name and note belong to one launch
            try:
                form_memory.save(self.form)
            except OSError as exc:
                self.notify(f"the form's values are not kept for the next console: {exc}", severity="warning")
            self.launch(request)

    @work(thread=True, group="launch")
    def launch(self, request: LaunchRequest) -> None:
        """Check every run, then start the plan with its launcher (launch.start, as `dropout-tui study` does), off
        the UI thread: the same plan, labels and checks as the CLI."""
        reading = read_form(request.presets, request.overrides, request.launch, self.store, grid_limit=None,
                            notes=request.notes, processes=self.processes)
        problems = [f"{field}: {reason}" for field, reason in reading.errors.items()]
        plan, launcher = reading.plan, reading.launcher
        try:
            cfgs = plan.configs() if plan is not None and not problems else []
        except ConfigError as exc:
            problems.append(str(exc))
        problems += plan_problems(cfgs, plan.options.backend != "slurm" if plan is not None else True)
        if problems or plan is None or launcher is None:
            more = f"; and {len(problems) - PROBLEMS_TOLD} more" if len(problems) > PROBLEMS_TOLD else ""
            self._from_thread(self.notify, "not launched: " + "; ".join(problems[:PROBLEMS_TOLD]) + more,
                              severity="error", timeout=10)
            return
        try:  # run folders, grouped to train fused where the launcher wants groups, claimed, started
            launched = start(plan, launcher)
        except EXPECTED_ERRORS as exc:
            self._from_thread(self.notify, f"not launched: {exc}", severity="error", timeout=10)
            return
        self._from_thread(self.tell_failures, launched)
        if launched.started:
            ids = [run.run_id for run in launched.started]
            what = reading.describe() if not launched.failed else f"{len(ids)} of {reading.describe()}"
            self._from_thread(self.launched, ids, what, plan.study)

    def start_groups(self, groups: list[Group], resume: bool = False) -> list[RunDir]:
        """Start claimed groups (a resume) with this console's local launcher; a group that cannot start fails its
        runs, with the reason, and is told. Returns the runs that started."""
        try:
            launched = start_groups(self.store, groups, self.launcher, resume=resume)
        except EXPECTED_ERRORS as exc:
            self.notify(f"not started: {exc}", severity="error", timeout=10)
            return []
        self.tell_failures(launched)
        return launched.started

    def tell_failures(self, launched: Launched) -> None:
        for line in launched.failures():
            self.notify(line, severity="error", timeout=10)

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
