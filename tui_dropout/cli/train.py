"""`train`, `study` and `resume`: in the foreground with a progress bar, or detached."""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..config import ConfigError, RunConfig
from ..errors import DropoutTuiError
from ..export import pct
from ..fusion import fusable
from ..launch import Group, LocalLauncher, claim_group, launch, prepare, resume_group
from ..launch.plan import MAX_FUSED, check_max_fused, expand, parse_grid, parse_seeds
from ..preflight import build_config, preflight
from ..states import State
from ..store import RunBusy, RunDir, RunStore
from ..store.notes import NotesError, check_name, check_note, check_tags
from .results import print_results
from ..safetext import safe
from .options import (echo, BatchSize, DataDir, Dataset, Detach, Device, Epochs, Lr, P, RunsDir, Seed, Sets, fail,
                      open_store, parse_sets, runs_dir_flag)


def _overrides(epochs, p, lr, batch_size, dataset, data_dir, device, seed, sets) -> dict[str, Any]:
    values = {"epochs": epochs, "p": p, "lr": lr, "batch_size": batch_size, "dataset": dataset,
              "data_dir": data_dir, "device": device, "seed": seed}
    values.update(parse_sets(sets))
    return values


def _configs(presets: list[str], overrides: dict[str, Any], local_device: bool = True) -> list[RunConfig]:
    try:
        return [preflight(build_config(name, overrides), local_device) for name in presets]
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
                if not console.is_terminal:  # piped: no live bar, so what it is doing is a line (a decode takes minutes)
                    console.print(safe(event["text"]), highlight=False, markup=False, soft_wrap=True)
            elif event["kind"] == "warning":
                bar.console.print(f"warning: {safe(event['text'])}", highlight=False, markup=False, soft_wrap=True)
            elif event["kind"] == "step":
                bar.update(task, info=f"epoch {event['epoch']}: batch {event['step']}/{event['steps']}")
            elif event["kind"] == "epoch":
                losses = " ".join(f"{x:.4f}" for x in event["losses"])
                info = f"loss {losses}"
                if event["accs"]:
                    info += " test " + " ".join(pct(a) for a in event["accs"][1])
                    if not console.is_terminal:
                        console.print(f"epoch {event['epoch']}/{event['epochs']}: {info}", highlight=False,
                                      markup=False, soft_wrap=True)
                bar.update(task, total=event["epochs"], completed=event["epoch"], info=info)

        trainer = Trainer(runs, resume=resume, stop=stop, progress=on_event, claim=claim)
        try:
            return trainer.run()
        except RunBusy as exc:
            fail(str(exc))


def _finish(store: RunStore, runs: list[RunDir], states: list[str]) -> None:
    print_results(runs)
    if any(s == State.FAILED for s in states):
        raise typer.Exit(1)
    if any(s == State.CANCELLED for s in states):
        echo(f"stopped; resume with: dropout-tui resume {runs[0].run_id}{runs_dir_flag(store)}")
        raise typer.Exit(130)


Grid = Annotated[Optional[list[str]], typer.Option(
    "--grid", help="FIELD=V1,V2,... or FIELD=LOW..HIGH:STEP; repeat for a cross product.")]
Seeds = Annotated[Optional[str], typer.Option("--seeds", help="N seeds (seed, seed+1, ...) or a list 0,5,9.")]
Backend = Annotated[str, typer.Option("--backend", help="local (a process now), queue (GPU slots) or slurm.")]
Gpus = Annotated[Optional[str], typer.Option("--gpus", help="queue: auto (every GPU), cpu, or indices 0,2,3.")]
PerGpu = Annotated[Optional[int], typer.Option("--per-gpu", help="queue: trainer processes at once per GPU \\[1].")]
MaxFused = Annotated[Optional[int], typer.Option(
    "--max-fused", help="Runs packed into one fused trainer at most \\[8].")]
Partition = Annotated[Optional[str], typer.Option("--partition", help="slurm: partition \\[cluster default].")]
TimeLimit = Annotated[Optional[int], typer.Option(
    "--time", help="slurm: minutes per job; at the limit a job checkpoints and is requeued \\[240].")]
GpusPerJob = Annotated[Optional[int], typer.Option("--gpus-per-job", help="slurm: GPUs per job \\[0].")]
ArrayParallelism = Annotated[Optional[int], typer.Option(
    "--array-parallelism", help="slurm: jobs of the array running at once \\[32].")]
Name = Annotated[Optional[str], typer.Option("--name", help="A name for the run (several runs: NAME + label).")]
Tags = Annotated[Optional[list[str]], typer.Option("--tag", help="A tag for the runs (repeatable).")]
NoteText = Annotated[Optional[str], typer.Option("--note", help="A free-text note kept with the runs.")]
SlurmConfig = Annotated[Optional[Path], typer.Option(
    "--slurm-config", help="slurm: TOML defaults \\[~/.config/dropout-tui/slurm.toml].")]
BACKENDS = ("local", "queue", "slurm")


@dataclass
class BackendOptions:
    backend: str = "local"
    gpus: str | None = None
    per_gpu: int | None = None
    max_fused: int | None = None
    slurm: dict[str, Any] = field(default_factory=dict)
    fuse: bool = True


def _launcher(opts: BackendOptions):
    """The launcher for --backend, its options checked (one line and exit 2 when they are wrong)."""
    if opts.backend not in BACKENDS:
        fail(f"backend: unknown backend {opts.backend!r} (choose from {', '.join(BACKENDS)})")
    if opts.backend != "queue" and (opts.gpus is not None or opts.per_gpu is not None):
        fail("gpus: --gpus and --per-gpu go with --backend queue")
    given = {k: v for k, v in opts.slurm.items() if v is not None}
    if opts.backend != "slurm" and given:
        fail(f"{next(iter(given))}: Slurm options go with --backend slurm")
    try:
        check_max_fused(opts.max_fused)  # every backend: 0 or -5 would pack nothing, or without bound
        if opts.backend == "queue":
            from ..launch.queue import QueueLauncher, settings_from

            return QueueLauncher(settings_from(opts.gpus, opts.per_gpu, opts.max_fused), fuse=opts.fuse)
        if opts.backend == "slurm":
            from ..launch.slurm import SlurmLauncher

            config = given.pop("config", None)
            return SlurmLauncher.from_options(config, **given)
    except ConfigError as exc:
        fail(str(exc))
    return LocalLauncher()


def _notes(name: str | None, tags: list[str] | None, note: str | None) -> dict | None:
    """--name/--tag/--note checked before any folder is made."""
    if name is None and not tags and note is None:
        return None
    try:
        return {"name": check_name(name or ""), "tags": check_tags(tags or []), "note": check_note(note or "")}
    except NotesError as exc:
        fail(str(exc))


def _launch(store: RunStore, cfgs: list[RunConfig], launcher, detach: bool, fuse: bool,
            max_fused: int | None, notes: dict | None = None) -> None:
    """Start `cfgs`: in this process with a progress bar (local, not detached), or through the launcher."""
    limit = max_fused or MAX_FUSED
    if launcher.name == "queue" and any(c.device.startswith("cuda:") for c in cfgs):
        fail("device: the queue gives each run its own GPU (use cuda or auto), not a fixed cuda:N")
    if launcher.name != "local" or detach:
        try:
            launched = launch(store, cfgs, launcher, fuse=fuse, max_members=limit, notes=notes)
        except ConfigError as exc:  # a launcher that refuses (slurm: sbatch said no, a folder the nodes cannot see)
            fail(str(exc))
        for run in launched.runs:
            echo(run.run_id)
        echo(f"{launched.note}; watch with: dropout-tui{runs_dir_flag(store)} "
                   "(or dropout-tui runs)", err=True)
        return
    groups = prepare(store, cfgs, fuse=fuse, max_members=limit, notes=notes)
    if len(cfgs) > 1 and len(groups) > 1:
        why = "--no-fuse" if not fuse else fusable(cfgs) or f"at most {limit} runs a fused trainer (--max-fused)"
        echo(f"{len(groups)} trainers one after another (not one fused pass: {why})", err=True)
    states: list[str] = []
    for i, group in enumerate(groups):
        for run in group.runs:
            echo(f"run {run.run_id} in {run.path}", err=True)
        states += run_foreground(group.runs, claim=group.claim)
        if State.CANCELLED in states:
            for later in groups[i + 1:]:  # never started: say so rather than leave them to read as lost
                for run in later.runs:
                    run.update_status(state=State.CANCELLED, ended=time.time(), error="not started: the study was stopped")
            break
    _finish(store, [run for g in groups for run in g.runs], states)


def _expanded(presets: list[str], overrides: dict[str, Any], grid: list[str] | None, seeds: str | None,
              local_device: bool = True) -> list[RunConfig]:
    bases = _configs(presets, overrides, local_device)
    try:
        cfgs = expand(bases, parse_grid(grid), parse_seeds(seeds, bases[0].seed))
        return [preflight(cfg, local_device) for cfg in cfgs]
    except ConfigError as exc:
        fail(str(exc))


def train(preset: str = typer.Option(..., "--preset", help="Preset name (see `dropout-tui presets`)."),
          epochs: Epochs = None, p: P = None, lr: Lr = None, batch_size: BatchSize = None, dataset: Dataset = None,
          data_dir: DataDir = None, device: Device = None, seed: Seed = None, sets: Sets = None,
          runs_dir: RunsDir = None, detach: Detach = False, backend: Backend = "local", gpus: Gpus = None,
          per_gpu: PerGpu = None, partition: Partition = None, time_limit: TimeLimit = None,
          gpus_per_job: GpusPerJob = None, slurm_config: SlurmConfig = None, name: Name = None, tag: Tags = None,
          note: NoteText = None) -> None:
    """Train one run of a preset, with any field overridden."""
    notes = _notes(name, tag, note)
    launcher = _launcher(BackendOptions(backend, gpus, per_gpu, None, dict(
        partition=partition, time=time_limit, gpus_per_job=gpus_per_job, config=slurm_config)))
    cfgs = _configs([preset], _overrides(epochs, p, lr, batch_size, dataset, data_dir, device, seed, sets),
                    local_device=backend != "slurm")
    _launch(open_store(runs_dir, write=True), cfgs, launcher, detach, True, None, notes)


def study(presets: list[str] = typer.Argument(..., help="Presets to run, e.g. A B C D."),
          epochs: Epochs = None, p: P = None, lr: Lr = None, batch_size: BatchSize = None, dataset: Dataset = None,
          data_dir: DataDir = None, device: Device = None, seed: Seed = None, sets: Sets = None,
          grid: Grid = None, seeds: Seeds = None, runs_dir: RunsDir = None, detach: Detach = False,
          fuse: bool = typer.Option(True, "--fuse/--no-fuse", help="Train in one fused pass when possible."),
          backend: Backend = "local", gpus: Gpus = None, per_gpu: PerGpu = None, max_fused: MaxFused = None,
          partition: Partition = None, time_limit: TimeLimit = None, gpus_per_job: GpusPerJob = None,
          array_parallelism: ArrayParallelism = None, slurm_config: SlurmConfig = None, name: Name = None,
          tag: Tags = None, note: NoteText = None) -> None:
    """Run presets x grid x seeds and print a results table like the seed's (mean and spread over seeds)."""
    notes = _notes(name, tag, note)
    launcher = _launcher(BackendOptions(backend, gpus, per_gpu, max_fused, dict(
        partition=partition, time=time_limit, gpus_per_job=gpus_per_job, array_parallelism=array_parallelism,
        config=slurm_config), fuse=fuse))
    cfgs = _expanded(presets, _overrides(epochs, p, lr, batch_size, dataset, data_dir, device, seed, sets), grid,
                     seeds, local_device=backend != "slurm")
    _launch(open_store(runs_dir, write=True), cfgs, launcher, detach, fuse, max_fused, notes)


def resume(run_ref: str = typer.Argument(..., metavar="RUN", help="Run id, id prefix or list number."),
           runs_dir: RunsDir = None, detach: Detach = False, backend: Backend = "local", gpus: Gpus = None,
           per_gpu: PerGpu = None, partition: Partition = None, time_limit: TimeLimit = None,
           gpus_per_job: GpusPerJob = None, slurm_config: SlurmConfig = None) -> None:
    """Continue a lost, cancelled or failed run (and its fused partners) from its checkpoint."""
    launcher = _launcher(BackendOptions(backend, gpus, per_gpu, None, dict(
        partition=partition, time=time_limit, gpus_per_job=gpus_per_job, config=slurm_config)))
    store = open_store(runs_dir)
    if store.root.is_dir():  # a mistyped folder is not created: the run is simply not found
        store = open_store(runs_dir, write=True)
    try:
        runs = resume_group(store, store.find(run_ref))
        before = [run.read_status() for run in runs]
        token = claim_group(runs)
    except DropoutTuiError as exc:  # not found, busy, in a state that cannot resume, damaged
        fail(str(exc))
    if not all(r.has_checkpoint() for r in runs):
        echo(f"{runs[0].run_id}: no checkpoint yet; starting over from epoch 1", err=True)
    if launcher.name != "local" or detach:
        try:
            note = launcher.start(store, [Group(runs, token)], resume=True)
        except ConfigError as exc:
            for run, status in zip(runs, before):  # refused: the runs stay as they were, resumable
                run.update_status_if(lambda now: now.get("claim") == token, **{**status, "claim": None})
            fail(str(exc))
        for run in runs:
            echo(run.run_id)
        echo(note, err=True)
        return
    _finish(store, runs, run_foreground(runs, resume=True, claim=token))
