"""The `dropout-tui` entry point: no command opens the console; commands train and inspect runs."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from . import runs as runs_cmds
from . import train as train_cmds
from .options import GLOBAL_OPTIONS, RunsDir, fail, open_store

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


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context, runs_dir: RunsDir = None) -> None:
    """With no command, open the console."""
    GLOBAL_OPTIONS["runs_dir"] = runs_dir
    if ctx.invoked_subcommand is None:
        from ..console.app import DropoutConsole

        store = open_store(runs_dir)
        console = DropoutConsole(runs_dir=store.root)
        console.run()
        if console.return_code:  # a crash: Textual has printed the error after closing the screen
            raise typer.Exit(console.return_code)


@app.command()
def presets() -> None:
    """List the presets and what they set."""
    from ..config import ConfigError, list_presets, load_preset

    for name, path in list_presets().items():
        try:
            cfg = load_preset(name)
        except ConfigError as exc:
            typer.echo(f"{name:8} (broken: {exc})")
            continue
        typer.echo(f"{name:8} {cfg.dataset:11} placement={cfg.placement:4} p_conv={cfg.p_conv} p_fc={cfg.p_fc} "
                   f"epochs={cfg.epochs} batch={cfg.batch_size}  {cfg.description}")
        typer.echo(f"{'':8} {path}")


@data_app.command("fetch")
def data_fetch(dataset: str = typer.Argument("cifar10"),
               data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Where to put it."),
               timeout: float = typer.Option(60.0, "--timeout", help="Network timeout in seconds.")) -> None:
    """Download a dataset (CIFAR-10 through torchvision), with a timeout."""
    from ..data import DataError, resolve_data_dir

    if dataset != "cifar10":
        fail(f"dataset: only cifar10 is downloaded ({dataset!r} ships with the package or is your own folder)")
    from ..data import cifar10

    root = resolve_data_dir("cifar10", data_dir)
    if not cifar10.missing_files(root):
        typer.echo(f"CIFAR-10 already in {cifar10.folder(root)}")
        return
    typer.echo(f"downloading CIFAR-10 into {root} (timeout {timeout:.0f}s)", err=True)
    try:
        path = cifar10.fetch(Path(root), timeout)
    except DataError as exc:
        fail(str(exc), code=1)
    typer.echo(str(path))


def run() -> None:
    """The console script: usage errors become one line and exit 2, like every other bad input."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:
        if getattr(exc, "exit_code", None) == 2 and hasattr(exc, "format_message"):  # click's UsageError family
            typer.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(2)
        raise
    sys.exit(code if isinstance(code, int) else 0)
