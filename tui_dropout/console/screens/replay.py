"""`r`: replay runs from epoch 1 in sync, as if training again: space pauses, left/right step, +/- speed."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Static

from ...series import RunSeries, step_smoothing
from ...watch import RunsWatcher
from ..labels import run_names
from ..widgets.charts import MetricChart, chart_choice
from ..widgets.key_bar import KeyBar
from ..dialogs.chart_picker import ChartPickerScreen

SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200)  # epochs per second
STEP, SPEED, SMOOTH = Binding.Group("step"), Binding.Group("speed"), Binding.Group("smooth")
FRAME = 0.1  # seconds between frames; the charts redraw only when the shown epoch changes


class ReplayScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("space", "pause", "Pause"),
                Binding("left", "step(-1)", "Back 1", key_display="←", group=STEP),
                Binding("right", "step(1)", "Fwd 1", key_display="→", group=STEP),
                Binding("home", "first", "Epoch 1"),
                Binding("plus,equals_sign", "speed(1)", "Faster", key_display="+", group=SPEED),
                Binding("minus", "speed(-1)", "Slower", key_display="-", group=SPEED),
                Binding("s", "smooth(1)", "Smooth+", group=SMOOTH), Binding("S", "smooth(-1)", "Smooth-", group=SMOOTH),
                Binding("t", "charts", "Charts"), Binding("y", "log_scale", "Log y"), Binding("z", "full_range", "0-100"),
                Binding("q", "app.pop_screen", "Back", show=False)]
    DEFAULT_CSS = """
    ReplayScreen #charts { height: 1fr; }
    """

    def __init__(self, run_ids: list[str], watcher: RunsWatcher, axis: str = "epoch", smoothing: float = 0.0):
        super().__init__()
        self.run_ids = run_ids
        self.watcher = watcher
        self.axis = axis
        self.smoothing = smoothing
        self.cursor = 0.0
        self.paused = False
        self.speed_index = 3
        self.shown = -1
        self.frames = 0  # timer ticks seen, so tests can wait for time to pass in frames, not seconds
        self.full: list[tuple[str, RunSeries]] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with Horizontal(id="charts"):  # the session's two charts (t): #loss is the first pane, #acc the second
            first, second = chart_choice(self.app).panes
            yield MetricChart(first, id="loss")
            yield MetricChart(second, id="acc")
        yield KeyBar(self.BINDINGS)

    def on_mount(self) -> None:
        names = run_names([w.info for w in (self.watcher.runs.get(r) for r in self.run_ids) if w is not None])
        for run_id in self.run_ids:
            self.full.append((names.get(run_id, run_id), self.watcher.series(run_id)))
        self.last = max((s.epochs[-1] for _, s in self.full if s.epochs), default=0)
        self.timer = self.set_interval(FRAME, self.advance)
        self.render_frame()

    @property
    def epoch(self) -> int:
        return min(self.last, max(1, int(self.cursor)))

    def advance(self) -> None:
        self.frames += 1
        if self.paused or self.last == 0:
            return
        self.cursor = min(self.last, self.cursor + SPEEDS[self.speed_index] * FRAME)
        if self.cursor >= self.last:
            self.paused = True
        self.render_frame()

    def render_frame(self) -> None:
        state = "paused" if self.paused else "playing"
        self.query_one("#status", Static).update(
            f"[b]replay[/b] {len(self.full)} run(s)  epoch {self.epoch}/{self.last}  {state}  "
            f"{SPEEDS[self.speed_index]} epochs/s   space pause, left/right step, home epoch 1, +/- speed, esc back")
        if self.epoch == self.shown:
            return
        self.shown = self.epoch
        frame = [(name, series.upto(self.epoch)) for name, series in self.full]
        xlim = (1, max(2, self.last)) if self.axis == "epoch" else None
        choice = chart_choice(self.app)
        for pane, key in zip(self.query(MetricChart).results(MetricChart), choice.panes):
            pane.metric = key
            pane.draw(frame, self.axis, self.smoothing, xlim=xlim, log=choice.log)

    def action_pause(self) -> None:
        if self.paused and self.cursor >= self.last:
            self.cursor = 0.0  # at the end, space starts over
        self.paused = not self.paused
        self.render_frame()

    def action_step(self, delta: int) -> None:
        self.paused = True
        self.cursor = float(min(self.last, max(1, self.epoch + delta)))
        self.render_frame()

    def action_first(self) -> None:
        """Back to epoch 1, paused: space plays from there."""
        self.paused = True
        self.cursor = 1.0
        self.render_frame()

    def action_smooth(self, delta: int) -> None:
        self.smoothing = step_smoothing(self.smoothing, delta)
        self.shown = -1  # force the frame to redraw
        self.render_frame()

    def action_charts(self) -> None:
        self.app.push_screen(ChartPickerScreen(), lambda changed: changed and self.redraw_frame())

    def action_full_range(self) -> None:
        choice = chart_choice(self.app)
        choice.full = not choice.full
        self.redraw_frame()

    def action_log_scale(self) -> None:
        choice = chart_choice(self.app)
        choice.log = not choice.log
        self.redraw_frame()

    def redraw_frame(self) -> None:
        self.shown = -1  # force the frame to redraw
        self.render_frame()

    def action_speed(self, delta: int) -> None:
        self.speed_index = min(len(SPEEDS) - 1, max(0, self.speed_index + delta))
        self.render_frame()
