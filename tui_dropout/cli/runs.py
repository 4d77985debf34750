"""`runs`, `show`, `cancel` and `export`: reading and steering run folders."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ..export import export_folder, pct, render
from ..launcher import cancel as cancel_run
from ..store import RunDir, RunStore
from .options import RunsDir, fail


def _find(store: RunStore, ref: str) -> RunDir:
    try:
        return store.find(ref)
    except KeyError as exc:
        fail(str(exc).strip("'\""))


def runs(runs_dir: RunsDir = None) -> None:
    """List runs, newest first, with their state and best test accuracy."""
    store = RunStore(runs_dir)
    infos = store.list()
    if not infos:
        typer.echo(f"no runs in {store.root}")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("#", "run", "state", "preset", "epoch", "test", "note"):
        table.add_column(col)
    for i, info in enumerate(infos, 1):
        note = info.problem or info.error or ""
        table.add_row(str(i), info.run_id, info.state, info.preset, f"{info.epoch}/{info.epochs}",
                      pct(info.best_test_acc), note[:60])
    Console().print(table)


def show(run_ref: str = typer.Argument(..., metavar="RUN"), runs_dir: RunsDir = None,
         lines: int = typer.Option(10, "--lines", help="Log lines to show.")) -> None:
    """Show a run's state, config, summary and the tail of its log."""
    run = _find(RunStore(runs_dir), run_ref)
    info = run.info()
    typer.echo(f"run      {run.run_id}\nfolder   {run.path}\nstate    {info.state}\nepoch    {info.epoch}/{info.epochs}")
    typer.echo(f"best     train {pct(info.best_train_acc)}  test {pct(info.best_test_acc)}")
    if info.error or info.problem:
        typer.echo(f"error    {info.error or info.problem}")
    if info.config:
        cfg = {k: v for k, v in info.config.items() if k not in ("extra", "description")}
        typer.echo("config   " + _pairs(cfg))
    if info.summary:
        typer.echo("summary  " + _pairs(info.summary))
    for line in run.log_tail(lines):
        typer.echo("  " + line)


def _pairs(values: dict, width: int = 100) -> str:
    """key=value pairs wrapped under one another, for a dict printed in a terminal."""
    lines, line = [], ""
    for key, value in values.items():
        item = f"{key}={json.dumps(value) if isinstance(value, (dict, list)) else value}"
        if line and len(line) + len(item) + 1 > width - 9:
            lines.append(line)
            line = item
        else:
            line = f"{line} {item}".strip()
    return "\n         ".join(lines + [line])


def cancel(run_ref: str = typer.Argument(..., metavar="RUN"), runs_dir: RunsDir = None) -> None:
    """Stop a running run after its current step (it keeps a checkpoint and can be resumed)."""
    run = _find(RunStore(runs_dir), run_ref)
    try:
        what = cancel_run(run)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"{run.run_id}: {what}")


def export(run_ref: str = typer.Argument(..., metavar="RUN"), runs_dir: RunsDir = None,
           fmt: str = typer.Option("csv", "--format", help="csv, jsonl, md, or dir (a folder of everything)."),
           output: Optional[Path] = typer.Option(None, "-o", "--output", help="File (or folder for dir); - or none: stdout.")) -> None:
    """Export a run's metrics (CSV, JSONL or Markdown), or everything into a folder."""
    run = _find(RunStore(runs_dir), run_ref)
    if fmt == "dir":
        target = export_folder(run, output or Path("exports"))
        typer.echo(str(target))
        return
    try:
        text = render(run, fmt)
    except ValueError as exc:
        fail(str(exc))
    except (OSError, FileNotFoundError) as exc:
        fail(f"run: {exc}")
    if output is None or str(output) == "-":
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(text)
    tmp.replace(output)
    typer.echo(f"wrote {output}", err=True)
