"""`label`, `archive`, `unarchive`, `rm` and `hparams`: naming, pruning and tabulating runs."""
from __future__ import annotations

import shutil
import sys
from typing import Annotated, Optional

import typer

from ..hparams import csv_text, table
from ..store import ACTIVE, RunBusy, RunDir, RunNotFound, RunStore
from ..store import prune
from ..store.notes import NotesError, update_notes
from ..safetext import safe
from .options import echo, RunsDir, archive_store, fail, open_store
from .runs import Filter, Reverse, _table, _write_file, found

Runs = typer.Argument(..., metavar="RUN...", help="Run ids (or a unique part, or the number `runs` shows).")


def _find_all(store: RunStore, refs: list[str]) -> list[RunDir]:
    """Every named run, each once; the first that cannot be found ends the command before anything changes."""
    out: dict[str, RunDir] = {}
    for ref in refs:
        try:
            run = store.find(ref)
        except RunNotFound as exc:
            fail(str(exc))
        out.setdefault(run.run_id, run)
    return list(out.values())


def label(run_refs: list[str] = Runs, runs_dir: RunsDir = None,
          name: Optional[str] = typer.Option(None, "--name", help="A name for the run (\"\" clears it)."),
          tag: Optional[list[str]] = typer.Option(None, "--tag", help="Add a tag (repeatable)."),
          untag: Optional[list[str]] = typer.Option(None, "--untag", help="Remove a tag (repeatable)."),
          note: Optional[str] = typer.Option(None, "--note", help="A free-text note (\"\" clears it).")) -> None:
    """Name, tag or annotate runs; with no option, print what they have."""
    store = open_store(runs_dir)
    runs = _find_all(store, run_refs)
    if name is None and note is None and not tag and not untag:
        for run in runs:
            info = run.info()
            damage = f"  ({info.problem})" if info.problem and "notes.json" in info.problem else ""
            echo(safe(f"{run.run_id}  name={info.name!r} tags={' '.join(info.tags) or '-'} note={info.note!r}{damage}"))
        return
    store = open_store(runs_dir, write=True)
    for run in runs:
        try:
            notes = update_notes(run.path, name=name, add_tags=tag, remove_tags=untag, note=note)
        except NotesError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"run: cannot write to {exc.filename or run.path} ({exc.strerror or exc})")
        said = [repr(notes["name"]) if notes["name"] else "", " ".join("#" + t for t in notes["tags"]),
                f"note: {notes['note']!r}" if notes["note"] else ""]
        echo(safe(f"{run.run_id}: {'  '.join(filter(None, said)) or 'no name, tags or note'}"))


def _describe(run: RunDir) -> str:
    info = run.info()
    size = prune.folder_size(run.path) / 1e6
    return f"  {run.run_id}  {info.label}  {info.state}  {info.epoch}/{info.epochs} epochs  {size:.1f} MB"


def _move(runs: list[RunDir], act, verb: str, refused: list[str] | None = None) -> None:
    """Do `act` to each run; a refused run is one line (exit 2) after the others are done."""
    refused = list(refused or [])
    for run in runs:
        try:
            dest = act(run)
        except RunBusy as exc:
            refused.append(str(exc))
            continue
        except OSError as exc:
            refused.append(f"run: {run.run_id} cannot be {verb} ({exc.strerror or exc})")
            continue
        echo(f"{verb} {run.run_id}" + (f" -> {dest}" if dest else ""))
    if refused:
        for line in refused[:-1]:
            echo(f"error: {line}", err=True)
        fail(refused[-1])


def archive(run_refs: list[str] = Runs, runs_dir: RunsDir = None) -> None:
    """Move stopped runs out of the list into <runs>/.archive (unarchive brings them back)."""
    store = open_store(runs_dir, write=True)
    runs = _find_all(store, run_refs)
    _move(runs, lambda run: prune.archive(store.root, run), "archived")


def unarchive(run_refs: list[str] = Runs, runs_dir: RunsDir = None) -> None:
    """Bring archived runs back into the runs list."""
    store = open_store(runs_dir, write=True)
    runs = _find_all(archive_store(store), run_refs)
    _move(runs, lambda run: prune.unarchive(store.root, run), "restored")


def rm(run_refs: list[str] = Runs, runs_dir: RunsDir = None,
       yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking."),
       archived: bool = typer.Option(False, "--archived", help="The runs are in the archive.")) -> None:
    """Delete stopped runs for good, after naming each and asking."""
    store = open_store(runs_dir, write=True)
    named = _find_all(archive_store(store) if archived else store, run_refs)
    states = {run.run_id: run.info().state for run in named}
    refused = [f"run: {run.run_id} is {states[run.run_id]}; cancel it first" for run in named
               if states[run.run_id] in ACTIVE]
    runs = [run for run in named if states[run.run_id] not in ACTIVE]
    if not runs:
        _move([], None, "deleted", refused)
    if not yes:
        echo(f"delete {len(runs)} run{'s' * (len(runs) != 1)} and every file in {'them' if len(runs) > 1 else 'it'}:")
        for run in runs:
            echo(_describe(run))
        if not sys.stdin.isatty():
            fail("rm: not deleting without a terminal to ask on; add --yes")
        if not typer.confirm("delete?", default=False):
            fail("rm: nothing deleted", code=1)

    def delete(run: RunDir) -> None:
        prune.remove(run)

    _move(runs, delete, "deleted", refused)


def hparams(runs_dir: RunsDir = None, filter_text: Filter = None,
            sort: Annotated[str, typer.Option("--sort", metavar="COLUMN", help=(
                "test, best, loss, gap, name, state, newest, or a config field."))] = "test",
            reverse: Reverse = False,
            csv: Annotated[Optional[str], typer.Option("--csv", metavar="FILE",
                                                       help="Write CSV to FILE (- : stdout).")] = None,
            force: Annotated[bool, typer.Option("--force", help="Overwrite an existing CSV file.")] = False,
            as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON (docs/json.md).")] = False
            ) -> None:
    """The hyperparameter table: the config fields that vary as columns, then final/best accuracy and loss."""
    store = open_store(runs_dir)
    listed = store.list()
    infos = found([info for info in listed if not info.damaged], filter_text, sort, reverse)
    damaged = sum(info.damaged for info in listed)
    if damaged:  # a damaged run has no figures to tabulate: say so rather than drop it silently
        echo(f"{damaged} damaged run{'s' * (damaged > 1)} left out (dropout-tui runs names what is wrong)",
                   err=True)
    if as_json:
        from ..hparams import varying_fields
        from ..jsonout import document, run_record

        fields = varying_fields(infos)
        records = [{**run_record(info), "hparams": {f: info.config.get(f) for f in fields}} for info in infos]
        typer.echo(document("hparams", fields=fields, runs=records, damaged_left_out=damaged))
        return
    if not infos:
        what = "runs match" if filter_text else "runs to tabulate" if damaged else "runs"
        echo(f"no {what} in {store.root.absolute()}", err=True)
        return
    if csv == "":
        fail("csv: needs a file name (or - for stdout)")
    if csv is not None:
        if csv == "-":
            echo(csv_text(infos), nl=False)
        else:
            _write_file(csv, csv_text(infos), force, folder_hint="")
        return
    header, rows = table(infos)
    # the note column of _table is cut to fit: here every column matters, so a blank last column takes that role
    lines = _table(header + [""], [row + [""] for row in rows], max(shutil.get_terminal_size().columns, 10_000))
    echo("\n".join(line.rstrip() for line in lines))
