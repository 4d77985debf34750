"""The table of launchers, built from launch options: `launcher_for` is how the CLI and the console alike get the
launcher a plan's options name, and `options_from_text` reads the form's launch fields as the flags read. No torch."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..config import ConfigError, RunConfig
from .base import Launcher
from .foreground import Display, quiet
from .plan import LaunchOptions
from .process import Children


@dataclass
class Context:
    """What the caller lends a launcher: where the processes it starts are kept (the console reaps them) and how a
    foreground launch shows its progress (the CLI's progress bar)."""

    processes: Children = field(default_factory=Children)
    display: Display = quiet


def _foreground(options: LaunchOptions, context: Context) -> Launcher:
    from .foreground import ForegroundLauncher

    return ForegroundLauncher(context.display)


def _local(options: LaunchOptions, context: Context) -> Launcher:
    from .local import LocalLauncher

    return LocalLauncher(context.processes)


def _queue(options: LaunchOptions, context: Context) -> Launcher:
    from .queue import QueueLauncher, settings_from

    return QueueLauncher(settings_from(options.gpus, options.per_gpu, options.max_fused), fuse=options.fuse,
                         processes=context.processes)


def _slurm(options: LaunchOptions, context: Context) -> Launcher:
    from .slurm import SlurmLauncher

    slurm = dict(options.slurm)
    return SlurmLauncher.from_options(slurm.pop("config", None), **slurm)


# name -> how its launcher is built from the options. A new launcher is one module and one row here; `foreground`
# is `local` trained in the caller's own process (the CLI without --detach), as submitit's DebugExecutor is an
# Executor.
LAUNCHERS: dict[str, Callable[[LaunchOptions, Context], Launcher]] = {
    "foreground": _foreground, "local": _local, "queue": _queue, "slurm": _slurm}
BACKENDS = tuple(name for name in LAUNCHERS if name != "foreground")  # what --backend and the form offer


def launcher_for(options: LaunchOptions, here: bool = False, processes: Children | None = None,
                 display: Display = quiet) -> Launcher:
    """The launcher the options name, every option checked (ConfigError naming the field when one is wrong).

    `here`: a local launch trains in this process. `processes`: where the launcher keeps the processes it starts
    (the console passes the list its tick reaps). `display`: how a foreground launch shows each group's progress."""
    if options.backend not in BACKENDS:
        raise ConfigError("backend", f"unknown backend {options.backend!r} (choose from {', '.join(BACKENDS)})")
    options.check()
    name = "foreground" if here and options.backend == "local" else options.backend
    return LAUNCHERS[name](options, Context(processes if processes is not None else Children(), display))


def device_problem(options: LaunchOptions, cfg: RunConfig) -> tuple[str, str] | None:
    """What the backend refuses in a run's own settings: a fixed cuda:N on the queue, whose slots each give their
    trainer one GPU (as device cuda)."""
    if options.backend == "queue" and cfg.device.startswith("cuda:"):
        return "device", "the queue gives each trainer the one GPU of its slot: use auto or cuda, not a fixed cuda:N"
    return None


def _whole(name: str, text: str | None, errors: dict[str, str]) -> int | None:
    """A whole number typed in the form; empty is None (not given, as a flag left off)."""
    if text is None or not str(text).strip():
        return None
    try:
        return int(str(text).strip())
    except ValueError:
        errors[name] = f"{text!r} is not a whole number"
        return None


def options_from_text(text: dict[str, str], errors: dict[str, str]) -> LaunchOptions:
    """The form's launch fields (backend, gpus, per_gpu, max_fused), as typed, as the options the same flags give:
    an empty field is a flag left off, and the queue's fields count for the queue only (the form shows them for it
    alone). Slurm takes its settings from its file, as `--backend slurm` without flags does. Problems go into
    `errors` by field, all at once."""
    backend = (text.get("backend") or "local").strip()
    queue = backend == "queue"
    gpus = (text.get("gpus") or "").strip() or None
    per_gpu = _whole("per_gpu", text.get("per_gpu"), errors) if queue else None
    max_fused = _whole("max_fused", text.get("max_fused"), errors)
    options = LaunchOptions(backend, gpus if queue else None, per_gpu, max_fused)
    try:
        options.check()
    except ConfigError as exc:
        errors.setdefault(exc.field, exc.reason)
    return options
