"""The console app: watches the runs folder, launches and reaps trainers; the main view is screens/main.py."""
from __future__ import annotations

import threading
from pathlib import Path

from textual import work
from textual.app import App

from ..launch import Group, LocalLauncher, prepare
from ..store import RunStore
from ..watch import RunsWatcher
from .messages import LaunchRequest
from .screens.main import MainScreen
from .screens.new_run import config_from_form

TICK_SECONDS = 0.5  # disk polling; new runs and state changes show within a tick
# What launching, resuming, cancelling and exporting may raise on a bad folder or value: told, never fatal.
# (RunBusy and RunsFolderError are RuntimeErrors; ConfigError and DamagedFile ValueErrors; RunNotFound a KeyError.)
EXPECTED_ERRORS = (OSError, ValueError, RuntimeError, KeyError)


class DropoutConsole(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses (tests) live elsewhere
    TITLE = "dropout-tui"

    def __init__(self, runs_dir: Path | str | None = None, exports_dir: Path | str | None = None):
        super().__init__()
        self.store = RunStore(runs_dir)
        self.exports_dir = Path(exports_dir) if exports_dir else Path("exports")
        self.watcher = RunsWatcher(self.store)
        self.launcher = LocalLauncher()  # the one launch path (tui_dropout/launch); its processes are reaped here
        self.processes_lock = threading.Lock()  # the launch worker adds processes, the tick reaps them
        self.form: dict[str, str] = {}  # the new-run form as last launched: it reopens so

    def get_default_screen(self) -> MainScreen:
        self.watcher.refresh()
        return MainScreen()

    @property
    def main(self) -> MainScreen:
        return self.default_screen

    def on_mount(self) -> None:
        self.set_interval(TICK_SECONDS, self.tick)

    # ----- the 2 Hz loop -----------------------------------------------------------------------
    def tick(self) -> None:
        with self.processes_lock:  # reap finished trainers (else they linger as zombies that look alive)
            self.launcher.processes[:] = [p for p in self.launcher.processes if p.poll() is None]
        self.main.runs_changed(self.watcher.refresh())

    # ----- launching ---------------------------------------------------------------------------------
    def launch_requested(self, request: LaunchRequest | None) -> None:
        if request is not None:
            self.form = dict(request.form)
            self.launch(request)

    @work(thread=True, group="launch")
    def launch(self, request: LaunchRequest) -> None:
        """Check, create the run folders and start the trainer process(es), off the UI thread."""
        cfgs, problems = [], []
        for preset in request.presets:
            cfg, errors = config_from_form(preset, request.overrides)
            problems += [f"{preset}: {field}: {reason}" for field, reason in errors.items()]
            cfgs.append(cfg)
        if problems:
            self._from_thread(self.notify, "not launched: " + "; ".join(problems), severity="error", timeout=10)
            return
        try:
            groups = prepare(self.store, cfgs)  # run folders, grouped to train fused where they can, claimed
        except EXPECTED_ERRORS as exc:
            self._from_thread(self.notify, f"not launched: {exc}", severity="error", timeout=10)
            return
        notes = self.start_groups(groups, from_thread=True)
        ids = [r.run_id for group in groups for r in group.runs]
        self._from_thread(self.launched, ids, "; ".join(notes))

    def start_groups(self, groups: list[Group], resume: bool = False, from_thread: bool = False) -> list[str]:
        """Start one trainer per group; a trainer that cannot start fails its runs (with the reason) and is told.

        Returns the launcher's notes for the groups that started."""
        notes = []
        for group in groups:
            try:
                with self.processes_lock:
                    notes.append(self.launcher.start(self.store, [group], resume=resume))
            except EXPECTED_ERRORS as exc:
                for run in group.runs:
                    try:
                        run.update_status(state="failed", error=f"trainer did not start: {exc}", pid=None)
                    except EXPECTED_ERRORS:
                        pass  # the folder takes no writes either: it reads as lost once this console is gone
                message = f"trainer for {', '.join(r.run_id for r in group.runs)} did not start: {exc}"
                if from_thread:
                    self._from_thread(self.notify, message, severity="error", timeout=10)
                else:
                    self.notify(message, severity="error", timeout=10)
        return notes

    def launched(self, ids: list[str], how: str) -> None:
        self.watcher.refresh()
        self.main.select(ids[0])
        self.notify(f"launched {len(ids)} run(s): {', '.join(ids)}" + (f" ({how})" if how else ""))

    def _from_thread(self, callback, *args, **kwargs) -> None:
        try:
            self.call_from_thread(callback, *args, **kwargs)
        except RuntimeError:  # the app stopped meanwhile; the runs are on disk and the next console finds them
            pass
