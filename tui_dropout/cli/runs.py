"""`runs`, `show`, `cancel` and `export`: reading and steering run folders."""
from __future__ import annotations

import gc
import importlib.util
import json
from pathlib import Path
from typing import Annotated, Iterable, Optional

import typer

from .. import evaluation
from ..errors import DropoutTuiError, RunRefused
from ..export import (FORMATS, TENSORBOARD_HINT, MissingExtra, export_folder, export_tensorboard, number_text, pct,
                      render_chunks, seconds_text)
from ..launch import cancel as cancel_run
from ..query import QueryError, filter_runs, sort_runs
from ..store import RunDir, RunNotFound, RunStore, listed, paused_gc
from ..store.files import write_text_atomic
from ..safetext import safe
from . import options
from .options import echo, RunsDir, archive_store, fail, open_store, output_width


def _find(store: RunStore, ref: str) -> RunDir:
    try:
        return store.find(ref)
    except RunNotFound as exc:
        fail(str(exc))


def _one_line(text: str) -> str:
    return " ".join(safe(text).split())


def _table(header: list[str], rows: list[list[str]], width: int) -> list[str]:
    """Columns padded to their widest cell; only the last (the note) is cut to fit `width`. Every other cell is
    printed whole, so a run id is never cut: on a terminal too narrow for them the line is simply longer.
    Plain ASCII, so any terminal encoding prints it. Built column by column (50,000 rows at C speed)."""
    columns = list(zip(header, *rows))
    widths = [max(map(len, column)) for column in columns[:-1]]
    lead = sum(widths) + 2 * len(widths)
    room = max(width - lead - 1, 0)  # the last terminal column is left free: writing there wraps in some terminals
    padded = [[cell.ljust(w) for cell in column] for column, w in zip(columns, widths)]
    notes = [note if len(note) <= room else note[:room - 3] + "..." if room > 6 else "" for note in columns[-1]]
    lines = [line.rstrip() for line in map("  ".join, zip(*padded, notes))]
    head, body = lines[0], lines[1:]
    return [head, "-" * min(max(map(len, lines)), max(width - 1, lead))] + body


Filter = Annotated[Optional[str], typer.Option(
    "--filter", "-f", metavar="FILTER", help="Only runs that match, e.g. 'tag:best state:finished p_fc>=0.3'.")]
Reverse = Annotated[bool, typer.Option("--reverse", help="Flip the sort order.")]


def found(infos: list, filter_text: str | None, sort: str, reverse: bool) -> list:
    """The runs that match `--filter`, in the `--sort` order; a filter or sort that cannot be used exits 2."""
    try:
        if filter_text:
            infos = filter_runs(infos, filter_text)
        if sort == "newest" and not reverse:
            return infos  # the store lists newest first already
        return sort_runs(infos, sort, reverse)
    except QueryError as exc:
        fail(str(exc))


def runs(runs_dir: RunsDir = None, filter_text: Filter = None,
         sort: Annotated[str, typer.Option("--sort", metavar="COLUMN", help=(
             "newest, test, best, loss, gap, name, state, or a config field."))] = "newest",
         reverse: Reverse = False,
         archived: Annotated[bool, typer.Option("--archived", help="List the archived runs instead.")] = False,
         as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON (docs/json.md).")] = False
         ) -> None:
    """List runs, newest first, with their state and final test accuracy."""
    with paused_gc():  # tens of thousands of runs: the collector would walk every row of the table again and again
        listing = _list_runs(runs_dir, filter_text, sort, reverse, archived, as_json)
        if options.ENDS_AFTER_COMMAND:
            # The process ends here: freeing a listing of 50,000 runs object by object would cost a third of a
            # second more. Kept in a cycle the collector never looks at (frozen), it goes back to the system whole.
            _KEPT.extend([listing, _KEPT])
            gc.freeze()


_KEPT: list = []


def _list_runs(runs_dir, filter_text, sort, reverse, archived, as_json) -> None:
    store = open_store(runs_dir)
    if archived:
        store = archive_store(store)
    plain = not (filter_text or as_json or reverse) and sort == "newest"
    quick = store.lines() if plain else None  # every line from the index: nothing but live runs is read
    if quick is not None:
        rows = [[str(n), run_id, *cells] for n, (run_id, cells) in enumerate(quick, 1)]
        infos = None
    else:
        infos = store.list()
        place = {info.run_id: n for n, info in enumerate(infos, 1)}  # the number `show 3` takes, whatever the order
        infos = found(infos, filter_text, sort, reverse)
        if as_json:
            from ..jsonout import document, run_record

            typer.echo(document("runs", runs_dir=str(store.root.absolute()),
                                runs=[run_record(info, place[info.run_id]) for info in infos]))
            return
        rows = [[str(place[info.run_id]), info.run_id, *listed.cells(info)] for info in infos]
    if not rows:
        where = store.root.absolute()
        what = "runs match" if filter_text else "archived runs" if archived else "runs"
        echo(f"no {what} in {where}" + ("" if where.exists() or filter_text else " (no such folder)"))
        return
    lines = _table(["#", "run", "state", "epoch", "test", "best", "name | tags | note"], rows,
                   output_width())
    echo("\n".join(lines))
    return infos, rows, lines


def show(run_ref: str = typer.Argument(..., metavar="RUN"), runs_dir: RunsDir = None,
         lines: str = typer.Option("10", "--lines", metavar="N", help="Log lines to show (0: none)."),
         reliability: Annotated[bool, typer.Option("--reliability",
                                                   help="Also print the stored evaluation's reliability table.")] = False,
         as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON (docs/json.md).")] = False
         ) -> None:
    """Show a run's state, figures, config and the tail of its log."""
    try:
        count = int(lines)
    except ValueError:
        fail(f"lines: {lines!r} is not a whole number")
    if not 0 <= count <= 100_000:
        fail(f"lines: must be between 0 and 100000, got {count}")
    run = _find(open_store(runs_dir), run_ref)
    info = run.info()
    stored = evaluation.read(run.path)
    if reliability and not (stored and evaluation.columns(stored)["det_acc"] is not None):
        why = "no evaluation" if not stored else f"an evaluation that is {stored.get('problem') or stored.get('state')}"
        fail(f"reliability: run {run.run_id} has {why} (dropout-tui evaluate {run.run_id} makes one)")
    if as_json:
        from ..jsonout import document, run_record

        record = run_record(info, evaluated=stored)
        if reliability:
            record["reliability"] = {"off": stored["deterministic"].get("reliability"),
                                     "mc": (stored.get("mc") or {}).get("reliability")}
        log = run.log_tail(count, max_bytes=max(16384, count * 400)) if count else []
        typer.echo(document("show", run=record, folder=str(run.path.absolute()), log=log))
        return
    echo(f"run      {run.run_id}\nfolder   {run.path.absolute()}")
    if info.label != info.preset:
        echo(f"name     {_one_line(' · '.join(n for n in dict.fromkeys((info.name, info.study_label)) if n))}")
    if info.tags:
        echo(f"tags     {' '.join('#' + t for t in info.tags)}")
    if info.note:
        echo("note     " + "\n         ".join(map(safe, info.note.splitlines())))
    echo(f"state    {info.state}\nepoch    {info.epoch}/{info.epochs}")
    echo(f"final    train {pct(info.final_train_acc)}  test {pct(info.final_test_acc)}  "
               f"loss {number_text(info.final_loss, '.4f')}  time {seconds_text(info.elapsed)}")
    echo(f"best     train {pct(info.best_train_acc)} (epoch {info.best_train_epoch or '-'})  "
               f"test {pct(info.best_test_acc)} (epoch {info.best_test_epoch or '-'})")
    if info.error or info.problem:
        echo(f"error    {_one_line(info.error or info.problem)}")
    for n, line in enumerate(evaluation.describe(stored)):
        echo(("eval     " if n == 0 else "         ") + safe(line.removeprefix("eval  ").strip()))
    if reliability:
        from .evaluate import print_reliability

        print_reliability(stored)
    if info.config:
        cfg = {k: v for k, v in info.config.items() if k not in ("extra", "description")}
        echo("config   " + _pairs(cfg))
    if count:
        for line in run.log_tail(count, max_bytes=max(16384, count * 400)):
            echo("  " + safe(line))


def _pairs(values: dict, width: int = 100) -> str:
    """key=value pairs wrapped under one another, for a dict printed in a terminal."""
    lines, line = [], ""
    for key, value in values.items():
        item = safe(f"{key}={json.dumps(value) if isinstance(value, (dict, list)) else value}")
        if line and len(line) + len(item) + 1 > width - 9:
            lines.append(line)
            line = item
        else:
            line = f"{line} {item}".strip()
    return "\n         ".join(lines + [line])


def cancel(run_ref: str = typer.Argument(..., metavar="RUN"), runs_dir: RunsDir = None) -> None:
    """Stop a run after its current step (it keeps a checkpoint and can be resumed), wherever it trains."""
    store = open_store(runs_dir)
    if store.root.is_dir():  # a read-only folder is one line; a mistyped --runs-dir is not created
        store = open_store(runs_dir, write=True)
    run = _find(store, run_ref)
    try:
        what = cancel_run(run)
    except RunRefused as exc:  # already ended
        fail(str(exc))
    except DropoutTuiError as exc:  # a damaged status.json
        fail(f"run: {run.run_id}: {exc}")
    except OSError as exc:
        fail(f"run: cannot write to {exc.filename or run.path} ({exc.strerror or exc})")
    echo(f"{run.run_id}: {what}")


def _unusable_parent(path: Path) -> str | None:
    """Why files cannot go under `path` because of a folder above it (a file where a folder must be)."""
    for above in path.absolute().parents:
        if above.exists():
            return None if above.is_dir() else f"{above} is a file, not a folder"
    return None


def export(run_ref: str = typer.Argument(..., metavar="RUN"), runs_dir: RunsDir = None,
           fmt: str = typer.Option("csv", "--format", help="csv, jsonl, md, dir (a folder of everything), or "
                                   "tensorboard (event files; extra `tensorboard`)."),
           output: Optional[str] = typer.Option(None, "-o", "--output", metavar="PATH",
                                                help="File (a folder for dir and tensorboard); - or none: stdout "
                                                     "(dir: ./exports, tensorboard: ./<run-id>-tensorboard)."),
           force: bool = typer.Option(False, "--force", help="Overwrite an existing output file or folder.")) -> None:
    """Export a run's metrics (CSV, JSONL or Markdown), TensorBoard event files, or everything into a folder."""
    if fmt not in FORMATS:
        fail(f"format: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    run = _find(open_store(runs_dir), run_ref)
    if output == "":
        fail("output: needs a path (or - for stdout)")
    if fmt == "dir":
        _export_dir(run, Path(output or "exports"), force)
        return
    if fmt == "tensorboard":
        if output == "-":
            fail("output: --format tensorboard writes a folder; give one with -o DIR")
        _export_tensorboard(run, Path(output or f"{run.run_id}-tensorboard"), force)
        return
    try:
        pieces = render_chunks(run, fmt)  # rows stream from the run to the output: memory for a chunk, not the run
    except (OSError, ValueError) as exc:
        fail(f"run: {run.run_id} cannot be read ({exc})")
    if output is None or output == "-":
        for piece in pieces:
            echo(piece, nl=False)
        return
    _write_file(output, pieces, force)


def _export_dir(run: RunDir, dest: Path, force: bool) -> None:
    try:
        _export_dir_checked(run, dest, force)
    except OSError as exc:  # a name too long, a link loop
        fail(f"output: cannot write into {dest} ({(exc.strerror or str(exc)).lower()})")


def _export_dir_checked(run: RunDir, dest: Path, force: bool) -> None:
    if dest.exists() and not dest.is_dir():
        fail(f"output: {dest} is a file; --format dir writes a folder (<output>/{run.run_id}/)")
    why = _unusable_parent(dest)
    if why:
        fail(f"output: cannot write into {dest} ({why})")
    target = dest / run.run_id
    if (target.exists() or target.is_symlink()) and not force:
        fail(f"output: {target} exists; add --force to replace it")
    if target.is_symlink() or target.exists() and not target.is_dir():
        fail(f"output: {target} is not a folder; remove it first")
    try:
        echo(str(export_folder(run, dest)))
    except OSError as exc:
        fail(f"output: cannot write into {dest} ({exc.strerror or exc})")


def _export_tensorboard(run: RunDir, target: Path, force: bool) -> None:
    """Event files into `target` (the folder itself). --force replaces only a folder of event files: a folder
    holding anything else is never removed."""
    if importlib.util.find_spec("tensorboard") is None:
        fail(f"format: tensorboard is not installed: {TENSORBOARD_HINT}")
    try:
        if target.exists() and not target.is_dir() or target.is_symlink():
            fail(f"output: {target} is not a folder; --format tensorboard writes a folder")
        why = _unusable_parent(target)
        if why:
            fail(f"output: cannot write into {target} ({why})")
        if target.exists():
            others = [p.name for p in target.iterdir() if not p.name.startswith("events.out.tfevents.")]
            if others:
                fail(f"output: {target} holds other files ({others[0]}...); choose an empty or new folder")
            if any(target.iterdir()) and not force:
                fail(f"output: {target} exists; add --force to replace it")
        echo(str(export_tensorboard(run, target)))
    except MissingExtra as exc:
        fail(f"format: {exc}")
    except OSError as exc:
        fail(f"output: cannot write into {target} ({(exc.strerror or str(exc)).lower()})")


def _write_file(name: str, text: str | Iterable[str], force: bool, folder_hint: str = " (or use --format dir)") -> None:
    """One file, written whole (temp file, then rename) or not at all; a device or pipe is written in place."""
    try:
        _write_file_checked(name, text, force, folder_hint)
    except OSError as exc:  # a name too long, a link loop
        fail(f"output: cannot write {name} ({(exc.strerror or str(exc)).lower()})")


def _write_file_checked(name: str, text: str | Iterable[str], force: bool, folder_hint: str) -> None:
    output = Path(name)
    if name.endswith(("/", "/.")) or output.is_dir():
        fail(f"output: {name} is a folder; give a file name{folder_hint}")
    why = _unusable_parent(output)
    if why:
        fail(f"output: cannot write {output} ({why})")
    if str(output.absolute()).startswith(("/dev/", "/proc/")) or output.is_char_device() or output.is_fifo():
        try:  # /dev/stdout, /dev/null, a named pipe: there is nothing to replace, and no file to half-write
            with open(output, "w") as f:
                f.writelines([text] if isinstance(text, str) else text)
        except OSError as exc:
            fail(f"output: cannot write {output} ({exc.strerror or exc})")
        return
    target = output
    if output.is_symlink():  # another person's link may point anywhere: written through only when asked
        if not force:
            fail(f"output: {output} is a link; add --force to write through it")
        target = output.resolve()
        if not target.parent.is_dir():  # no folders are made for a link's target
            fail(f"output: {output} is a link into {target.parent}, which is not a folder")
    if target.exists() and not target.is_file():
        fail(f"output: {output} is not a regular file")
    if target.exists() and not force:
        fail(f"output: {output} exists; add --force to overwrite it")
    made = [p for p in target.absolute().parents if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, text)
    except OSError as exc:
        for folder in made:  # folders made for this file go again: nothing half-written stays
            try:
                folder.rmdir()
            except OSError:
                break
        fail(f"output: cannot write {output} ({exc.strerror or exc})")
    echo(f"wrote {output}", err=True)
