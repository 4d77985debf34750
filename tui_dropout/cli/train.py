"""`train`, `study` and `resume`: in the foreground with a progress bar, or detached."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..config import ConfigError, RunConfig
from ..errors import DropoutTuiError
from ..export import pct
from ..fusion import fusable, group_lines
from ..launch import Group, Launched, LaunchOptions, Plan, claim_group, launcher_for, resume_group, start, start_groups
from ..launch.foreground import ForegroundLauncher
from ..launch.launchers import device_problem
from ..launch.plan import given, parse_grid, parse_seeds
from ..preflight import build_config, preflight
from ..states import State
from ..store import RunDir, RunStore
from ..store.notes import NotesError, check_name, check_note, check_tags
from .results import print_results
from ..safetext import safe
from .options import (echo, BatchSize, DataDir, Dataset, Detach, Device, Epochs, Lr, P, RunsDir, Seed, Sets, fail,
                      open_store, parse_sets, runs_dir_flag, runs_root)


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


@contextlib.contextmanager
def progress_bar(runs: list[RunDir], resume: bool):
    """How a foreground group shows its training: which folders (a new launch's), then a progress bar on stderr."""
    if not resume:
        for run in runs:
            echo(f"run {run.run_id} in {run.path}", err=True)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    names = ", ".join(r.run_id for r in runs)
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(names if len(runs) == 1 else f"{len(runs)} runs", total=None, info="starting")

        def show(event: dict[str, Any]) -> None:
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

        yield show


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
    "--max-fused", help="Runs packed into one fused trainer at most \\[8; 1 on a CPU queue slot].")]
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


def _launcher(options: LaunchOptions, detach: bool):
    """The launcher the options name (a local one trains here unless --detach), its options checked: one line
    and exit 2 when they are wrong."""
    try:
        return launcher_for(options, here=not detach, display=progress_bar)
    except ConfigError as exc:
        fail(str(exc))


def _notes(name: str | None, tags: list[str] | None, note: str | None) -> dict | None:
    """--name/--tag/--note checked before any folder is made."""
    if name is None and not tags and note is None:
        return None
    try:
        return {"name": check_name(name or ""), "tags": check_tags(tags or []), "note": check_note(note or "")}
    except NotesError as exc:
        fail(str(exc))


def _start(plan: Plan, launcher, runs_dir: Path | None) -> None:
    """Check every run as the form does, then start the plan: in this process with a progress bar (the foreground
    launcher), or detached, printing the run ids. The runs folder is made only once every run has passed."""
    try:
        cfgs = [preflight(cfg, plan.options.backend != "slurm") for cfg in plan.configs()]
        problem = next(filter(None, (device_problem(plan.options, cfg) for cfg in cfgs)), None)
        if problem:
            raise ConfigError(*problem)
    except ConfigError as exc:
        fail(str(exc))
    open_store(runs_dir, write=True)
    if isinstance(launcher, ForegroundLauncher):
        groups = plan.group_indices()
        if len(cfgs) > 1 and len(groups) > 1:
            why = ("--no-fuse" if not plan.options.fuse else fusable(cfgs)
                   or f"at most {plan.options.members} runs a fused trainer (--max-fused)")
            echo(f"{len(groups)} trainers one after another (not one fused pass: {why})", err=True)
            if plan.options.fuse:  # a mixed study: what shares a pass, and why each trainer stands apart
                for line in group_lines(cfgs, groups):
                    echo(f"  {line}", err=True)
    try:
        launched = start(plan, launcher)
    except DropoutTuiError as exc:  # a launcher that refuses (slurm: sbatch said no, a folder the nodes cannot see)
        fail(str(exc))
    except OSError as exc:  # the runs folder filled up or went read-only while the folders were made
        fail(f"runs_dir: {plan.store.root}: {exc.strerror or exc}", 1)
    if isinstance(launcher, ForegroundLauncher):
        _finish(plan.store, launched.runs, launcher.states)
        return
    _started(plan.store, launched)


def _started(store: RunStore, launched: Launched) -> None:
    """The ids of the runs that started, how, and one line for each group that did not (exit 1)."""
    for run in launched.started:
        echo(run.run_id)
    if launched.started:
        echo(f"{launched.note}; watch with: dropout-tui{runs_dir_flag(store)} (or dropout-tui runs)", err=True)
    for line in launched.failures():
        echo(f"error: {' '.join(safe(line).split())}", err=True)
    if launched.failed:
        raise typer.Exit(1)


def _bases(presets: list[str], overrides: dict[str, Any], grid: list[str] | None, seeds: str | None,
           local_device: bool = True) -> tuple[list[RunConfig], dict[str, list[Any]], list[int] | None]:
    bases = _configs(presets, overrides, local_device)
    try:
        return bases, parse_grid(grid), parse_seeds(seeds, bases[0].seed)
    except ConfigError as exc:
        fail(str(exc))


def _plan(runs_dir: Path | None, bases: list[RunConfig], grid: dict[str, list[Any]], seeds: list[int] | None,
          options: LaunchOptions, notes: dict | None) -> Plan:
    return Plan(RunStore(runs_root(runs_dir)), bases, grid, seeds, options, notes)


def train(preset: str = typer.Option(..., "--preset", help="Preset name (see `dropout-tui presets`)."),
          epochs: Epochs = None, p: P = None, lr: Lr = None, batch_size: BatchSize = None, dataset: Dataset = None,
          data_dir: DataDir = None, device: Device = None, seed: Seed = None, sets: Sets = None,
          runs_dir: RunsDir = None, detach: Detach = False, backend: Backend = "local", gpus: Gpus = None,
          per_gpu: PerGpu = None, partition: Partition = None, time_limit: TimeLimit = None,
          gpus_per_job: GpusPerJob = None, slurm_config: SlurmConfig = None, name: Name = None, tag: Tags = None,
          note: NoteText = None) -> None:
    """Train one run of a preset, with any field overridden."""
    notes = _notes(name, tag, note)
    options = LaunchOptions(backend, gpus, per_gpu, slurm=given(dict(
        partition=partition, time=time_limit, gpus_per_job=gpus_per_job, config=slurm_config)))
    launcher = _launcher(options, detach)
    cfgs = _configs([preset], _overrides(epochs, p, lr, batch_size, dataset, data_dir, device, seed, sets),
                    local_device=backend != "slurm")
    _start(_plan(runs_dir, cfgs, {}, None, options, notes), launcher, runs_dir)


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
    options = LaunchOptions(backend, gpus, per_gpu, max_fused, fuse, slurm=given(dict(
        partition=partition, time=time_limit, gpus_per_job=gpus_per_job, array_parallelism=array_parallelism,
        config=slurm_config)))
    launcher = _launcher(options, detach)
    bases, grid_values, seed_values = _bases(
        presets, _overrides(epochs, p, lr, batch_size, dataset, data_dir, device, seed, sets), grid, seeds,
        local_device=backend != "slurm")
    _start(_plan(runs_dir, bases, grid_values, seed_values, options, notes), launcher, runs_dir)


def resume(run_ref: str = typer.Argument(..., metavar="RUN", help="Run id, id prefix or list number."),
           runs_dir: RunsDir = None, detach: Detach = False, backend: Backend = "local", gpus: Gpus = None,
           per_gpu: PerGpu = None, partition: Partition = None, time_limit: TimeLimit = None,
           gpus_per_job: GpusPerJob = None, slurm_config: SlurmConfig = None) -> None:
    """Continue a lost, cancelled or failed run (and its fused partners) from its checkpoint."""
    launcher = _launcher(LaunchOptions(backend, gpus, per_gpu, slurm=given(dict(
        partition=partition, time=time_limit, gpus_per_job=gpus_per_job, config=slurm_config))), detach)
    store = open_store(runs_dir)
    if store.root.is_dir():  # a mistyped folder is not created: the run is simply not found
        store = open_store(runs_dir, write=True)
    try:
        runs = resume_group(store, store.find(run_ref), local_device=backend != "slurm")
        before = [run.read_status() for run in runs]
        token = claim_group(runs)
    except DropoutTuiError as exc:  # not found, busy, in a state that cannot resume, damaged
        fail(str(exc))
    if not all(r.has_checkpoint() for r in runs):
        echo(f"{runs[0].run_id}: no checkpoint yet; starting over from epoch 1", err=True)
    try:
        launched = start_groups(store, [Group(runs, token)], launcher, resume=True)
    except DropoutTuiError as exc:
        for run, status in zip(runs, before):  # refused: the runs stay as they were, resumable
            run.update_status_if(lambda now: now.get("claim") == token, **{**status, "claim": None})
        fail(str(exc))
    if isinstance(launcher, ForegroundLauncher):
        _finish(store, runs, launcher.states)
        return
    _started(store, launched)
