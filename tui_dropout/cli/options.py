"""Option types shared by several commands, and the one-line error exit."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from ..safetext import safe, safe_lines
from ..store import RunStore, RunsFolderError

RunsDir = Annotated[Optional[Path], typer.Option("--runs-dir", help="Runs folder \\[default: $TUI_DROPOUT_RUNS or ./runs]")]
# Numbers are taken as text and converted by the config, so a bad one reads like every other bad value
# (`error: batch_size: '1e12' is not a whole number`), through the console script and in tests alike.
Epochs = Annotated[Optional[str], typer.Option("--epochs", metavar="N", help="Passes over the training set.")]
P = Annotated[Optional[str], typer.Option("--p", metavar="P", help="Drop probability for every dropout group.")]
Lr = Annotated[Optional[str], typer.Option("--lr", metavar="LR", help="Initial learning rate.")]
BatchSize = Annotated[Optional[str], typer.Option("--batch-size", metavar="N", help="Images per SGD step.")]
Dataset = Annotated[Optional[str], typer.Option(
    "--dataset", help="cifar10, cifar100, mnist, fashion_mnist, svhn, digits or imagefolder.")]
DataDir = Annotated[Optional[str], typer.Option("--data-dir", help="Dataset folder \\[default: $TUI_DROPOUT_DATA or cache].")]
Device = Annotated[Optional[str], typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
Seed = Annotated[Optional[str], typer.Option("--seed", metavar="S", help="Seeds weights, masks and data order.")]
Sets = Annotated[Optional[list[str]], typer.Option("--set", help="Any config field: --set placement=all --set p_fc=0.3")]
Detach = Annotated[bool, typer.Option("--detach", help="Train in the background and print the run id.")]


ENDS_AFTER_COMMAND = False  # set by the console script: the process exits once the command returns


def echo(text: object = "", err: bool = False, nl: bool = True) -> None:
    """Every line the CLI prints: run-folder text in it (labels, errors, log lines, paths) can hold escapes, so
    controls and bidi characters are shown as visible escapes (line breaks and tabs kept)."""
    typer.echo(safe_lines(text), err=err, nl=nl)


def fail(message: str, code: int = 2) -> NoReturn:
    echo(f"error: {' '.join(safe(message).split())}", err=True)  # one line, whatever a run's file said
    raise typer.Exit(code)


def parse_sets(sets: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in sets or []:
        if "=" not in item:
            fail(f"--set: expected FIELD=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if not key:
            fail(f"--set: expected FIELD=VALUE, got {item!r} (no field name)")
        out[key] = value
    return out


# Options given before the command (`dropout-tui --runs-dir X runs`); the app callback sets them on every call.
GLOBAL_OPTIONS: dict[str, Path | None] = {"runs_dir": None}


def runs_root(runs_dir: Path | None) -> Path | None:
    """--runs-dir given to the command, else given before it, else None (the default folder)."""
    return runs_dir if runs_dir is not None else GLOBAL_OPTIONS["runs_dir"]


def open_store(runs_dir: Path | None, write: bool = False) -> RunStore:
    """The runs folder; exit 2 with one line when it is a file, or read-only and `write` is asked for."""
    store = RunStore(runs_root(runs_dir))
    try:
        for above in store.root.absolute().parents:  # `afile/runs`: say what is wrong rather than "Not a directory"
            if above.exists():
                if not above.is_dir():
                    fail(f"runs_dir: {store.root} is inside {above}, which is a file, not a folder")
                break
        store.check(write=write)
    except RunsFolderError as exc:
        fail(f"runs_dir: {exc}")
    except OSError as exc:  # a name too long, a link loop
        fail(f"runs_dir: {store.root} cannot be used ({(exc.strerror or str(exc)).lower()})")
    return store


def runs_dir_flag(store: RunStore) -> str:
    """` --runs-dir X` when the runs folder is not the default, so a printed command can be pasted as is."""
    from ..store import default_runs_dir

    if store.root.resolve() == default_runs_dir().resolve():
        return ""
    import shlex

    return f" --runs-dir {shlex.quote(str(store.root.absolute()))}"  # absolute: pasted from any folder, it works


def archive_store(store: RunStore) -> RunStore:
    """The runs archived out of `store` (`<runs>/.archive`), listed and found like any runs folder."""
    from ..store.prune import ARCHIVE

    return RunStore(store.root / ARCHIVE)


def output_width() -> int:
    """Columns a table may fill: $COLUMNS, else the terminal's width; piped into a file or grep, no limit (a cut
    line cannot be searched)."""
    import os
    import shutil
    import sys

    if os.environ.get("COLUMNS", "").isdigit() or sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return 1_000_000
