"""`train`, `study` and `resume`: in the foreground with a progress bar, or detached."""
from __future__ import annotations

import signal
import threading
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..config import ConfigError, RunConfig
from ..export import pct, results_rows, seconds_text
from ..fusion import fusable
from ..launcher import TrainerProcess, resume_group
from ..preflight import build_config, preflight
from ..store import RunDir, RunStore
from .options import (BatchSize, DataDir, Dataset, Detach, Device, Epochs, Lr, P, RunsDir, Seed, Sets, fail,
                      parse_sets)


def _overrides(epochs, p, lr, batch_size, dataset, data_dir, device, seed, sets) -> dict[str, Any]:
    values = {"epochs": epochs, "p": p, "lr": lr, "batch_size": batch_size, "dataset": dataset,
              "data_dir": data_dir, "device": device, "seed": seed}
    values.update(parse_sets(sets))
    return values


def _configs(presets: list[str], overrides: dict[str, Any]) -> list[RunConfig]:
    try:
        return [preflight(build_config(name, overrides)) for name in presets]
    except ConfigError as exc:
        fail(str(exc))


def run_foreground(runs: list[RunDir], resume: bool = False) -> list[str]:
    """Train in this process with a progress bar; Ctrl-C stops after the current step, as SIGTERM does."""
    from ..trainer.engine import Trainer

    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    console = Console(stderr=True)
    names = ", ".join(r.run_id for r in runs)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(names if len(runs) == 1 else f"{len(runs)} runs", total=None, info="starting")

        def on_event(event: dict[str, Any]) -> None:
            if event["kind"] == "status":
                bar.update(task, info=event["text"])
            elif event["kind"] == "step":
                bar.update(task, info=f"epoch {event['epoch']}: batch {event['step']}/{event['steps']}")
            elif event["kind"] == "epoch":
                losses = " ".join(f"{x:.4f}" for x in event["losses"])
                info = f"loss {losses}"
                if event["accs"]:
                    info += " test " + " ".join(pct(a) for a in event["accs"][1])
                bar.update(task, total=event["epochs"], completed=event["epoch"], info=info)

        try:
            trainer = Trainer(runs, resume=resume, stop=stop, progress=on_event)
            states = trainer.run()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    return states


def print_results(runs: list[RunDir]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(title="results (best accuracy on the full sets)", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("network", "dropout", "state", "epochs", "train", "test", "loss", "time"):
        table.add_column(col, no_wrap=True)
    for row in results_rows(runs):
        loss = row["final_loss"]
        table.add_row(row["preset"], row["placement"], row["state"], f"{row['epoch']}/{row['epochs']}",
                      pct(row["best_train_acc"]), pct(row["best_test_acc"]),
                      "-" if loss is None else f"{loss:.4f}", seconds_text(row["wall_seconds"]))
    console = Console()
    console.print(table)
    for row in results_rows(runs):
        console.print(f"  {row['preset']}: {row['run']}", highlight=False)


def _finish(runs: list[RunDir], states: list[str]) -> None:
    print_results(runs)
    if any(s == "failed" for s in states):
        raise typer.Exit(1)
    if any(s == "cancelled" for s in states):
        typer.echo("stopped; resume with: dropout-tui resume " + runs[0].run_id)
        raise typer.Exit(130)


def _start(store: RunStore, cfgs: list[RunConfig], detach: bool) -> None:
    runs = [store.create(c.to_dict()) for c in cfgs]
    if detach:
        TrainerProcess(runs).start()
        for run in runs:
            typer.echo(run.run_id)
        return
    for run in runs:
        typer.echo(f"run {run.run_id} in {run.path}", err=True)
    _finish(runs, run_foreground(runs))


def train(preset: str = typer.Option(..., "--preset", help="Preset name (see `dropout-tui presets`)."),
          epochs: Epochs = None, p: P = None, lr: Lr = None, batch_size: BatchSize = None, dataset: Dataset = None,
          data_dir: DataDir = None, device: Device = None, seed: Seed = None, sets: Sets = None,
          runs_dir: RunsDir = None, detach: Detach = False) -> None:
    """Train one run of a preset, with any field overridden."""
    cfgs = _configs([preset], _overrides(epochs, p, lr, batch_size, dataset, data_dir, device, seed, sets))
    _start(RunStore(runs_dir), cfgs, detach)


def study(presets: list[str] = typer.Argument(..., help="Presets to run, e.g. A B C D."),
          epochs: Epochs = None, p: P = None, lr: Lr = None, batch_size: BatchSize = None, dataset: Dataset = None,
          data_dir: DataDir = None, device: Device = None, seed: Seed = None, sets: Sets = None,
          runs_dir: RunsDir = None, detach: Detach = False,
          fuse: bool = typer.Option(True, "--fuse/--no-fuse", help="Train in one fused pass when possible.")) -> None:
    """Run several presets and print a results table like the seed's."""
    cfgs = _configs(presets, _overrides(epochs, p, lr, batch_size, dataset, data_dir, device, seed, sets))
    store = RunStore(runs_dir)
    differing = fusable(cfgs) if len(cfgs) > 1 else "single"
    if fuse and differing is None:
        _start(store, cfgs, detach)
        return
    if fuse and len(cfgs) > 1:
        typer.echo(f"not fused: the presets differ in {differing}; training one after another", err=True)
    if detach:
        for cfg in cfgs:
            _start(store, [cfg], detach=True)
        return
    runs = [store.create(c.to_dict()) for c in cfgs]
    states = []
    for run in runs:
        typer.echo(f"run {run.run_id}", err=True)
        states += run_foreground([run])
        if states[-1] == "cancelled":
            break
    _finish(runs, states)


def resume(run_ref: str = typer.Argument(..., metavar="RUN", help="Run id, id prefix or list number."),
           runs_dir: RunsDir = None, detach: Detach = False) -> None:
    """Continue a lost, cancelled or failed run (and its fused partners) from its checkpoint."""
    store = RunStore(runs_dir)
    try:
        runs = resume_group(store, store.find(run_ref))
    except (KeyError, ValueError) as exc:
        fail(str(exc).strip("'\""))
    if detach:
        TrainerProcess(runs, resume=True).start()
        for run in runs:
            typer.echo(run.run_id)
        return
    _finish(runs, run_foreground(runs, resume=True))
