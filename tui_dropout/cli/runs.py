"""`runs`, `show`, `cancel` and `export`: reading and steering run folders."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ..export import FORMATS, export_folder, number_text, pct, render, seconds_text
from ..launcher import cancel as cancel_run
from ..store import RunDir, RunNotFound, RunStore
from ..store.files import write_text_atomic
from .options import RunsDir, fail, open_store


def _find(store: RunStore, ref: str) -> RunDir:
    try:
        return store.find(ref)
    except RunNotFound as exc:
        fail(str(exc))


def runs(runs_dir: RunsDir = None) -> None:
    """List runs, newest first, with their state and final test accuracy."""
    store = open_store(runs_dir)
    infos = store.list()
    if not infos:
        typer.echo(f"no runs in {store.root.resolve()}")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("run", no_wrap=True, min_width=max(len(i.run_id) for i in infos))  # the handle users type
    for col in ("state", "epoch", "test", "best"):
        table.add_column(col, no_wrap=True)
    table.add_column("note", overflow="ellipsis", no_wrap=True, ratio=1)
    for i, info in enumerate(infos, 1):
        table.add_row(str(i), info.run_id, info.state, f"{info.epoch}/{info.epochs}", pct(info.final_test_acc),
                      pct(info.best_test_acc), info.problem or info.error or "")
    Console().print(table)


def show(run_ref: str = typer.Argument(..., metavar="RUN"), runs_dir: RunsDir = None,
         lines: int = typer.Option(10, "--lines", min=0, help="Log lines to show (0: none).")) -> None:
    """Show a run's state, figures, config and the tail of its log."""
    run = _find(open_store(runs_dir), run_ref)
    info = run.info()
    typer.echo(f"run      {run.run_id}\nfolder   {run.path}\nstate    {info.state}\nepoch    {info.epoch}/{info.epochs}")
    typer.echo(f"final    train {pct(info.final_train_acc)}  test {pct(info.final_test_acc)}  "
               f"loss {number_text(info.final_loss, '.4f')}  time {seconds_text(info.elapsed)}")
    typer.echo(f"best     train {pct(info.best_train_acc)} (epoch {info.best_train_epoch or '-'})  "
               f"test {pct(info.best_test_acc)} (epoch {info.best_test_epoch or '-'})")
    if info.error or info.problem:
        typer.echo(f"error    {info.error or info.problem}")
    if info.config:
        cfg = {k: v for k, v in info.config.items() if k not in ("extra", "description")}
        typer.echo("config   " + _pairs(cfg))
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
    """Stop a run after its current step (it keeps a checkpoint and can be resumed), wherever it trains."""
    run = _find(open_store(runs_dir, write=True), run_ref)
    try:
        what = cancel_run(run)
    except ValueError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"run: cannot write to {run.path} ({exc.strerror or exc})")
    typer.echo(f"{run.run_id}: {what}")


def export(run_ref: str = typer.Argument(..., metavar="RUN"), runs_dir: RunsDir = None,
           fmt: str = typer.Option("csv", "--format", help="csv, jsonl, md, or dir (a folder of everything)."),
           output: Optional[Path] = typer.Option(None, "-o", "--output",
                                                 help="File (a folder for dir); - or none: stdout (dir: ./exports)."),
           force: bool = typer.Option(False, "--force", help="Overwrite an existing output file.")) -> None:
    """Export a run's metrics (CSV, JSONL or Markdown), or everything into a folder."""
    if fmt not in FORMATS:
        fail(f"format: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    run = _find(open_store(runs_dir), run_ref)
    if fmt == "dir":
        dest = output or Path("exports")
        if dest.exists() and not dest.is_dir():
            fail(f"output: {dest} is a file; --format dir writes a folder (<output>/{run.run_id}/)")
        try:
            typer.echo(str(export_folder(run, dest)))
        except OSError as exc:
            fail(f"output: cannot write into {dest} ({exc.strerror or exc})")
        return
    try:
        text = render(run, fmt)
    except (OSError, ValueError) as exc:
        fail(f"run: {run.run_id} cannot be read ({exc})")
    if output is None or str(output) == "-":
        typer.echo(text, nl=False)
        return
    if output.is_dir():
        fail(f"output: {output} is a folder; give a file name (or use --format dir)")
    if output.exists() and not force:
        fail(f"output: {output} exists; add --force to overwrite it")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(output, text)
    except OSError as exc:
        fail(f"output: cannot write {output} ({exc.strerror or exc})")
    typer.echo(f"wrote {output}", err=True)
