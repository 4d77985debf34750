"""`report`: a study's (or the named runs') conclusions written to a folder as report.html and report.md."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..safetext import safe
from .options import RunsDir, echo, fail
from .results import chosen_runs


def report(run_refs: Optional[list[str]] = typer.Argument(None, metavar="[RUN]...", help="Runs (default: a study)."),
           study: Optional[str] = typer.Option(None, "--study", help="A study id (or a unique part of one)."),
           output: Path = typer.Option(..., "--output", "-o", metavar="DIR", help="Folder to write the report in."),
           force: bool = typer.Option(False, "--force", help="Replace a report already in DIR."),
           runs_dir: RunsDir = None) -> None:
    """Write report.html (self-contained, figures inline) and report.md (figures in figures/) to DIR."""
    if output.exists() and not output.is_dir():
        fail(f"output: {output} is a file; give a folder")
    if output.is_symlink():
        fail(f"output: {output} is a link; give a folder")
    if (output / "report.html").exists() and not force:
        fail(f"output: {output / 'report.html'} exists (use --force to replace it)")
    runs = chosen_runs(run_refs, study, runs_dir)
    studies = sorted({r.info().study for r in runs} - {""})
    title = f"Dropout study {studies[0]}" if len(studies) == 1 else f"Dropout runs ({len(runs)})"
    from ..report import build

    try:
        written = build(runs, output, title, progress=lambda line: echo(line, err=True))
    except RuntimeError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"output: cannot write {output} ({(exc.strerror or str(exc)).lower()})")
    for path in written[-2:]:
        echo(safe(str(path)))
