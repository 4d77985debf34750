"""The GPU panel: per GPU its utilisation, memory used/total and the runs it holds. Hidden, taking no room, where
NVML gives nothing (no NVIDIA driver, or the `gpu` extra not installed)."""
from __future__ import annotations

import socket

from rich.text import Text
from textual import work
from textual.widget import Widget

from ... import gpustats
from ...gpustats import GpuStat
from ...states import State
from ...store import RunInfo
from ..labels import cut

MIB_PER_GIB = 1024
GPU_SECONDS = 2.0  # how often the panel reads NVML (off the UI thread)
TALL_ROWS = 30  # from this terminal height the panel may use more than two rows


def runs_on_gpus(stats: list[GpuStat], infos: list[RunInfo], host: str | None = None) -> dict[int, list[RunInfo]]:
    """GPU index -> the runs on it: a run whose trainer pid (on this host) is one of the GPU's processes; a running
    queue run whose pid NVML does not list (a container's own pid numbers, CUDA not started yet) goes on the GPU
    its slot names."""
    host = host or socket.gethostname()
    by_pid: dict[int, list[RunInfo]] = {}
    for info in infos:
        pid = info.status.get("pid")
        if info.state == State.RUNNING and isinstance(pid, int) and info.status.get("host") == host:
            by_pid.setdefault(pid, []).append(info)
    out: dict[int, list[RunInfo]] = {s.index: [] for s in stats}
    placed: set[str] = set()
    for stat in stats:
        for pid in stat.pids:
            for info in by_pid.get(pid, []):
                if info.run_id not in placed:
                    out[stat.index].append(info)
                    placed.add(info.run_id)
    for infos_on_pid in by_pid.values():
        for info in infos_on_pid:
            gpu = info.status.get("gpu")
            if info.run_id not in placed and isinstance(gpu, int) and gpu in out:
                out[gpu].append(info)
    return out


class GpuPanel(Widget):
    """One line per GPU (several GPUs a line, without their runs' names, when rows are short)."""

    DEFAULT_CSS = """
    GpuPanel { height: 1; background: $boost; padding: 0 1; display: none; }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stats: list[GpuStat] | None = None
        self.holders: dict[int, list[RunInfo]] = {}
        self.max_rows = 2
        self.reading = False  # a read of NVML is under way (a slow one never piles up reads)
        self._failed = ""  # the last unexpected error of a read, told once

    def on_mount(self) -> None:
        self._timer = self.set_interval(GPU_SECONDS, self.poll)
        self.poll()

    def poll(self) -> None:
        if not self.reading:
            self.reading = True
            self.read()

    @work(thread=True, group="gpus", exit_on_error=False)
    def read(self) -> None:
        """NVML can block (a GPU in trouble): read it off the UI thread."""
        error = ""
        try:
            stats = gpustats.read_gpus()
        except Exception as exc:  # gpustats says None for every NVML fault it knows; anything else hides the panel
            stats, error = None, f"{type(exc).__name__}: {exc}"
        try:
            self.app.call_from_thread(self.read_done, stats, error)
        except RuntimeError:  # the app stopped meanwhile: nothing left to show it on
            pass

    def read_done(self, stats: list[GpuStat] | None, error: str) -> None:
        self.reading = False
        if error and error != self._failed:
            self._failed = error
            self.notify(f"the GPU panel cannot read the GPUs: {error}", severity="warning", timeout=10)
        if stats is None and gpustats.unavailable():  # no NVML here at all: stop asking
            self._timer.stop()
        rows = 2 if self.app.size.height < TALL_ROWS else 8
        self.show(stats, [w.info for w in self.app.watcher.runs.values()], rows)

    def show(self, stats: list[GpuStat] | None, infos: list[RunInfo], max_rows: int) -> None:
        """New readings (None: no NVML here, the panel goes); the runs are matched to the GPUs' processes."""
        self.max_rows = max(1, max_rows)
        if not stats:
            self.stats = None
            self.display = False
            return
        self.stats = stats
        self.holders = runs_on_gpus(stats, infos)
        self.styles.height = min(len(stats), self.max_rows)
        self.display = True
        self.refresh()

    def lines(self, width: int) -> list[str]:
        """What render() shows, as plain lines of at most `width` cells."""
        if not self.stats:
            return []
        if len(self.stats) <= self.max_rows:
            out = []
            for s in self.stats:
                runs = self.holders.get(s.index, [])
                head = f"GPU{s.index} {s.util_percent:>3}% {_gib(s.mem_used_mb)}/{_gib(s.mem_total_mb)} GiB"
                names = ", ".join(i.label for i in runs) if runs else "idle"
                out.append(cut(f"{head}  {names}", width))
            return out
        cells = [f"GPU{s.index} {s.util_percent}% {_gib(s.mem_used_mb)}/{_gib(s.mem_total_mb)}G "
                 f"{len(self.holders.get(s.index, []))} run(s)" for s in self.stats]
        out: list[str] = []
        for cell in cells:
            if out and len(out[-1]) + 3 + len(cell) <= width:
                out[-1] += " │ " + cell
            else:
                out.append(cut(cell, width))
        if len(out) > self.max_rows:
            out = out[:self.max_rows]
            out[-1] = cut(out[-1] + " …", width)
        return out

    def render(self) -> Text:
        return Text("\n".join(self.lines(max(1, self.content_size.width))))


def _gib(mib: float) -> str:
    return f"{mib / MIB_PER_GIB:.1f}"
