"""`train`, `study` and `resume`: in the foreground with a progress bar, or detached."""
from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..config import ConfigError, RunConfig
from ..export import acc_text, number_text, pct, results_rows, seconds_text
from ..fusion import fusable
from ..launcher import TrainerProcess, claim_group, resume_group
from ..preflight import build_config, preflight
from ..store import RunBusy, RunDir, RunStore
from .options import (BatchSize, DataDir, Dataset, Detach, Device, Epochs, Lr, P, RunsDir, Seed, Sets, fail,
                      open_store, parse_sets, runs_dir_flag)


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


class TerminalGuard:
    """A foreground run outlives its terminal: on SIGHUP (a closed SSH link or tmux pane) output goes to
    /dev/null and training goes on, so a new console finds the run live. Ctrl-C and SIGTERM stop it."""

    def __init__(self, stop: threading.Event, runs: list[RunDir]):
        self.stop = stop
        self.runs = runs
        self.detached = False

    def __enter__(self) -> "TerminalGuard":
        self.previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)

    def _handle(self, signum, frame) -> None:
        if signum != signal.SIGHUP:
            self.stop.set()
            return
        if self.detached:
            return
        self.detached = True
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # writes to a dead terminal would fail; to /dev/null they cannot
            os.dup2(null, fd)
        os.close(null)
        for run in self.runs:
            try:
                run.log(f"terminal closed: training goes on in the background (pid {os.getpid()})")
            except OSError:
                pass


def run_foreground(runs: list[RunDir], resume: bool = False, claim: str | None = None) -> list[str]:
    """Train in this process with a progress bar; Ctrl-C stops after the current step, as SIGTERM does."""
    from ..trainer.engine import Trainer

    stop = threading.Event()
    console = Console(stderr=True)
    names = ", ".join(r.run_id for r in runs)
    with TerminalGuard(stop, runs) as guard, Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(names if len(runs) == 1 else f"{len(runs)} runs", total=None, info="starting")

        def on_event(event: dict[str, Any]) -> None:
            if guard.detached:
                return
            if event["kind"] == "status":
                bar.update(task, info=event["text"])
            elif event["kind"] == "warning":
                bar.console.print(f"warning: {event['text']}", highlight=False, markup=False)
            elif event["kind"] == "step":
                bar.update(task, info=f"epoch {event['epoch']}: batch {event['step']}/{event['steps']}")
            elif event["kind"] == "epoch":
                losses = " ".join(f"{x:.4f}" for x in event["losses"])
                info = f"loss {losses}"
                if event["accs"]:
                    info += " test " + " ".join(pct(a) for a in event["accs"][1])
                bar.update(task, total=event["epochs"], completed=event["epoch"], info=info)

        trainer = Trainer(runs, resume=resume, stop=stop, progress=on_event, claim=claim)
        try:
            return trainer.run()
        except RunBusy as exc:
            fail(str(exc))


def print_results(runs: list[RunDir]) -> None:
    """The seed's table: final and best (@epoch) accuracy in %, final loss and time; fits 80 columns."""
    from rich import box
    from rich.table import Table

    table = Table(title="results (accuracy % on the full sets; best @ its epoch)", box=box.SIMPLE_HEAD,
                  pad_edge=False, padding=(0, 0))
    for col in ("network", "dropout", "state", "epochs", "train", "test", "best train", "best test", "loss", "time"):
        table.add_column(col, no_wrap=True, justify="left" if col in ("network", "dropout", "state") else "right")
    rows = results_rows(runs)
    for row in rows:
        table.add_row(row["preset"], row["placement"], row["state"], f"{row['epoch']}/{row['epochs']}",
                      acc_text(row["final_train_acc"]), acc_text(row["final_test_acc"]),
                      acc_text(row["best_train_acc"], row["best_train_epoch"]),
                      acc_text(row["best_test_acc"], row["best_test_epoch"]),
                      number_text(row["final_loss"], ".4f"), seconds_text(row["wall_seconds"]))
    console = Console()
    console.print(table)
    for row in rows:
        console.print(f"  {row['preset']}: {row['run']}", highlight=False, soft_wrap=True)
        if row["error"]:
            console.print(f"  error: {row['error']}", highlight=False, markup=False, soft_wrap=True)


def _finish(store: RunStore, runs: list[RunDir], states: list[str]) -> None:
    print_results(runs)
    if any(s == "failed" for s in states):
        raise typer.Exit(1)
    if any(s == "cancelled" for s in states):
        typer.echo(f"stopped; resume with: dropout-tui resume {runs[0].run_id}{runs_dir_flag(store)}")
        raise typer.Exit(130)


def _start(store: RunStore, cfgs: list[RunConfig], detach: bool) -> None:
    token = secrets.token_hex(8)
    runs = [store.create(c.to_dict(), claim=token) for c in cfgs]
    if detach:
        TrainerProcess(runs, claim=token).start()
        for run in runs:
            typer.echo(run.run_id)
        return
    for run in runs:
        typer.echo(f"run {run.run_id} in {run.path}", err=True)
    _finish(store, runs, run_foreground(runs, claim=token))


def train(preset: str = typer.Option(..., "--preset", help="Preset name (see `dropout-tui presets`)."),
          epochs: Epochs = None, p: P = None, lr: Lr = None, batch_size: BatchSize = None, dataset: Dataset = None,
          data_dir: DataDir = None, device: Device = None, seed: Seed = None, sets: Sets = None,
          runs_dir: RunsDir = None, detach: Detach = False) -> None:
    """Train one run of a preset, with any field overridden."""
    cfgs = _configs([preset], _overrides(epochs, p, lr, batch_size, dataset, data_dir, device, seed, sets))
    _start(open_store(runs_dir, write=True), cfgs, detach)


def study(presets: list[str] = typer.Argument(..., help="Presets to run, e.g. A B C D."),
          epochs: Epochs = None, p: P = None, lr: Lr = None, batch_size: BatchSize = None, dataset: Dataset = None,
          data_dir: DataDir = None, device: Device = None, seed: Seed = None, sets: Sets = None,
          runs_dir: RunsDir = None, detach: Detach = False,
          fuse: bool = typer.Option(True, "--fuse/--no-fuse", help="Train in one fused pass when possible.")) -> None:
    """Run several presets and print a results table like the seed's."""
    cfgs = _configs(presets, _overrides(epochs, p, lr, batch_size, dataset, data_dir, device, seed, sets))
    store = open_store(runs_dir, write=True)
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
        states += run_foreground([run], claim=run.read_status().get("claim"))
        if states[-1] == "cancelled":
            for later in runs[len(states):]:  # never started: say so rather than leave them to read as lost
                later.update_status(state="cancelled", ended=time.time(), error="not started: the study was stopped")
            break
    _finish(store, runs, states)


def resume(run_ref: str = typer.Argument(..., metavar="RUN", help="Run id, id prefix or list number."),
           runs_dir: RunsDir = None, detach: Detach = False) -> None:
    """Continue a lost, cancelled or failed run (and its fused partners) from its checkpoint."""
    store = open_store(runs_dir, write=True)
    try:
        runs = resume_group(store, store.find(run_ref))
        token = claim_group(runs)
    except (KeyError, ValueError, RunBusy) as exc:
        fail(str(exc))
    if not all(r.has_checkpoint() for r in runs):
        typer.echo(f"{runs[0].run_id}: no checkpoint yet; starting over from epoch 1", err=True)
    if detach:
        TrainerProcess(runs, resume=True, claim=token).start()
        for run in runs:
            typer.echo(run.run_id)
        return
    _finish(store, runs, run_foreground(runs, resume=True, claim=token))
