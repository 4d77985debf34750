"""`sweep`: a study's figure against the field it swept, one point per group with its spread over seeds; two
swept fields as a table of cells (mean±std, n); `--json` for scripts."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Optional

import typer

from ..safetext import safe
from ..sweep import SWEEP_FIGURES, Sweep, sweep as make_sweep
from .options import RunsDir, fail, output_width
from .results import chosen_runs

if TYPE_CHECKING:
    from rich.console import Console

FIGURE_HELP = "What to plot: " + ", ".join(SWEEP_FIGURES) + "."


def _value_text(value: Any) -> str:
    return safe(json.dumps(value) if isinstance(value, (dict, list)) else value)


def print_points(console: "Console", found: Sweep, figure: str) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title="over seeds: mean±std, finished runs (n finished/all)", box=box.SIMPLE_HEAD,
                  pad_edge=False, padding=(0, 1))
    for axis in found.axes:
        table.add_column(safe(axis), no_wrap=True)
    heads = [name for name in SWEEP_FIGURES if any(p.figures[name].n for p in found.points) or name == figure]
    table.add_column("n", justify="right", no_wrap=True)
    for name in heads:
        table.add_column(SWEEP_FIGURES[name] + (" *" if name == figure else ""), justify="right", no_wrap=True)
    for p in found.points:
        table.add_row(*(Text(_value_text(p.values[a])) for a in found.axes), p.n_text,
                      *(p.figures[name].text() for name in heads))
    console.print(table)


def print_cells(console: "Console", found: Sweep, figure: str) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows, cols, cells = found.cells(figure)
    table = Table(title=f"{SWEEP_FIGURES[figure]}: mean±std (n) over seeds, {safe(found.axes[0])} down, "
                        f"{safe(found.axes[1])} across", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    table.add_column(safe(found.axes[0]), no_wrap=True)
    for col in cols:
        table.add_column(_value_text(col), justify="right", no_wrap=True)
    for row in rows:
        out = []
        for col in cols:
            cell = cells.get((row, col))
            out.append("" if cell is None else ("-" if cell.mean is None else f"{cell.text()} ({cell.n})"))
        table.add_row(Text(_value_text(row)), *out)
    console.print(table)


def plot_points(found: Sweep, figure: str, width: int = 78, height: int = 16, color: bool = False) -> str:
    """The figure against one numeric swept field, mean with mean±std beside it, as terminal text (plotext)."""
    import plotext as plt

    points = [p for p in found.points if p.figures[figure].mean is not None]
    xs = [float(p.values[found.axes[0]]) for p in points]
    means = [p.figures[figure].mean * 100 for p in points]
    stds = [(p.figures[figure].std or 0.0) * 100 for p in points]
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.plot(xs, [m + s for m, s in zip(means, stds)], marker="dot", color="gray")
    plt.plot(xs, [m - s for m, s in zip(means, stds)], marker="dot", color="gray")
    plt.plot(xs, means, marker="hd", color="blue")
    plt.scatter(xs, means, marker="●", color="blue")
    plt.xlabel(safe(found.axes[0]))  # a config key, from the run folder
    # the legend is in the title line, outside the data: ● mean of the seeds, dots ±1 std
    plt.title(f"{SWEEP_FIGURES[figure]} against {safe(found.axes[0])}   ● mean over seeds   ··· ±1 std")
    return plt.build() if color else plt.uncolorize(plt.build())


def sweep(run_refs: Optional[list[str]] = typer.Argument(None, metavar="[RUN]...", help="Runs (default: a study)."),
          study: Optional[str] = typer.Option(None, "--study", help="A study id (or a unique part of one)."),
          figure: str = typer.Option("final_test_acc", "--figure", "-f", help=FIGURE_HELP),
          as_json: bool = typer.Option(False, "--json", help="Print the sweep as JSON (fractions, not %)."),
          plot: bool = typer.Option(True, "--plot/--no-plot", help="Draw the figure against one numeric field."),
          runs_dir: RunsDir = None) -> None:
    """A study's answer: final (or best) test accuracy, the gap and ECE against the field it swept."""
    if figure not in SWEEP_FIGURES:
        fail(f"figure: {figure!r} is not one of {', '.join(SWEEP_FIGURES)}")
    found = make_sweep([run.info() for run in chosen_runs(run_refs, study, runs_dir)])
    if as_json:
        from ..jsonout import document

        typer.echo(document("sweep", **found.as_dict()))
        return
    if not found.axes:
        fail("sweep: these runs differ in no field but their seed (a study with --grid sweeps one)")
    from rich.console import Console  # here: the other commands do not pay for rich

    console = Console(width=output_width())
    print_points(console, found, figure)
    if len(found.axes) == 2:
        print_cells(console, found, figure)
    numeric = len(found.axes) == 1 and all(isinstance(p.values[found.axes[0]], (int, float))
                                           and not isinstance(p.values[found.axes[0]], bool) for p in found.points)
    if plot and numeric and sum(p.figures[figure].mean is not None for p in found.points) >= 2:
        # plotext's own colour codes: the one text printed without safe_lines (its labels went through safe above)
        typer.echo(plot_points(found, figure, width=min(console.width, 100), color=console.is_terminal))
