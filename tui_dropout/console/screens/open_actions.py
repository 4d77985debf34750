"""The main view's keys that open another screen: help, the form, compare, replay, the log, the charts picked, the
hyperparameter table, a study's sweep, a run's calibration, what dropout did inside, the dropout inspector, and going to a run."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ... import evaluation
from ..dialogs.chart_picker import ChartPickerScreen
from ..dialogs.prompt import PromptScreen
from ..widgets.runs_table import RunsTable
from .compare import CompareScreen
from .help import HelpScreen
from .hparams import HParamsScreen
from .inspector import InspectorScreen
from .log_viewer import LogViewerScreen
from .replay import ReplayScreen

if TYPE_CHECKING:
    from ...store import RunInfo
    from ...watch import RunsWatcher


class OpenActions:
    """Mixed into MainScreen, which gives `watcher`, `selected`, `shown`, `chosen()`, `select()`, the view's axis,
    smoothing and filter, `app` and `notify`."""

    watcher: RunsWatcher
    selected: str | None
    shown: list[RunInfo]

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_charts(self) -> None:
        """Pick the chart each pane shows (the registry: tui_dropout/charts.py)."""
        self.app.push_screen(ChartPickerScreen(), lambda changed: changed and self.charts_changed())

    def action_log(self) -> None:
        run = self.watcher.run(self.selected) if self.selected else None
        if run is None:
            self.notify("no run selected", severity="warning")
            return
        self.app.push_screen(LogViewerScreen(run))

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
        self.app.open_form()

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
