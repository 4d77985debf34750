"""The console app: composes the main screen over the runs folder, watches it in a worker and launches from the form.
What the keys do lives in screens/main.py and screens/run_actions.py, what they do to runs in operations.py."""
from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

from textual import on, work
from textual.app import App
from textual.worker import get_current_worker

from ..launch import Children, LocalLauncher
from ..safetext import safe, safe_lines
from ..store import RunStore
from ..watch import RunsWatcher
from . import form_memory, operations
from .messages import LaunchRequest, ListChanged, RunsRefreshed, WatchFailed
from .screens.main import MainScreen
from .screens.new_run import NewRunScreen
from .study import default_preset

TICK_SECONDS = 0.5  # disk polling; new runs and state changes show within a tick
FORM_SCREEN = "new-run"  # the name the new-run form is installed under


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
        self.processes = Children()  # every trainer and queue holder this console started: reaped each tick
        self.launcher = LocalLauncher(self.processes)  # resumes (R) start here
        self.form: dict[str, str] = form_memory.load()  # the new-run form as last launched: it reopens so
        self._wake = threading.Event()  # look at the folder now, not at the next tick
        self._stop = threading.Event()
        self._watch_error = ""  # the last error the watcher met, told once
        self._form: NewRunScreen | None = None  # the new-run form, composed while the console is idle, kept

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every notification: its text often names run-folder text (a name, a damaged file's error), so it is shown
        with escapes visible and no markup read from it."""
        super().notify(safe_lines(message), title=safe(title), severity=severity, timeout=timeout, markup=False)

    def tell(self, outcome: operations.Outcome) -> None:
        """What an operation did: told, and the runs it touched looked at again at once."""
        for told in outcome.told:
            self.notify(told.text, severity=told.severity, timeout=told.timeout)
        for run_id in outcome.touched:
            self.watcher.touch(run_id)
        if outcome.touched:
            self.refresh_runs()

    def get_default_screen(self) -> MainScreen:
        self.watcher.refresh()  # the first listing, before the first paint: the screen opens on it
        gc.freeze()  # see on_mount: the first listing's objects, before the screen is built on them
        return MainScreen()

    @property
    def main(self) -> MainScreen:
        return self.default_screen

    def on_mount(self) -> None:
        self.watch_runs()
        # the listing's objects (a RunInfo and its tables per run: millions at 50,000 runs) live as long as the
        # console; out of the collector's generations, its full passes stop walking them every few seconds
        self.call_after_refresh(gc.freeze)
        self.call_after_refresh(self.warm_form)

    def on_unmount(self) -> None:
        self._stop.set()
        self._wake.set()

    # ----- watching the runs folder -------------------------------------------------------------------------------
    @work(thread=True, group="watch", exit_on_error=False)
    def watch_runs(self) -> None:
        """Look at the runs folder every tick (or at once when woken) off the UI thread, and post what changed."""
        worker = get_current_worker()
        while not (worker.is_cancelled or self._stop.is_set()):
            try:
                change = self.watcher.refresh()
            except Exception as exc:  # a fault of ours, not of a run folder (those are told per run): say it, go on
                change = ""
                self.post_message(WatchFailed(f"{type(exc).__name__}: {exc}"))
            self.post_message(RunsRefreshed(change))
            self._wake.wait(TICK_SECONDS)
            self._wake.clear()

    def refresh_runs(self) -> None:
        """Have the watcher look again now (after the console changed a run itself)."""
        self._wake.set()

    @on(RunsRefreshed)
    def _runs_refreshed(self, message: RunsRefreshed) -> None:
        self.processes.reap()  # finished trainers (else they linger as zombies that look alive)
        self.main.runs_changed(message.change)

    def on_watch_failed(self, message: WatchFailed) -> None:
        if message.error != self._watch_error:
            self._watch_error = message.error
            self.notify(f"the runs folder cannot be watched: {message.error}", severity="error", timeout=10)

    # ----- the new-run form, ready before `n` -------------------------------------------------------------------
    @work(thread=True, group="warm", exit_on_error=False)
    def warm_form(self) -> None:
        """Read what the new-run form reads first (its default preset looks for CIFAR-10, which loads the data
        readers) off the UI thread, then compose the first form while the console is idle."""
        try:
            default_preset()
        except Exception as exc:  # the form meets it again and says so beside the preset
            self.log.warning(f"the new-run form's default preset: {exc!r}")
        self._from_thread(self.build_form)

    def build_form(self) -> None:
        """Compose and style the new-run form off screen (Textual starts a screen it is handed before it is
        shown) while the console is idle; `n` then only has to show it, and every later `n` shows it again."""
        if self._form is None and self.is_running and not self._stop.is_set():
            self._form = NewRunScreen(self.form)
            self.install_screen(self._form, FORM_SCREEN)  # kept, not destroyed, when it closes
            self._get_screen(FORM_SCREEN)

    def open_form(self) -> None:
        """Show the new-run form with the values last launched (a form still being built has them already)."""
        if self._form is None:
            self.build_form()
        elif self._form.is_mounted:
            self._form.reopen(self.form)
        self.push_screen(FORM_SCREEN, self.launch_requested)

    # ----- launching ----------------------------------------------------------------------------------------------

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
        """Check and start the runs off the UI thread (operations.launch), then select the newest of them."""
        outcome = operations.launch(request, self.store, self.processes)
        self._from_thread(self.launched, outcome)

    def launched(self, outcome: operations.LaunchOutcome) -> None:
        self.tell(outcome)
        if outcome.started:
            self.refresh_runs()
            self.main.post_message(ListChanged(select=outcome.started[-1]))  # the top of the list once listed

    def _from_thread(self, callback, *args) -> None:
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:  # the app stopped meanwhile; the runs are on disk and the next console finds them
            pass
