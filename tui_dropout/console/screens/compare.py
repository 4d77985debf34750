"""`o`: the marked runs compared: overlaid on one chart per metric, or side by side on the same axes. Runs that
differ only in seed form a group (groups.seed_groups): its mean and spread in a table and on the charts."""
from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.console import Group as RenderGroup
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from ... import evaluation
from ...export import config_differences, number_text, results_row, seconds_text
from ...groups import SeedGroup, seed_groups
from ...charts import chart
from ...series import RunSeries, step_smoothing
from ...safetext import safe, safe_markup
from ...store import RunInfo
from ...watch import RunsWatcher
from ..group_series import BandSeries, band
from ..labels import acc, acc_at, cut, epochs_text, fit_label, run_names, short_ids, state_text
from ..widgets.charts import MetricChart, chart_choice, value_range
from ..widgets.key_bar import KeyBar
from ..dialogs.chart_picker import ChartPickerScreen


SMOOTH = Binding.Group("smooth")
NOT_COMPARED = {"seed", "label", "study"}  # what tells the runs of one seed group apart, not the groups


@dataclass
class Entry:
    """One line on the charts: a run, or a seed group of runs drawn as its mean and spread."""

    name: str
    run_ids: list[str]

    @property
    def grouped(self) -> bool:
        return len(self.run_ids) > 1


def entries_for(infos: list[RunInfo], grouped: bool) -> list[Entry]:
    """A group for each set of runs that differ only in seed (one legend entry each), a lone run as itself; or,
    not grouped, every run alone. Names are labels (`D p_fc=0.3`, `D p_fc=0.3 seed=2`), told apart by id tails."""
    names = run_names(infos)
    if not grouped:
        return [Entry(names[i.run_id], [i.run_id]) for i in infos]  # run_names makes them safe
    out = []
    tails = short_ids([i.run_id for i in infos])
    groups = seed_groups(infos)
    counts: dict[str, int] = {}
    for g in groups:
        counts[g.name] = counts.get(g.name, 0) + 1
    for g in groups:
        ids = [r.run_id for r in g.runs]
        if len(ids) == 1:
            out.append(Entry(names[ids[0]], ids))
        else:
            name = safe(g.name if counts[g.name] == 1 else f"{g.name}·{tails[ids[0]]}")
            out.append(Entry(f"{name} n={len(ids)}", ids))
    return out


def shared_xlim(series: list[RunSeries], axis: str) -> tuple[float, float]:
    """One x range for every pane, so side-by-side panes compare by eye (each chart's y range: value_range)."""
    xs = [x for s in series for x in s.x(axis)] or [1.0]
    return (min(xs), max(max(xs), min(xs) + 1))


NAME_WIDTH = 24  # a run's name in the tables: 80 columns leave the figures whole (fit_label keeps the grid point)


def results_table(infos: list[RunInfo]) -> Table:
    """The seed's table, one row per run: final and best (with its epoch) accuracy, final loss, time.

    Runs are named by their labels (told apart by id tails); two-line headers keep it within 80 columns."""
    names = run_names(infos)
    # no padding: the box puts one space between columns
    table = Table(box=box.SIMPLE_HEAD, padding=0, expand=False, show_edge=False)
    for header in ("run", "state", "epoch"):
        table.add_column(header, no_wrap=True)
    for header in ("final\ntrain%", "best\ntrain%", "final\ntest%", "best\ntest%", "final\nloss", "time"):
        table.add_column(header, justify="right", no_wrap=True)
    for info in infos:
        row = results_row(info)
        table.add_row(Text(fit_label(names[info.run_id], NAME_WIDTH)), state_text(info),
                      epochs_text(row["epoch"], row["epochs"]),
                      acc(row["final_train_acc"]), acc_at(row["best_train_acc"], row["best_train_epoch"]),
                      acc(row["final_test_acc"]), acc_at(row["best_test_acc"], row["best_test_epoch"]),
                      number_text(row["final_loss"], ".4f"), seconds_text(row["wall_seconds"]))
    return table


def groups_table(groups: list[SeedGroup]) -> Table:
    """One row per seed group: mean±std over its runs of final and best accuracy (%) and final loss; `n` is how
    many runs have a final figure, of how many in the group (`2/3` while one still trains)."""
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), expand=False, show_edge=False,
                  title="over seeds: mean±std", title_justify="left")
    table.add_column("group", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    for header in ("final\ntrain%", "best\ntrain%", "final\ntest%", "best\ntest%", "final\nloss"):
        table.add_column(header, justify="right", no_wrap=True)
    for g in groups:
        done = g.figure("final_test_acc").n
        table.add_row(Text(fit_label(g.name, NAME_WIDTH)), str(g.n) if done == g.n else f"{done}/{g.n}",
                      *(g.figure(f).text() for f in ("final_train_acc", "best_train_acc", "final_test_acc",
                                                     "best_test_acc")),
                      g.figure("final_loss").text(scale=1.0, digits=4))
    return table


def sureness_table(groups: list[SeedGroup]) -> Table | None:
    """How sure: each group's final test accuracy against the first group's, the difference of means with its
    95% interval and p-value (stats.py: paired t-test where the seeds match, else Welch's); finished runs only."""
    from ... import stats

    done = [g for g in groups if g.finished]
    if len(done) < 2:
        return None
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), expand=False, show_edge=False, title_justify="left",
                  title=f"final test% against {safe(fit_label(done[0].name, NAME_WIDTH))} (95% interval)")
    for header in ("group", "n", "difference", "p", "test"):
        table.add_column(header, justify="left" if header in ("group", "test") else "right", no_wrap=True)
    for d in stats.differences(done):
        table.add_row(Text(fit_label(d.b, NAME_WIDTH)), f"{d.n_b}v{d.n_a}", d.text(), d.p_text(),
                      Text(safe(d.test or d.note)))
    return table


def evaluation_table(infos: list[RunInfo]) -> Table | None:
    """What dropout did, one row per run with a finished evaluation: accuracy and calibration with dropout off
    and as Monte-Carlo dropout (`dropout-tui evaluate`, `v`); None when no run has one."""
    rows = [(info, evaluation.columns(evaluation.read(info.path))) for info in infos]
    rows = [(info, cols) for info, cols in rows if cols.get("det_acc") is not None]
    if not rows:
        return None
    names = run_names(infos)
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), expand=False, show_edge=False,
                  title="evaluation: dropout off vs MC dropout", title_justify="left")
    table.add_column("run", no_wrap=True)
    for header in ("off\ntest%", "MC\ntest%", "off\nECE%", "MC\nECE%", "MC\nentropy"):
        table.add_column(header, justify="right", no_wrap=True)
    for info, cols in rows:
        table.add_row(Text(fit_label(names[info.run_id], NAME_WIDTH)), acc(cols["det_acc"]), acc(cols["mc_acc"]),
                      acc(cols["det_ece"]), acc(cols["mc_ece"]), number_text(cols["mc_entropy"], ".3f"))
    return table


class CompareScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("o", "toggle_mode", "Overlay/side"),
                Binding("g", "toggle_groups", "Groups/runs"), Binding("x", "toggle_axis", "Axis"),
                Binding("s", "smooth(1)", "Smooth+", group=SMOOTH), Binding("S", "smooth(-1)", "Smooth-", group=SMOOTH),
                Binding("t", "charts", "Charts"), Binding("y", "log_scale", "Log y"), Binding("z", "full_range", "0-100"),
                Binding("q", "app.pop_screen", "Back", show=False)]
    DEFAULT_CSS = """
    CompareScreen .charts { height: 1fr; min-height: 8; }
    CompareScreen .charts Vertical { width: 1fr; }
    CompareScreen #lower { height: auto; max-height: 40%; }
    CompareScreen #groups, CompareScreen #results, CompareScreen #evaluation { height: auto; }
    CompareScreen #diff { height: auto; padding: 0 1; }
    CompareScreen #waiting { height: 1; color: $text-muted; }
    """

    def __init__(self, run_ids: list[str], watcher: RunsWatcher, axis: str = "epoch", smoothing: float = 0.0,
                 mode: str = "overlay"):
        super().__init__()
        self.watcher = watcher
        self.run_ids = sorted(run_ids, key=self._launched)  # in launch order: a study's grid reads in its order
        self.axis = axis
        self.smoothing = smoothing
        self.mode = mode
        self._seen: tuple | None = None
        infos = self.infos()
        self.partnered = [g for g in seed_groups(infos) if g.n > 1]  # seed groups; configs never change
        self.grouped = bool(self.partnered)
        self.entries = entries_for(infos, self.grouped)

    def _launched(self, run_id: str) -> tuple:
        watched = self.watcher.runs.get(run_id)
        return (watched.info.created if watched else 0.0, run_id)

    def infos(self) -> list[RunInfo]:
        return [w.info for w in (self.watcher.runs.get(i) for i in self.run_ids) if w is not None]

    def compose(self) -> ComposeResult:
        # both layouts are built once and one is shown: switching mounts nothing, so a quick o o o cannot race.
        # Side by side has a pane per run; grouped, the first panes show the groups and the rest hide.
        yield Static("", id="title")
        yield Static("", id="waiting")  # the marked runs with no epoch recorded yet: no pane of their own
        # the session's two charts (t): class "loss" is the first pane's, "acc" the second's, whatever they show
        first, second = chart_choice(self.app).panes
        with Horizontal(id="overlay", classes="charts"):
            yield MetricChart(first, classes="loss")
            yield MetricChart(second, classes="acc")
        with Horizontal(id="side", classes="charts"):
            for _ in self.run_ids:
                with Vertical(classes="pane"):
                    yield MetricChart(first, classes="loss")
                    yield MetricChart(second, classes="acc")
        with VerticalScroll(id="lower"):  # the group table, the run table, the differing fields: scrolls
            yield Static("", id="groups")
            yield Static("", id="sureness")
            yield Static("", id="results")
            yield Static("", id="evaluation")
            yield Static("", id="diff")
        yield KeyBar(self.BINDINGS)

    def on_mount(self) -> None:
        self.show_mode()
        self.refresh_tables()
        self._seen = self.progress()
        self.set_interval(1.0, self.tick)

    def show_mode(self) -> None:
        self.query_one("#overlay").display = self.mode == "overlay"
        self.query_one("#side").display = self.mode != "overlay"
        self.draw()

    def named(self) -> list[tuple[str, RunSeries | BandSeries]]:
        out: list[tuple[str, RunSeries | BandSeries]] = []
        for entry in self.entries:
            series = [self.watcher.series(run_id) for run_id in entry.run_ids]
            out.append((entry.name, band(series) if entry.grouped else series[0]))
        return out

    def waiting(self) -> list[str]:
        """The compared runs with no epoch recorded yet (queued, starting): named, with their state."""
        infos = self.infos()
        names = run_names(infos)
        return [f"{names[i.run_id]} ({i.state_text})" for i in infos if not self.watcher.series(i.run_id).epochs]

    def draw(self) -> None:
        named = self.named()
        waiting = self.waiting()
        line = self.query_one("#waiting", Static)
        line.display = bool(waiting)
        if waiting:
            text = f"no data yet, no pane: {'; '.join(waiting)}"
            line.update(Text(cut(text, max(10, self.size.width - 1))))
        what = (f"{len(self.run_ids)} runs in {len(named)} group{'s' * (len(named) != 1)}: mean, ±std dotted "
                "(g: each run)"
                if self.grouped else f"{len(named)} runs" + (" (g: seed groups)" if self.partnered else ""))
        self.query_one("#title", Static).update(f"[b]compare[/b] {what} · {self.mode.replace('-', ' ')} (o)")
        choice = chart_choice(self.app)
        if self.mode == "overlay":
            for pane, key in zip(self.query("#overlay MetricChart").results(MetricChart), choice.panes):
                pane.metric = key
                pane.draw(named, self.axis, self.smoothing, log=choice.log)
            return
        xlim = shared_xlim([s.high if isinstance(s, BandSeries) else s for _, s in named]
                           + [s.low for _, s in named if isinstance(s, BandSeries)], self.axis)
        # a pane for each run or group with data: one still waiting would only squeeze the others
        drawn = [i for i, (_, s) in enumerate(named) if (s.mean if isinstance(s, BandSeries) else s).epochs] or [0]
        for n, pane in enumerate(self.query("#side .pane")):
            pane.display = n < len(drawn) and drawn[0] < len(named)
        for row, key in zip(("#side .loss", "#side .acc"), choice.panes):
            spec = chart(key)
            ylim = value_range(named, spec, choice.log_for(spec), choice.full)  # one y range across a row's panes
            for i, pane in zip(drawn, self.query(row).results(MetricChart)):
                name, series = named[i]
                pane.metric = key
                # colour and marker i: the entry's own in the overlay too
                pane.draw([(name, series)], self.axis, self.smoothing, xlim, ylim, palette_start=i, log=choice.log,
                          prefix=name)

    def refresh_tables(self) -> None:
        infos = self.infos()
        groups_widget = self.query_one("#groups", Static)
        groups_widget.display = bool(self.partnered)
        if self.partnered:
            groups = seed_groups(infos)  # the figures move while runs train: read them again
            groups_widget.update(groups_table(groups))
        sure = sureness_table(seed_groups(infos)) if self.partnered else None
        self.query_one("#sureness", Static).display = sure is not None
        if sure is not None:
            self.query_one("#sureness", Static).update(sure)
        self.query_one("#results", Static).update(results_table(infos))
        evaluated = evaluation_table(infos)
        self.query_one("#evaluation", Static).display = evaluated is not None
        if evaluated is not None:
            self.query_one("#evaluation", Static).update(evaluated)
        self.query_one("#diff", Static).update(self.differences(infos))

    def differences(self, infos: list[RunInfo]):
        """The config fields that differ: between the groups (one run stands for each), then the seeds."""
        if not self.partnered:
            diffs = config_differences(infos)
            lines = [safe_markup(f"{k}: " + " | ".join(str(v) for v in values)) for k, values in diffs.items()]
            return "\n".join(["[b]config fields that differ[/b]", *lines]) if diffs else "configs are identical"
        groups = seed_groups(infos)
        diffs = {k: v for k, v in config_differences([g.runs[0] for g in groups]).items() if k not in NOT_COMPARED}
        lines = [Text("config fields that differ between the groups", style="bold")]
        lines += [Text(safe(f"{k}: " + " | ".join(str(v) for v in values))) for k, values in diffs.items()]
        if not diffs:
            lines.append(Text("none: the groups differ in seeds only"))
        seeds = {tuple(g.seeds) for g in groups if g.n > 1}
        lines.append(Text("seeds: " + (" ".join(map(str, next(iter(seeds)))) if len(seeds) == 1 else
                                       safe("; ".join(f"{g.name}: {' '.join(map(str, g.seeds))}" for g in groups)))))
        return RenderGroup(*lines)

    def progress(self) -> tuple:
        return tuple((len(s.epochs), w.info.state, w.info.epoch) if w else None
                     for w, s in ((self.watcher.runs.get(r), self.watcher.series(r)) for r in self.run_ids))

    def tick(self) -> None:
        """Redraw when a run moved on (charts are costly to build; most compared runs have ended)."""
        seen = self.progress()
        if seen != self._seen:
            self._seen = seen
            self.draw()
            self.refresh_tables()

    def action_toggle_mode(self) -> None:
        self.mode = "side-by-side" if self.mode == "overlay" else "overlay"
        self.show_mode()

    def action_toggle_groups(self) -> None:
        """Seed groups as mean and spread, or every run on its own (only when some runs form a group)."""
        if not self.partnered:
            self.notify("no seed groups here: the runs differ in more than their seeds", severity="warning")
            return
        self.grouped = not self.grouped
        self.entries = entries_for(self.infos(), self.grouped)
        self.show_mode()

    def action_toggle_axis(self) -> None:
        self.axis = "time" if self.axis == "epoch" else "epoch"
        self.draw()

    def action_charts(self) -> None:
        self.app.push_screen(ChartPickerScreen(), lambda changed: changed and self.draw())

    def action_full_range(self) -> None:
        choice = chart_choice(self.app)
        choice.full = not choice.full
        self.draw()

    def action_log_scale(self) -> None:
        choice = chart_choice(self.app)
        choice.log = not choice.log
        self.draw()

    def action_smooth(self, delta: int) -> None:
        self.smoothing = step_smoothing(self.smoothing, delta)
        self.draw()
