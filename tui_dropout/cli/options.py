"""Option types shared by several commands, and the one-line error exit."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

RunsDir = Annotated[Optional[Path], typer.Option("--runs-dir", help="Runs folder [default: $TUI_DROPOUT_RUNS or ./runs]")]
Epochs = Annotated[Optional[int], typer.Option("--epochs", help="Passes over the training set.")]
P = Annotated[Optional[float], typer.Option("--p", help="Drop probability for every dropout group.")]
Lr = Annotated[Optional[float], typer.Option("--lr", help="Initial learning rate.")]
BatchSize = Annotated[Optional[int], typer.Option("--batch-size", help="Images per SGD step.")]
Dataset = Annotated[Optional[str], typer.Option("--dataset", help="cifar10, digits or imagefolder.")]
DataDir = Annotated[Optional[str], typer.Option("--data-dir", help="Dataset folder [default: $TUI_DROPOUT_DATA or cache].")]
Device = Annotated[Optional[str], typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Seeds weights, masks and data order.")]
Sets = Annotated[Optional[list[str]], typer.Option("--set", help="Any config field: --set placement=all --set p_fc=0.3")]
Detach = Annotated[bool, typer.Option("--detach", help="Train in the background and print the run id.")]


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def parse_sets(sets: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in sets or []:
        if "=" not in item:
            fail(f"--set: expected FIELD=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip().replace("-", "_")] = value
    return out
