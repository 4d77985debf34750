"""The main view's keys that act on runs: export, cancel, resume, evaluate, label, archive and delete. Each picks its
runs, asks what operations.py composes, has operations.py do it, and tells the outcome; the watcher's next look
(at once: the app is woken) brings the change to the list."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import operations
from ..dialogs.confirm import ConfirmScreen
from ..dialogs.label import LabelScreen
from ..messages import ListChanged
from ..operations import Told

if TYPE_CHECKING:
    from ...store import RunDir, RunInfo
    from ...watch import RunsWatcher

DIALOG_ROWS = 12  # the confirmation's rows besides the runs it names, and a margin


class RunActions:
    """Mixed into MainScreen, which gives `watcher`, `selected`, `marked`, `shown`, `chosen()`, `app` and `notify`."""

    watcher: RunsWatcher
    selected: str | None
    marked: set[str]

    def ask(self, question: str | Told, then, default: bool = True) -> None:
        """Ask `question` (then call `then()` on yes), or tell why there is nothing to ask."""
        if isinstance(question, Told):
            self.notify(question.text, severity=question.severity, timeout=question.timeout)
            return
        self.app.push_screen(ConfirmScreen(question, default), lambda yes: yes and then())

    def selected_run(self) -> RunDir | None:
        return self.watcher.run(self.selected) if self.selected else None

    def chosen_infos(self) -> list[RunInfo]:
        runs = self.watcher.runs
        return [runs[run_id].info for run_id in self.chosen() if run_id in runs]

    def hidden(self, run_id: str) -> bool:
        """Marked but not listed (the filter hides it): said when acted on, so nothing happens unseen."""
        return run_id not in {i.run_id for i in self.shown}

    def action_export(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        exports = self.app.exports_dir
        question = operations.export_question(run, exports)
        if question is None:
            self.app.tell(operations.export_run(run, exports))
        else:
            self.ask(question, lambda: self.app.tell(operations.export_run(run, exports)))

    def action_cancel_run(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.ask(operations.cancel_question(self.watcher.runs[run.run_id].info),
                     lambda: self.app.tell(operations.cancel_run(run)))

    def action_resume_run(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.app.tell(operations.resume(self.app.store, run, self.app.launcher))

    def action_evaluate(self) -> None:
        """Evaluate the marked runs (or the selected one) in the background: dropout off vs MC dropout."""
        if not hasattr(self, "_evaluations"):
            self._evaluations: list = []  # background evaluations, reaped as they end
            self.set_interval(1.0, self._reap_evaluations)
        runs = [run for run in map(self.watcher.run, self.chosen()) if run is not None]
        outcome, processes = operations.evaluate(runs, self.hidden)
        self._evaluations += processes
        self.app.tell(outcome)

    def _reap_evaluations(self) -> None:
        self._evaluations = [proc for proc in self._evaluations if proc.poll() is None]

    def action_label(self) -> None:
        """Name, tag and annotate the marked runs, or the selected one."""
        infos = self.chosen_infos()
        if not infos:
            self.notify("no run to label", severity="warning")
            return
        several, one = len(infos) > 1, infos[0]

        def answered(values: dict | None) -> None:
            if values is not None:
                self.app.tell(operations.label(infos, values))

        self.app.push_screen(LabelScreen(operations.label_title(infos), "" if several else one.name,
                                         [] if several else one.tags, "" if several else one.note, several), answered)

    def action_archive(self) -> None:
        self._prune(operations.archiving(self.app.store.root))

    def action_delete_runs(self) -> None:
        self._prune(operations.deleting())

    def _prune(self, how: operations.Prune) -> None:
        """Ask, then archive or delete the marked runs (or the selected one); a running run is refused."""
        infos = self.chosen_infos()
        hidden = sum(self.hidden(i.run_id) for i in infos)

        def act() -> None:
            outcome = operations.prune_runs(how, infos)
            self.marked = self.marked - {i.run_id for i in infos}
            self.post_message(ListChanged())
            self.app.tell(outcome)
            self.app.refresh_runs()  # the folders went: the watcher lists again at once

        self.ask(operations.prune_question(how, infos, hidden, self.app.size.height - DIALOG_ROWS), act, how.default)
