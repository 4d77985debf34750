"""The `dropout-tui` entry point: no command opens the console; commands train and inspect runs."""
from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Optional

import typer

from . import evaluate as evaluate_cmds
from . import notebook as notebook_cmds
from . import queue as queue_cmds
from . import results as results_cmds
from . import report as report_cmds
from . import runs as runs_cmds
from . import sweep as sweep_cmds
from . import train as train_cmds
from . import options
from .options import echo, GLOBAL_OPTIONS, RunsDir, fail, open_store

def _flags_show_no_type() -> None:
    """typer's help shows `<bool>` beside every on/off flag (`--help <bool>`), as if it took a value: a flag's
    type is left out, as click prints it."""
    option = getattr(getattr(typer, "core", None), "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if shown is None or getattr(shown, "_flags_plain", False):
        return

    def display_type_rich(self, ctx):
        return None if getattr(self, "is_flag", False) and self.metavar is None else shown(self, ctx)

    display_type_rich._flags_plain = True
    option.display_type_rich = display_type_rich


_flags_show_no_type()
app = typer.Typer(help="A terminal experiment console for dropout studies in PyTorch.", no_args_is_help=False,
                  add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Datasets: fetch them ahead of training.", add_completion=False)
app.add_typer(data_app, name="data")

app.command()(train_cmds.train)
app.command()(train_cmds.study)
app.command()(train_cmds.resume)
app.command()(runs_cmds.runs)
app.command()(runs_cmds.show)
app.command()(runs_cmds.cancel)
app.command()(runs_cmds.export)
app.command()(queue_cmds.queue)
app.command()(results_cmds.results)
app.command()(sweep_cmds.sweep)
app.command()(report_cmds.report)
app.command()(evaluate_cmds.evaluate)
app.command()(notebook_cmds.label)
app.command()(notebook_cmds.archive)
app.command()(notebook_cmds.unarchive)
app.command()(notebook_cmds.rm)
app.command()(notebook_cmds.hparams)


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context, runs_dir: RunsDir = None,
         bell: bool = typer.Option(True, "--bell/--no-bell", help="Ring the terminal bell when a run ends "
                                   "(the console; DROPOUT_TUI_BELL=0 also turns it off).")) -> None:
    """With no command, open the console."""
    GLOBAL_OPTIONS["runs_dir"] = runs_dir
    if ctx.invoked_subcommand is None:
        from ..console.app import DropoutConsole

        store = open_store(runs_dir)
        console = DropoutConsole(runs_dir=store.root, bell=None if bell else False)
        console.run()
        if console.return_code:  # a crash: Textual has printed the error after closing the screen
            raise typer.Exit(console.return_code)


@app.command()
def presets() -> None:
    """List the presets and what they set; a preset that cannot be used is one line saying why."""
    from ..config import ConfigError, list_presets, load_preset, problems, unusable_presets

    entries = {**list_presets(), **unusable_presets()}
    width = max([8, *(len(n) for n in entries)])
    for name in sorted(entries):
        try:
            cfg = load_preset(name)
        except ConfigError as exc:
            echo(f"{name:{width}} broken: {exc.reason}")
            continue
        found = {k: v for k, v in problems(cfg).items() if k != "data_dir"}  # data_dir can come at train time
        if found:
            field, reason = next(iter(found.items()))
            echo(f"{name:{width}} broken: {entries[name]}: {field} {reason}")
            continue
        echo(f"{name:{width}} {cfg.dataset:13} {cfg.network:8} placement={cfg.placement:4} p_conv={cfg.p_conv:g} "
                   f"p_fc={cfg.p_fc:g} epochs={cfg.epochs} batch={cfg.batch_size}  {' '.join(cfg.description.split())}")
        echo(f"{'':{width}} {entries[name]}")


@data_app.command("fetch")
def data_fetch(dataset: str = typer.Argument("cifar10", help="One of the datasets (`dropout-tui data fetch --help`)."),
               data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Where to put it."),
               timeout: str = typer.Option("60", "--timeout", metavar="SECONDS",
                                           help="Network timeout for each connect and read, in seconds.")) -> None:
    """Download a dataset (cifar10, cifar100, mnist, fashion_mnist, svhn), with a timeout; offline, says how to
    place the files by hand."""
    from ..data import DataError, resolve_data_dir
    from ..data.registry import DATASETS, help_text

    row = DATASETS.get(dataset)
    if row is None:
        fail(f"dataset: unknown dataset {dataset!r}; the datasets are {help_text()}")
    if not row.fetchable:
        echo(f"{dataset} {row.about}: nothing to fetch")
        return
    from ..data.cifar10 import MAX_TIMEOUT

    try:
        seconds = float(timeout)
    except ValueError:
        fail(f"timeout: {timeout!r} is not a number of seconds")
    if not 0 < seconds <= MAX_TIMEOUT:  # NaN fails this too
        fail(f"timeout: must be a number of seconds in (0, {MAX_TIMEOUT:g}], got {timeout!r}")
    root = resolve_data_dir(dataset, data_dir)
    try:
        if root.exists() and not root.is_dir():
            fail(f"data_dir: {root} is a file, not a folder")
        missing = row.missing(root)
    except OSError as exc:  # a name too long, a link loop
        fail(f"data_dir: {root} cannot be used ({(exc.strerror or str(exc)).lower()})")
    if not missing:
        echo(f"{row.title} already in {root}")
        return
    echo(f"downloading {row.title} into {root} (network timeout {seconds:g}s)", err=True)
    try:
        path = row.fetch(Path(root), seconds, progress=_download_progress())
    except DataError as exc:
        fail(str(exc), code=2 if exc.field in ("timeout", "data_dir") else 1)
    echo(str(path))


def _download_progress():
    """A percentage on one rewritten line when stderr is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        return None
    shown = [-1]

    def show(done: int, total: int | None) -> None:
        pct = int(done * 100 / total) if total else done >> 20
        if pct != shown[0]:
            shown[0] = pct
            sys.stderr.write(f"\r  {pct}%" if total else f"\r  {pct} MiB")
            sys.stderr.flush()
            if total and done >= total:
                sys.stderr.write("\n")

    return show


def _usage_line(exc: Exception) -> str:
    """A click usage error as `<option>: <reason>`: the option first, like every other bad value."""
    param = getattr(exc, "param", None)
    name = getattr(exc, "option_name", None) or (param and (getattr(param, "opts", None) or [param.name])[0])
    message = str(getattr(exc, "message", "") or "")
    if name and message and type(exc).__name__ in ("BadParameter", "NoSuchOption", "BadOptionUsage"):
        return f"{name}: {message[0].lower()}{message[1:]}"
    return f"usage: {exc.format_message()}"


def _os_error_line(exc: OSError) -> tuple[str, int]:
    """An OSError that reached the top (a path too long, a folder where a file must be...): one line, not a trace."""
    where = f" {exc.filename}" if exc.filename is not None else ""
    bad_path = exc.errno in (errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR, errno.EISDIR, errno.ENOENT,
                             errno.EACCES, errno.EPERM, errno.EROFS, errno.EEXIST, errno.EINVAL)
    return f"path:{where}: {(exc.strerror or str(exc)).lower()}", 2 if bad_path else 1


def run() -> None:
    """The console script: usage errors become one line and exit 2, like every other bad input."""
    options.ENDS_AFTER_COMMAND = True
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        sys.exit(130)
    except OSError as exc:
        line, code = _os_error_line(exc)
        echo(f"error: {line}", err=True)
        sys.exit(code)
    except Exception as exc:
        if getattr(exc, "exit_code", None) == 2 and hasattr(exc, "format_message"):  # click's UsageError family
            echo(f"error: {_usage_line(exc)}", err=True)
            sys.exit(2)
        raise
    sys.exit(code if isinstance(code, int) else 0)
